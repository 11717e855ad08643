// PreprocessImage on real encoded images: only the header is read (ranged GETs), the size is checked, bad images are named.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import sharp from "sharp";
import { describe, it } from "vitest";
import { ImageChecksumError } from "../../functions/errors.ts";
import {
  HEADER_READ_BYTES,
  inspectImageBytes,
  preprocessImage,
  preprocessImageRef,
} from "../../functions/preprocess-image/core.ts";
import { ImageDecodeError, ImageSizeError } from "../../lib/image-errors.ts";
import { manifestImage, manifestText, s3Body, serviceError } from "../helpers/aws-fakes.ts";

async function ramp16(width: number, height: number, low: number, high: number): Promise<Buffer> {
  const pixels = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      pixels[y * width + x] = low + Math.round(((high - low) * x) / (width - 1));
  }
  return sharp(Buffer.from(pixels.buffer), { raw: { width, height, channels: 1 } })
    .toColourspace("grey16")
    .png()
    .toBuffer();
}

describe("inspectImageBytes", () => {
  it("reads format, size and bit depth from the header, nothing altered", async () => {
    const png = await ramp16(640, 600, 30000, 31000);
    assert.deepEqual(await inspectImageBytes(png), {
      format: "png",
      width: 640,
      height: 600,
      bitDepth: 16,
      bytes: png.length,
    });
    const tiff = await sharp({
      create: { width: 600, height: 520, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .tiff({ compression: "lzw" })
      .toBuffer();
    assert.deepEqual(await inspectImageBytes(tiff), {
      format: "tiff",
      width: 600,
      height: 520,
      bitDepth: 8,
      bytes: tiff.length,
    });
  });

  it("names bytes that are not an image", async () => {
    await assert.rejects(inspectImageBytes(Buffer.from("not an image at all")), ImageDecodeError);
  });

  it("refuses frames outside 512-8192 px", async () => {
    await assert.rejects(inspectImageBytes(await ramp16(300, 300, 0, 100)), ImageSizeError);
  });

  it("refuses formats other than PNG and TIFF", async () => {
    const jpeg = await sharp({
      create: { width: 600, height: 600, channels: 3, background: "#808080" },
    })
      .jpeg()
      .toBuffer();
    await assert.rejects(inspectImageBytes(jpeg), /unsupported image format 'jpeg'/);
  });
});

describe("preprocessImage", () => {
  const s3 = mockClient(S3Client);
  const input = async (bytes: Buffer, sha256?: string, fileName = "w.png") => ({
    lotId: "LOT-1",
    metadata: {},
    image: {
      fileName,
      key: `lots/LOT-1/images/${fileName}`,
      sha256: sha256 ?? createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
      contentType: fileName.endsWith(".tif") ? ("image/tiff" as const) : ("image/png" as const),
    },
  });
  const deps = () => ({ s3: new S3Client({ region: "us-east-1" }), bucket: "b" });
  /** Answers GetObject as S3 does, a Range with 206's Content-Range; records the ranges asked. */
  const serve = (bytes: Buffer) => {
    s3.reset();
    const ranges: Array<string | undefined> = [];
    s3.on(GetObjectCommand).callsFake((request: { Range?: string }) => {
      ranges.push(request.Range);
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.Range ?? "");
      if (!match) return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
      if (bytes.length === 0) throw serviceError("InvalidRange", 416);
      const start = Number(match[1]);
      const end = Math.min(bytes.length - 1, Number(match[2]));
      return {
        ContentRange: `bytes ${start}-${end}/${bytes.length}`,
        Body: { transformToByteArray: async () => new Uint8Array(bytes.subarray(start, end + 1)) },
      };
    });
    return ranges;
  };

  it("reads only the head of a PNG, by one ranged GET, and writes nothing", async () => {
    const png = await ramp16(2048, 2048, 0, 65535);
    assert.ok(png.length > HEADER_READ_BYTES);
    const ranges = serve(png);
    const result = await preprocessImage(await input(png), deps());
    assert.deepEqual(result, {
      format: "png",
      width: 2048,
      height: 2048,
      bitDepth: 16,
      bytes: png.length,
    });
    assert.deepEqual(ranges, [`bytes=0-${HEADER_READ_BYTES - 1}`]);
    assert.equal(s3.commandCalls(PutObjectCommand).length, 0);
  });

  it("reads a TIFF whose directory follows its pixels by two ranged GETs, not whole", async () => {
    const noise = Buffer.alloc(1200 * 1100);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const tiff = await sharp(noise, { raw: { width: 1200, height: 1100, channels: 1 } })
      .tiff({ compression: "lzw" })
      .toBuffer();
    const directory = tiff.readUInt32LE(4);
    assert.ok(directory > HEADER_READ_BYTES, `directory at ${directory}`);
    const ranges = serve(tiff);
    const result = await preprocessImage(await input(tiff, undefined, "w.tif"), deps());
    assert.deepEqual(result, {
      format: "tiff",
      width: 1200,
      height: 1100,
      bitDepth: 8,
      bytes: tiff.length,
    });
    assert.equal(ranges.length, 2);
    assert.ok(ranges.every((range) => range !== undefined));
  });

  it("fails the image, by name, when S3 holds another size than the manifest's", async () => {
    const png = await ramp16(600, 600, 0, 65535);
    serve(png);
    const listed = await input(Buffer.concat([png, Buffer.from("tail")]));
    await assert.rejects(preprocessImage(listed, deps()), {
      name: "ImageChecksumError",
      message: `image w.png is ${png.length} bytes in S3, the manifest says ${png.length + 4}`,
    });
    serve(Buffer.alloc(0));
    await assert.rejects(preprocessImage(await input(png), deps()), ImageChecksumError);
  });

  it("leaves the SHA-256 to the endpoint: same-size bytes pass here (the endpoint refuses them)", async () => {
    const png = await ramp16(600, 600, 0, 65535);
    serve(png);
    const result = await preprocessImage(await input(png, "0".repeat(64)), deps());
    assert.equal(result.width, 600);
  });

  it("reads the whole object when the head and directory cannot settle the header", async () => {
    const bytes = Buffer.alloc(HEADER_READ_BYTES + 10, 7);
    const ranges = serve(bytes);
    await assert.rejects(preprocessImage(await input(bytes), deps()), ImageDecodeError);
    assert.deepEqual(ranges, [`bytes=0-${HEADER_READ_BYTES - 1}`, undefined]);
  });
});

describe("preprocessImage's failures, by name", () => {
  const s3 = mockClient(S3Client);
  const deps = () => ({ s3: new S3Client({ region: "us-east-1" }), bucket: "b" });
  const task = (image: ReturnType<typeof manifestImage>) => ({
    lotId: "LOT-P",
    metadata: {},
    image,
  });

  it("names a header that is no image, though its checksum matches", async () => {
    s3.reset();
    const image = manifestImage("LOT-P", "w.png", "these bytes are no PNG");
    s3.on(GetObjectCommand).resolves(s3Body("these bytes are no PNG"));
    await assert.rejects(preprocessImage(task(image), deps()), ImageDecodeError);
  });

  it("names an image the manifest lists but S3 does not have", async () => {
    s3.reset();
    s3.on(GetObjectCommand).rejects(serviceError("NoSuchKey", 404));
    const image = manifestImage("LOT-P", "gone.png");
    await assert.rejects(preprocessImage(task(image), deps()), {
      name: "ImageMissingError",
      message: "image gone.png is listed in the manifest but not in S3",
    });
  });

  it("lets an S3 outage out as TransientDependencyError, not as a missing image", async () => {
    s3.reset();
    s3.on(GetObjectCommand).rejects(serviceError("ServiceUnavailable", 503));
    await assert.rejects(preprocessImage(task(manifestImage("LOT-P", "w.png")), deps()), {
      name: "TransientDependencyError",
    });
  });
});

describe("preprocessImageRef", () => {
  const s3 = mockClient(S3Client);
  const deps = () => ({ s3: new S3Client({ region: "us-east-1" }), bucket: "b" });
  const manifestKey = "lots/LOT-P/accepted-manifest.json";

  it("resolves the index to its image, names it at once, and hands DetectDefects the header", async () => {
    const png = await ramp16(600, 512, 0, 65535);
    const images = [manifestImage("LOT-P", "a.png"), manifestImage("LOT-P", "b.png", png)];
    const manifest = manifestText("LOT-P", images);
    s3.reset();
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    s3.on(GetObjectCommand, { Key: images[1]?.key }).resolves(s3Body(png));
    const named: string[] = [];
    const ref = { lotId: "LOT-P", manifestKey, manifestSha256: manifest.sha256, index: 1 };
    const result = await preprocessImageRef(ref, deps(), (image) => named.push(image.fileName));
    assert.deepEqual(named, ["b.png"]);
    assert.deepEqual(result, {
      lotId: "LOT-P",
      metadata: { waferDiameterMm: 300 },
      image: images[1],
      index: 1,
      preprocessed: { format: "png", width: 600, height: 512, bitDepth: 16, bytes: png.length },
    });
  });

  it("refuses an index the manifest does not have, and a manifest replaced since RecordLot", async () => {
    const manifest = manifestText("LOT-P", [manifestImage("LOT-P", "only.png")]);
    s3.reset();
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    const ref = { lotId: "LOT-P", manifestKey, manifestSha256: manifest.sha256, index: 3 };
    await assert.rejects(preprocessImageRef(ref, deps()), {
      name: "ImageIndexError",
      message: /has 1 images; there is no image 3/,
    });
    await assert.rejects(preprocessImageRef({ ...ref, manifestSha256: "e".repeat(64) }, deps()), {
      name: "ManifestChangedError",
    });
  });
});
