// The edge agent against a real S3 server: integrity, manifest order, idempotence, resume, changed sources.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, test } from "vitest";
import { journalPath, loadJournal, writeJournalAtomically } from "../../edge-agent/journal.ts";
import { type UploadLotOptions, type UploadProgress, uploadLot } from "../../edge-agent/upload.ts";
import { lotKeys } from "../../lib/keys.ts";
import { ManifestSchema } from "../../schemas/lot.ts";
import { startS3rver, type TestS3 } from "./helpers/s3rver.ts";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TIFF_SIGNATURE = Buffer.from([0x49, 0x49, 0x2a, 0x00]);
const PART = 64 * 1024;
const SMALL_PARTS = {
  partSizeBytes: PART,
  multipartThresholdBytes: 2 * PART,
  allowSmallParts: true,
  retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
};

function fakeImage(signature: Buffer, bytes: number): Buffer {
  return Buffer.concat([signature, randomBytes(bytes - signature.length)]);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Counts the S3 commands a client sends, by name, as the agent issues them. */
function countCommands(client: S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "(unnamed)";
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  return counts;
}

async function download(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array()));
}

describe("uploadLot against s3rver", () => {
  let s3: TestS3;

  /** uploadLot into the test bucket with small parts; each test adds the client and options it is about. */
  const upload = (options: Omit<UploadLotOptions, "bucket">) =>
    uploadLot({ bucket: s3.bucket, ...SMALL_PARTS, ...options });

  /** A client whose process "dies" (the upload's signal aborts) once S3 has answered `parts` parts. */
  function clientCrashingAfterParts(parts: number) {
    const client = s3.client();
    const crash = new AbortController();
    let answered = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        if (context.commandName === "UploadPartCommand" && ++answered === parts) {
          crash.abort(new Error("simulated crash"));
        }
        return output;
      },
      { step: "initialize", name: `crashAfter${parts}Parts` },
    );
    return { client, crash };
  }
  let work: string;
  let lotCounter = 0;

  beforeAll(async () => {
    s3 = await startS3rver();
    work = await mkdtemp(join(tmpdir(), "waferflow-agent-it-"));
  });
  afterAll(async () => {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function makeLot(
    files: Record<string, Buffer | string>,
  ): Promise<{ dir: string; stateDir: string }> {
    lotCounter++;
    const dir = join(work, `lot-${lotCounter}`);
    await mkdir(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    return { dir, stateDir: join(work, `state-${lotCounter}`) };
  }

  test("uploads every image intact, then the manifest last", async () => {
    const images = {
      "wafer 01.png": fakeImage(PNG_SIGNATURE, 10_000),
      "wafer02.TIF": fakeImage(TIFF_SIGNATURE, 50_000),
      "big.tiff": fakeImage(TIFF_SIGNATURE, 5 * PART + 123),
    };
    const { dir, stateDir } = await makeLot({
      ...images,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-FULL", product: "P1", waferDiameterMm: 300 }),
      "notes.txt": "operator notes",
      "renamed.png": "this is not an image",
      ".DS_Store": "x",
    });
    const client = s3.client();
    const eventsBefore = s3.events.length;
    // The payload hash each whole-object PUT was signed with, by key, as it went on the wire.
    const signedPayloads = new Map<string, string | undefined>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { path?: string; headers?: Record<string, string> };
        if (context.commandName === "PutObjectCommand" && request.path?.includes("/images/")) {
          const key = decodeURIComponent(request.path).replace(`/${s3.bucket}/`, "");
          signedPayloads.set(key, request.headers?.["x-amz-content-sha256"]);
        }
        return next(args);
      },
      { step: "deserialize", name: "signedPayloadHash" },
    );

    const progress: UploadProgress[] = [];
    const result = await upload({
      dir,
      s3: client,
      stateDir,
      onProgress: (event) => progress.push(event),
    });

    assert.equal(result.lotId, "LOT-IT-FULL");
    // Each image hashed before it is sent and reported as S3 holds it; the scan's end once (a new
    // lot is sent while it is scanned, so it may come before or after the images).
    const order = progress.map((event) =>
      event.kind === "scanned"
        ? `scanned:${event.images}`
        : event.kind === "manifest"
          ? `manifest:${event.key}`
          : `${event.kind}:${event.fileName}`,
    );
    // The manifest last, once every image is in S3.
    assert.equal(order.at(-1), "manifest:lots/LOT-IT-FULL/manifest.json", order.join(", "));
    assert.deepEqual(
      order.filter((e) => e.startsWith("scanned")),
      ["scanned:3"],
    );
    for (const fileName of Object.keys(images)) {
      const hashed = order.indexOf(`hashed:${fileName}`);
      assert.ok(hashed >= 0 && hashed < order.indexOf(`image:${fileName}`), order.join(", "));
    }
    assert.deepEqual(
      progress
        .flatMap((event) => (event.kind === "image" ? [`${event.fileName}:${event.outcome}`] : []))
        .sort(),
      ["big.tiff:uploaded", "wafer 01.png:uploaded", "wafer02.TIF:uploaded"],
    );
    assert.equal(result.manifestKey, "lots/LOT-IT-FULL/manifest.json");
    assert.equal(result.uploaded, 3);
    assert.equal(result.skipped, 0);
    assert.equal(result.manifestWritten, true);
    assert.deepEqual(
      result.rejected.map((r) => r.fileName),
      ["renamed.png"],
    );
    assert.match(result.rejected[0]?.reason ?? "", /neither PNG nor TIFF/);
    assert.deepEqual(result.ignored.sort(), [".DS_Store", "notes.txt"]);

    for (const [fileName, content] of Object.entries(images)) {
      const key = lotKeys.image("LOT-IT-FULL", fileName);
      const stored = await download(client, s3.bucket, key);
      assert.equal(sha256(stored), sha256(content), `${fileName} arrived intact`);
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
      assert.equal(head.Metadata?.sha256, sha256(content));
      if (content.length < SMALL_PARTS.multipartThresholdBytes) {
        // The agent's own SHA-256 is the signed payload hash (the SDK does not hash it again).
        assert.equal(signedPayloads.get(key), sha256(content), `${fileName} signed with its hash`);
      }
    }
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: lotKeys.image("LOT-IT-FULL", "big.tiff") }),
    );
    assert.equal(head.ContentType, "image/tiff");

    const manifest = ManifestSchema.parse(
      JSON.parse((await download(client, s3.bucket, result.manifestKey)).toString("utf8")),
    );
    assert.deepEqual(manifest, result.manifest);
    assert.deepEqual(manifest.metadata, { product: "P1", waferDiameterMm: 300 });
    assert.match(manifest.source.agent, /^waferflow-edge-agent\/\d+\.\d+\.\d+/);
    assert.deepEqual(
      manifest.images.map((i) => [i.fileName, i.key, i.sha256, i.bytes, i.contentType]),
      [
        [
          "big.tiff",
          "lots/LOT-IT-FULL/images/big.tiff",
          sha256(images["big.tiff"]),
          images["big.tiff"].length,
          "image/tiff",
        ],
        [
          "wafer 01.png",
          "lots/LOT-IT-FULL/images/wafer_01.png",
          sha256(images["wafer 01.png"]),
          10_000,
          "image/png",
        ],
        [
          "wafer02.TIF",
          "lots/LOT-IT-FULL/images/wafer02.TIF",
          sha256(images["wafer02.TIF"]),
          50_000,
          "image/tiff",
        ],
      ],
    );

    await s3.waitForCreated(result.manifestKey, eventsBefore);
    const created = s3.events
      .slice(eventsBefore)
      .filter((e) => e.eventName.startsWith("ObjectCreated"));
    assert.deepEqual(
      created.map((e) => e.key).sort(),
      [...manifest.images.map((i) => i.key), result.manifestKey].sort(),
    );
    assert.equal(
      created.at(-1)?.key,
      result.manifestKey,
      "the manifest is the last object created",
    );
  });

  test("a second run over a finished lot only confirms", async () => {
    const { dir, stateDir } = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 3000),
      "b.png": fakeImage(PNG_SIGNATURE, 3 * PART),
    });
    const first = await upload({
      dir,
      s3: s3.client(),
      stateDir,
    });
    assert.match(first.lotId, /^LOT-\d{8}-\d{6}-[A-Z2-7]{6}$/);
    // The first run's events may still be on their way from the S3 process: all are in once its
    // manifest's (the last object it created) is.
    await s3.waitForCreated(first.manifestKey);
    const eventsAfterFirst = s3.events.length;

    const client = s3.client();
    const counts = countCommands(client);
    const outcomes: string[] = [];
    const second = await upload({
      dir,
      s3: client,
      stateDir,
      onProgress: (event) => {
        if (event.kind === "image") outcomes.push(`${event.fileName}:${event.outcome}`);
      },
    });
    assert.deepEqual(outcomes.sort(), ["a.png:skipped", "b.png:skipped"]);

    assert.equal(second.lotId, first.lotId, "the generated lot id is kept across runs");
    assert.equal(second.uploaded, 0);
    assert.equal(second.skipped, 2);
    assert.equal(second.manifestWritten, false);
    assert.deepEqual(second.manifest, first.manifest);
    assert.equal(s3.events.length, eventsAfterFirst, "nothing was written");
    for (const name of ["PutObjectCommand", "UploadPartCommand", "CreateMultipartUploadCommand"]) {
      assert.equal(counts.get(name) ?? 0, 0, `${name} sent on a finished lot`);
    }

    const forced = await upload({
      dir,
      s3: client,
      stateDir,
      force: true,
    });
    assert.equal(forced.manifestWritten, true);
    assert.equal(forced.uploaded, 0);
    // The manifest written again, and nothing else.
    assert.equal(await s3.waitForCreated(forced.manifestKey, eventsAfterFirst), eventsAfterFirst);
    assert.equal(s3.events.length, eventsAfterFirst + 1);
  });

  test("a crash mid-multipart resumes without re-sending finished parts", async () => {
    const big = fakeImage(PNG_SIGNATURE, 8 * PART + 77);
    const { dir, stateDir } = await makeLot({
      "big.png": big,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-RESUME" }),
    });
    const { client: crashing, crash } = clientCrashingAfterParts(3);
    await assert.rejects(
      upload({
        dir,
        s3: crashing,
        stateDir,
        concurrency: 1,
        signal: crash.signal,
      }),
      /simulated crash/,
    );
    const journal = await loadJournal(journalPath(stateDir, dir));
    assert.equal(journal?.files["big.png"]?.multipart?.parts.length, 3, "three parts journalled");
    assert.equal(journal?.manifest, undefined);

    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({
      dir,
      s3: client,
      stateDir,
      concurrency: 1,
    });

    assert.equal(result.uploaded, 1);
    assert.equal(
      counts.get("CreateMultipartUploadCommand") ?? 0,
      0,
      "the multipart upload was continued",
    );
    assert.equal(counts.get("UploadPartCommand"), 9 - 3, "only the missing parts were sent");
    const stored = await download(client, s3.bucket, lotKeys.image("LOT-IT-RESUME", "big.png"));
    assert.equal(sha256(stored), sha256(big));
  });

  test("a process killed mid-multipart resumes from its journal", async () => {
    const big = fakeImage(PNG_SIGNATURE, 20 * PART);
    const { dir, stateDir } = await makeLot({
      "big.png": big,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-KILLED" }),
    });
    const child = spawn(
      process.execPath,
      [
        // Node's stripped text remembered between starts, as `waferflow` does.
        "--import",
        fileURLToPath(new URL("../../lib/strip-types-cache.mjs", import.meta.url)),
        fileURLToPath(new URL("./helpers/edge-agent-upload-child.ts", import.meta.url)),
        JSON.stringify({
          dir,
          stateDir,
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          partSizeBytes: PART,
          pauseAfterPartMs: 40,
        }),
      ],
      { stdio: "inherit" },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    const path = journalPath(stateDir, dir);
    // Wait (without a deadline: the test runner has one) until three parts are on record, then kill -9.
    for (;;) {
      const journal = await loadJournal(path).catch(() => undefined);
      if ((journal?.files["big.png"]?.multipart?.parts.length ?? 0) >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL", "the child was killed, not finished");

    const journalled = (await loadJournal(path))?.files["big.png"]?.multipart?.parts.length ?? 0;
    assert.ok(journalled >= 3 && journalled < 20);
    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({
      dir,
      s3: client,
      stateDir,
      partSizeBytes: PART,
      multipartThresholdBytes: PART,
      concurrency: 1,
    });
    assert.equal(result.uploaded, 1);
    assert.equal(counts.get("CreateMultipartUploadCommand") ?? 0, 0);
    assert.equal(
      counts.get("UploadPartCommand"),
      20 - journalled,
      "only parts not on record were sent",
    );
    assert.equal(
      sha256(await download(client, s3.bucket, lotKeys.image("LOT-IT-KILLED", "big.png"))),
      sha256(big),
    );
  });

  test("a new lot sent while it is scanned, crashed after some images, resumes with the rest and the manifest last", async () => {
    const files = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`w${i}.png`, fakeImage(PNG_SIGNATURE, 20_000 + i)]),
    );
    const { dir, stateDir } = await makeLot({
      ...files,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-OVERLAP" }),
    });
    // The process "dies" once S3 has answered three image PUTs.
    const crashing = s3.client();
    const crash = new AbortController();
    let answered = 0;
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        if (context.commandName === "PutObjectCommand" && ++answered === 3) {
          crash.abort(new Error("simulated crash"));
        }
        return output;
      },
      { step: "initialize", name: "crashAfterThreePuts" },
    );
    const eventsBefore = s3.events.length;
    await assert.rejects(
      upload({ dir, s3: crashing, stateDir, concurrency: 1, signal: crash.signal }),
      /simulated crash/,
    );
    // What S3 holds of the lot, asked of S3 itself: its creation events come over IPC beside the
    // answers, so the last image's may not have arrived yet.
    const listed = await s3
      .client()
      .send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "lots/LOT-IT-OVERLAP/" }));
    const sent = (listed.Contents ?? []).map((object) => object.Key ?? "");
    assert.ok(
      sent.length >= 3 && sent.length < 8,
      `${sent.length} images went out before the crash`,
    );
    assert.ok(!sent.some((key) => key.endsWith("manifest.json")), "no manifest before the crash");
    const journal = await loadJournal(journalPath(stateDir, dir));
    assert.equal(journal?.lotId, "LOT-IT-OVERLAP", "the lot id was on disk before any image");
    assert.equal(journal?.manifest, undefined);
    for (const key of sent) {
      assert.ok(
        Object.values(journal?.files ?? {}).some((file) => file.key === key),
        `${key} was in the journal`,
      );
    }

    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({ dir, s3: client, stateDir });
    assert.equal(result.skipped, sent.length, "what went out before the crash is not sent again");
    assert.equal(result.uploaded, 8 - sent.length);
    assert.equal(counts.get("PutObjectCommand"), 8 - sent.length + 1, "the rest and the manifest");
    const manifestAt = await s3.waitForCreated(result.manifestKey, eventsBefore);
    assert.equal(manifestAt, s3.events.length - 1, "the manifest is the last object created");
    for (const [fileName, content] of Object.entries(files)) {
      const stored = await download(client, s3.bucket, lotKeys.image("LOT-IT-OVERLAP", fileName));
      assert.equal(sha256(stored), sha256(content), `${fileName} arrived intact`);
    }
  });

  test("a new folder under a lot id S3 already holds is scanned whole first: the same lot sends nothing, another is refused before any byte", async () => {
    const images = {
      "a.png": fakeImage(PNG_SIGNATURE, 20_000),
      "b.png": fakeImage(PNG_SIGNATURE, 30_000),
    };
    const lotFile = JSON.stringify({ lotId: "LOT-IT-TAKEN" });
    const first = await makeLot({ ...images, "lot.json": lotFile });
    await upload({ ...first, s3: s3.client() });

    // The same images from another folder (no journal): confirmed against the manifest, not sent.
    const again = await makeLot({ ...images, "lot.json": lotFile });
    const client = s3.client();
    const counts = countCommands(client);
    const same = await upload({ ...again, s3: client });
    assert.equal(same.manifestWritten, false);
    assert.equal(counts.get("PutObjectCommand") ?? 0, 0, "nothing sent");

    // Other content under the same id: refused, and nothing of it goes up (not even as it is hashed).
    const other = await makeLot({ "a.png": fakeImage(PNG_SIGNATURE, 20_000), "lot.json": lotFile });
    const otherClient = s3.client();
    const otherCounts = countCommands(otherClient);
    await assert.rejects(
      upload({ ...other, s3: otherClient }),
      (error: Error) => error.name === "LotIdTakenError" && /already taken/.test(error.message),
    );
    assert.equal(otherCounts.get("PutObjectCommand") ?? 0, 0, "no byte went up");
  });

  test("a source file changed between runs is uploaded again from the start", async () => {
    const small = fakeImage(PNG_SIGNATURE, 2000);
    const big = fakeImage(TIFF_SIGNATURE, 6 * PART);
    const { dir, stateDir } = await makeLot({ "a-small.png": small, "big.tif": big });
    const { client: crashing, crash } = clientCrashingAfterParts(2);
    await assert.rejects(
      upload({
        dir,
        s3: crashing,
        stateDir,
        concurrency: 1,
        signal: crash.signal,
      }),
    );
    const before = await loadJournal(journalPath(stateDir, dir));
    assert.equal(
      before?.files["a-small.png"]?.done,
      true,
      "the small file was finished before the crash",
    );

    const newSmall = fakeImage(PNG_SIGNATURE, 2500);
    const newBig = fakeImage(TIFF_SIGNATURE, 6 * PART);
    await writeFile(join(dir, "a-small.png"), newSmall);
    await writeFile(join(dir, "big.tif"), newBig);

    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({
      dir,
      s3: client,
      stateDir,
      concurrency: 1,
    });

    assert.equal(result.lotId, before?.lotId);
    assert.equal(result.uploaded, 2);
    assert.equal(counts.get("CreateMultipartUploadCommand"), 1, "a fresh multipart upload");
    assert.equal(counts.get("UploadPartCommand"), 6, "every part of the new content");
    for (const [name, content] of [
      ["a-small.png", newSmall],
      ["big.tif", newBig],
    ] as const) {
      const stored = await download(client, s3.bucket, lotKeys.image(result.lotId, name));
      assert.equal(sha256(stored), sha256(content), `${name} holds the new content`);
    }
    assert.equal(
      result.manifest.images.find((i) => i.fileName === "a-small.png")?.sha256,
      sha256(newSmall),
    );
  });

  test("objects sent before a crash lost the journal's record are found, not sent again", async () => {
    const { dir, stateDir } = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 4000),
      "b.png": fakeImage(PNG_SIGNATURE, 3 * PART),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-LOSTJOURNAL" }),
    });
    await upload({ dir, s3: s3.client(), stateDir });
    // As if the process died after S3 stored the objects but before the journal said so.
    const path = journalPath(stateDir, dir);
    const journal = await loadJournal(path);
    assert.ok(journal);
    for (const file of Object.values(journal.files)) file.done = false;
    journal.manifest = undefined;
    await writeJournalAtomically(path, journal);

    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({
      dir,
      s3: client,
      stateDir,
    });
    assert.equal(result.uploaded, 0);
    assert.equal(result.skipped, 2);
    // The manifest in S3 is this very lot: writing it again would only start it twice.
    assert.equal(result.manifestWritten, false);
    assert.equal(counts.get("PutObjectCommand") ?? 0, 0, "nothing is sent again");
    assert.equal(counts.get("UploadPartCommand") ?? 0, 0);
  });

  test("a new lot whose journal cannot be written sends nothing and fails naming the journal", async () => {
    const { dir, stateDir } = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 4000),
      "b.png": fakeImage(PNG_SIGNATURE, 3 * PART),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-NOJOURNAL" }),
    });
    const client = s3.client();
    const counts = countCommands(client);
    const hashed: string[] = [];
    await assert.rejects(
      upload({
        dir,
        s3: client,
        stateDir,
        onProgress: (event) => {
          if (event.kind !== "hashed") return;
          // Told as the first image is hashed, while its journal write is under way (the scan
          // does not wait for it): a directory where the journal goes fails that write's rename.
          if (hashed.length === 0) mkdirSync(journalPath(stateDir, dir));
          hashed.push(event.fileName);
        },
      }),
      (error: Error) => error.name === "JournalError" && /cannot be written/.test(error.message),
    );
    // Nothing went to S3: every send waits for the journal.
    for (const command of ["PutObjectCommand", "CreateMultipartUploadCommand", "UploadPartCommand"])
      assert.equal(counts.get(command) ?? 0, 0, command);
  });

  test("a new lot's small images go out in one conditional PUT each, no HEAD before or after", async () => {
    const { dir, stateDir } = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 4000),
      "b.png": fakeImage(PNG_SIGNATURE, 100),
      "c.png": fakeImage(PNG_SIGNATURE, 3 * PART),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-NOHEADFIRST" }),
    });
    const client = s3.client();
    const counts = countCommands(client);
    const result = await upload({
      dir,
      s3: client,
      stateDir,
    });
    assert.equal(result.uploaded, 3);
    // The local S3 answers a PUT with the x-amz-checksum-sha256 it checked the body against, as S3
    // does: that confirms a.png and b.png. The multipart image (c.png) keeps its HEAD after, and its HEAD before,
    // so a part-by-part resend is never started for bytes already there.
    assert.equal(counts.get("HeadObjectCommand") ?? 0, 2);
    assert.equal(counts.get("PutObjectCommand") ?? 0, 2 + 1, "a.png, b.png and the manifest");
  });

  test("a new journal over images already in S3 (no manifest yet) finds them by the conditional PUT", async () => {
    const files = {
      "a.png": fakeImage(PNG_SIGNATURE, 4000),
      "b.png": fakeImage(PNG_SIGNATURE, 100),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-NEWJOURNAL" }),
    };
    const first = await makeLot(files);
    await upload({ ...first, s3: s3.client() });
    const client = s3.client();
    // As if another agent (another state directory) sent the images and died before the manifest.
    await client.send(
      new DeleteObjectCommand({ Bucket: s3.bucket, Key: lotKeys.manifest("LOT-IT-NEWJOURNAL") }),
    );
    const second = await makeLot(files);
    const counts = countCommands(client);
    const result = await upload({ ...second, s3: client });
    assert.equal(result.uploaded, 0);
    assert.equal(result.skipped, 2);
    assert.equal(result.manifestWritten, true);
    // Each image: its conditional PUT refused (412), then one HEAD finding the same bytes.
    assert.equal(counts.get("PutObjectCommand") ?? 0, 2 + 1, "two refused PUTs and the manifest");
  });

  test("a new journal over other bytes under the lot's keys overwrites nothing", async () => {
    const first = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 4000),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-TAKENKEY" }),
    });
    await upload({ ...first, s3: s3.client() });
    const client = s3.client();
    const key = lotKeys.image("LOT-IT-TAKENKEY", "a.png");
    const before = sha256(await download(client, s3.bucket, key));
    await client.send(
      new DeleteObjectCommand({ Bucket: s3.bucket, Key: lotKeys.manifest("LOT-IT-TAKENKEY") }),
    );
    const bBytes = fakeImage(PNG_SIGNATURE, 100);
    const second = await makeLot({
      "a.png": fakeImage(PNG_SIGNATURE, 5000),
      "b.png": bBytes,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-TAKENKEY" }),
    });
    await assert.rejects(
      upload({ ...second, s3: client }),
      (error: Error) => error.name === "UploadError" && /LotIdTakenError/.test(error.message),
    );
    assert.equal(sha256(await download(client, s3.bucket, key)), before, "nothing was overwritten");
    // The journal the failed run left tells the truth about S3. Whether b.png went out at all is
    // a race (after a.png's refusal nothing more is hashed or sent), so the test takes either
    // outcome and checks only that the journal says which.
    const journal = await loadJournal(journalPath(second.stateDir, second.dir));
    assert.equal(journal?.files["a.png"]?.done, false);
    const bKey = lotKeys.image("LOT-IT-TAKENKEY", "b.png");
    const bInS3 = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: bKey })).then(
      () => true,
      () => false,
    );
    assert.equal(
      journal?.files["b.png"]?.done ?? false,
      bInS3,
      "b.png marked done iff it is in S3",
    );
    if (bInS3) assert.equal(sha256(await download(client, s3.bucket, bKey)), sha256(bBytes));
  });

  test("an image that vanished from S3 after the lot finished is sent again", async () => {
    const content = fakeImage(PNG_SIGNATURE, 4000);
    const { dir, stateDir } = await makeLot({
      "a.png": content,
      "b.png": fakeImage(PNG_SIGNATURE, 100),
      "lot.json": JSON.stringify({ lotId: "LOT-IT-VANISHED" }),
    });
    await upload({ dir, s3: s3.client(), stateDir });
    const client = s3.client();
    const key = lotKeys.image("LOT-IT-VANISHED", "a.png");
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));

    const result = await upload({
      dir,
      s3: client,
      stateDir,
    });
    assert.equal(result.uploaded, 1);
    assert.equal(result.skipped, 1);
    assert.equal(result.manifestWritten, false, "the manifest was still there");
    assert.equal(sha256(await download(client, s3.bucket, key)), sha256(content));
  });

  test("bad options are refused by name before anything is sent", async () => {
    const { dir, stateDir } = await makeLot({ "a.png": fakeImage(PNG_SIGNATURE, 100) });
    const client = s3.client();
    const base = { dir, s3: client, bucket: s3.bucket, stateDir };
    const cases: Array<[Partial<Parameters<typeof uploadLot>[0]>, RegExp]> = [
      [{ partSizeBytes: 1024 * 1024 }, /partSizeBytes must be at least 5242880/],
      [{ concurrency: 0 }, /concurrency must be a positive integer/],
      [{ multipartThresholdBytes: 1.5 }, /multipartThresholdBytes must be a positive integer/],
      [{ bucket: "" }, /bucket must name/],
    ];
    const eventsBefore = s3.events.length;
    for (const [override, pattern] of cases) {
      await assert.rejects(
        uploadLot({ ...base, ...override }),
        (error: Error) => error.name === "AgentConfigError" && pattern.test(error.message),
      );
    }
    assert.equal(s3.events.length, eventsBefore);
  });

  test("a file rewritten after the scan, size and time kept, is caught by S3's digest and named as changed", async () => {
    // Sending hashes nothing (the scan's SHA-256 goes with the PUT): S3's answer tells.
    const original = fakeImage(PNG_SIGNATURE, 20_000);
    const { dir, stateDir } = await makeLot({ "a.png": original });
    const path = join(dir, "a.png");
    // A whole second, so setting it again gives the very mtime the scan saw.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(path, mtime, mtime);
    const eventsBefore = s3.events.length;
    await assert.rejects(
      upload({
        dir,
        s3: s3.client(),
        stateDir,
        onProgress: (event) => {
          if (event.kind !== "hashed") return;
          // Between the hash and the send: other bytes, the same length and modification time.
          const rewritten = fakeImage(PNG_SIGNATURE, 20_000);
          // Synchronous, so it is done before the upload reads the file.
          writeFileSync(path, rewritten);
          utimesSync(path, mtime, mtime);
        },
      }),
      (error: Error) =>
        error.name === "UploadError" &&
        (error.cause as Error)?.name === "SourceChangedError" &&
        /changed since it was scanned \(S3 did not get the scanned bytes/.test(error.message),
    );
    assert.ok(
      !s3.events.slice(eventsBefore).some((e) => e.key.endsWith("manifest.json")),
      "no manifest",
    );
  });

  test("bytes damaged on the way are refused by S3 and sent again", async () => {
    const image = fakeImage(PNG_SIGNATURE, 20_000);
    const { dir, stateDir } = await makeLot({ "a.png": image });
    const client = s3.client();
    let damaged = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { body?: unknown };
        if (
          context.commandName === "PutObjectCommand" &&
          damaged === 0 &&
          Buffer.isBuffer(request.body)
        ) {
          damaged++;
          const copy = Buffer.from(request.body);
          copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0xff;
          request.body = copy;
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "damageFirstBody" },
    );
    const retried: string[] = [];
    const result = await upload({
      dir,
      s3: client,
      stateDir,
      log: (line) => {
        if (line.includes("retry")) retried.push(line);
      },
    });
    assert.equal(damaged, 1);
    assert.equal(result.uploaded, 1);
    assert.match(retried.join("\n"), /ChecksumMismatchError: .*other bytes than were sent/);
    const stored = await download(client, s3.bucket, lotKeys.image(result.lotId, "a.png"));
    assert.equal(sha256(stored), sha256(image));
  });

  test("a file rewritten after it was hashed with a new time is refused before anything is sent", async () => {
    const { dir, stateDir } = await makeLot({ "a.png": fakeImage(PNG_SIGNATURE, 20_000) });
    const path = join(dir, "a.png");
    const client = s3.client();
    const counts = countCommands(client);
    await assert.rejects(
      upload({
        dir,
        s3: client,
        stateDir,
        onProgress: (event) => {
          if (event.kind !== "hashed") return;
          writeFileSync(path, fakeImage(PNG_SIGNATURE, 20_000));
          const later = new Date(Date.now() + 60_000);
          utimesSync(path, later, later);
        },
      }),
      (error: Error) => (error.cause as Error)?.name === "SourceChangedError",
    );
    assert.equal(counts.get("PutObjectCommand") ?? 0, 0);
  });

  test("a lot without images fails clearly and writes nothing", async () => {
    const { dir, stateDir } = await makeLot({ "readme.txt": "no images" });
    const eventsBefore = s3.events.length;
    await assert.rejects(
      uploadLot({ dir, s3: s3.client(), bucket: s3.bucket, stateDir }),
      (error: Error) => error.name === "EmptyLotError" && error.message.includes(dir),
    );
    assert.equal(s3.events.length, eventsBefore);
    assert.deepEqual(await readdir(dir), ["readme.txt"]);
  });
});
