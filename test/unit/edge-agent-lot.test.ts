// Unit tests of lot scanning: image detection, checksums, lot.json errors, key clashes, generated ids.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import {
  detectContentType,
  generateLotId,
  hashFile,
  readLotFile,
  scanLot,
} from "../../edge-agent/lot.ts";
import { LotIdSchema } from "../../schemas/common.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TIFF_LE = Buffer.from([0x49, 0x49, 0x2a, 0x00]);
const TIFF_BE = Buffer.from([0x4d, 0x4d, 0x00, 0x2a]);
const BIGTIFF = Buffer.from([0x49, 0x49, 0x2b, 0x00]);

describe("detectContentType", () => {
  test("reads PNG and TIFF (both byte orders, BigTIFF) from the signature", () => {
    assert.equal(detectContentType(PNG), "image/png");
    assert.equal(detectContentType(TIFF_LE), "image/tiff");
    assert.equal(detectContentType(TIFF_BE), "image/tiff");
    assert.equal(detectContentType(BIGTIFF), "image/tiff");
  });
  test("refuses everything else, including truncated signatures", () => {
    assert.equal(detectContentType(Buffer.from("GIF89a")), undefined);
    assert.equal(detectContentType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), undefined);
    assert.equal(detectContentType(PNG.subarray(0, 7)), undefined);
    assert.equal(detectContentType(Buffer.alloc(0)), undefined);
    assert.equal(detectContentType(Buffer.from([0x49, 0x49, 0x2a, 0x01])), undefined);
  });
});

describe("generateLotId", () => {
  test("is LOT-<UTC date>-<UTC time>-<6 base32> and a valid lot id", () => {
    const id = generateLotId(new Date("2026-03-04T05:06:07.890Z"), () =>
      Uint8Array.from([0, 1, 25, 26, 31, 255]),
    );
    assert.equal(id, "LOT-20260304-050607-ABZ277");
    assert.ok(LotIdSchema.safeParse(id).success);
  });
  test("differs between two lots of the same second", () => {
    const now = new Date();
    assert.notEqual(generateLotId(now), generateLotId(now));
  });
});

describe("scanLot", () => {
  let work: string;
  let n = 0;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "waferflow-scan-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  async function lot(files: Record<string, Buffer | string>): Promise<string> {
    const dir = join(work, `lot-${++n}`);
    await mkdir(dir);
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    return dir;
  }

  test("takes PNG/TIFF by extension and signature, rejects impostors, ignores the rest", async () => {
    const png = Buffer.concat([PNG, randomBytes(300_000)]);
    const dir = await lot({
      "b.PNG": png,
      "a.tiff": Buffer.concat([TIFF_BE, randomBytes(10)]),
      "c.Tif": Buffer.concat([TIFF_LE, randomBytes(10)]),
      "tiff-in-png-clothes.png": Buffer.concat([TIFF_LE, randomBytes(10)]),
      "jpeg.png": Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
      "empty.png": "",
      "photo.jpg": Buffer.concat([PNG, randomBytes(10)]),
      ".hidden.png": Buffer.concat([PNG, randomBytes(10)]),
      "readme.txt": "hello",
    });
    await mkdir(join(dir, "sub.png"));
    await symlink(join(dir, "b.PNG"), join(dir, "link.png"));

    const scan = await scanLot(dir);

    assert.deepEqual(
      scan.images.map((i) => [i.fileName, i.contentType]),
      [
        ["a.tiff", "image/tiff"],
        ["b.PNG", "image/png"],
        ["c.Tif", "image/tiff"],
        ["tiff-in-png-clothes.png", "image/tiff"],
      ],
    );
    const b = scan.images.find((i) => i.fileName === "b.PNG");
    assert.equal(b?.sha256, createHash("sha256").update(png).digest("hex"));
    assert.equal(b?.bytes, png.length);
    assert.equal(b?.path, join(dir, "b.PNG"));
    assert.deepEqual(
      scan.rejected.map((r) => r.fileName),
      ["empty.png", "jpeg.png"],
    );
    assert.match(
      scan.rejected.find((r) => r.fileName === "jpeg.png")?.reason ?? "",
      /neither PNG nor TIFF.*ffd8ffe0/,
    );
    assert.deepEqual(scan.ignored.sort(), [
      ".hidden.png",
      "link.png",
      "photo.jpg",
      "readme.txt",
      "sub.png",
    ]);
    assert.equal(scan.lotFile, undefined);
    assert.deepEqual(scan.metadata, {});
  });

  test("sanitises names into key segments and fails when two share a key", async () => {
    const ok = await scanLot(await lot({ "wafer #1.png": PNG }));
    assert.equal(ok.images[0]?.segment, "wafer_1.png");
    await assert.rejects(
      scanLot(await lot({ "wafer 1.png": PNG, "wafer#1.png": PNG })),
      (error: Error) =>
        error.name === "DuplicateKeyError" &&
        error.message.includes("'wafer 1.png'") &&
        error.message.includes("'wafer#1.png'") &&
        error.message.includes("wafer_1.png"),
    );
  });

  test("reads lot.json metadata and lot id", async () => {
    const dir = await lot({
      "a.png": PNG,
      "lot.json": JSON.stringify({ lotId: "LOT-A1", product: "X", diePitchMm: { x: 10, y: 12 } }),
    });
    const scan = await scanLot(dir);
    assert.equal(scan.lotFile?.lotId, "LOT-A1");
    assert.deepEqual(scan.metadata, { product: "X", diePitchMm: { x: 10, y: 12 } });
  });

  test("a bad lot.json names the file and the field", async () => {
    const cases: Array<[string, RegExp]> = [
      ["{ not json", /lot\.json: not valid JSON/],
      [JSON.stringify({ waferDiameterMm: 450 }), /lot\.json: field 'waferDiameterMm'/],
      [JSON.stringify({ lotId: "../etc" }), /lot\.json: field 'lotId'/],
      [JSON.stringify({ notchAngleDeg: 360 }), /lot\.json: field 'notchAngleDeg'/],
      [JSON.stringify({ reciepe: "typo" }), /lot\.json: field '\(root\)'.*reciepe/],
      [JSON.stringify([1, 2]), /lot\.json: field '\(root\)'/],
    ];
    for (const [text, pattern] of cases) {
      const dir = await lot({ "a.png": PNG, "lot.json": text });
      await assert.rejects(
        scanLot(dir),
        (error: Error) =>
          error.name === "LotFileError" &&
          error.message.includes(join(dir, "lot.json")) &&
          pattern.test(error.message),
        text,
      );
    }
  });

  test("a missing directory is a LotDirectoryError naming it", async () => {
    const missing = join(work, "nope");
    await assert.rejects(
      scanLot(missing),
      (error: Error) => error.name === "LotDirectoryError" && error.message.includes(missing),
    );
    await assert.rejects(readLotFile(join(missing, "lot.json")), { name: "LotFileError" });
  });

  test("hashFile streams: checksum and head match the whole content", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 5);
    const dir = await lot({ "x.bin": content });
    const hashed = await hashFile(join(dir, "x.bin"));
    assert.equal(hashed.sha256, createHash("sha256").update(content).digest("hex"));
    assert.equal(hashed.bytes, content.length);
    assert.deepEqual(hashed.head, content.subarray(0, 8));
    const whole = await hashFile(join(dir, "x.bin"), undefined, { whole: true });
    assert.deepEqual(whole, hashed, "read whole (SHA-256 off the main thread): the same answer");
  });

  test("scanLot hashes files read whole and streamed alike (wholeUpToBytes)", async () => {
    const small = Buffer.concat([PNG, randomBytes(1000)]);
    const large = Buffer.concat([PNG, randomBytes(5000)]);
    const scan = await scanLot(await lot({ "small.png": small, "large.png": large }), {
      wholeUpToBytes: 2000,
    });
    const byName = new Map(scan.images.map((image) => [image.fileName, image]));
    assert.equal(byName.get("small.png")?.sha256, createHash("sha256").update(small).digest("hex"));
    assert.equal(byName.get("large.png")?.sha256, createHash("sha256").update(large).digest("hex"));
    assert.equal(byName.get("small.png")?.bytes, small.length);
    assert.equal(byName.get("large.png")?.contentType, "image/png");
  });
});
