// Lots on one embedded stack, in this file's process: one at the manifest's limits (the limit lowered to 100 for this file) with 63-character names, every one failing (30% undecodable, the rest too small), ends with one report and one image more is refused; then lot ids are identities, every file is accounted for, and a re-run is explicit, through the agent and StartLot.
// One stack for both (a stack start, its S3 child and its modules are about 3-4 s of CPU, and this file's process a fresh worker): the two lots have their own ids, prefixes and agent journals.
// First, before anything that loads the schemas: the lot limit is read once, when they load, and the agent and the stack's handlers run in this process.
import "./helpers/lower-lot-limit.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import sharp from "sharp";
import { afterAll, beforeAll, describe, it } from "vitest";
import { reprocessLot, runLotsCommand } from "../../cli/lots.ts";
import { LotEndings } from "../../cli/reports.ts";
import { LotIdTakenError, TooManyImagesError } from "../../edge-agent/errors.ts";
import { uploadLot } from "../../edge-agent/upload.ts";
import { listLots } from "../../functions/lot-watch/core.ts";
import { createDocumentClient, createS3Client, createSfnClient } from "../../lib/aws.ts";
import { lotKeys } from "../../lib/keys.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { type Alert, AlertSchema } from "../../schemas/alert.ts";
import { MAX_LOT_IMAGES, SHIPPED_MAX_LOT_IMAGES } from "../../schemas/lot.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";
import { LOT_LIMIT_IN_TEST } from "./helpers/lower-lot-limit.ts";

const STATE_DATA_LIMIT = 256 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-e2e");
const LOT_ID = "E2E-IDENTITY-1";

/** The one stack of this file, with its model server (the identity lot's wafers are inspected). */
let stack: LocalStack;
const s3 = createS3Client();
beforeAll(async () => {
  stack = await startLocalStack({ ephemeral: true, log: () => {} });
});
afterAll(async () => {
  await stack?.stop();
  delete process.env.WAFERFLOW_MAX_LOT_IMAGES;
});

/** The largest state output and the execution input of one execution, from its history. */
async function largestPayload(executionArn: string): Promise<number> {
  const sfn = createSfnClient();
  let largest = 0;
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    for (const event of page.events ?? ([] as HistoryEvent[])) {
      const payload =
        event.stateExitedEventDetails?.output ?? event.executionStartedEventDetails?.input ?? "";
      largest = Math.max(largest, Buffer.byteLength(payload));
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return largest;
}

// First: the identity lot's re-run below is left running when the file ends (the stop aborts it).
describe("a lot at the limits on the embedded stack", () => {
  let endings: LotEndings;
  const reports: Report[] = [];

  beforeAll(() => {
    // No image of this lot may get past preprocessing, and the test below requires each to fail
    // there, on its bytes or its size: one that reached the model server (which the identity lot
    // needs) would fail as ImageRejectedByModelError, not ImageSizeError.
    endings = new LotEndings(stack, s3, (ending) => {
      if (ending.kind === "report") reports.push(ending.report);
    });
  });
  afterAll(() => {
    endings?.close();
  });

  async function run(dir: string, lotId: string): Promise<Report> {
    await uploadLot({
      dir,
      s3,
      bucket: stack.names.bucket,
      stateDir: join(stack.dataDir, "agent"),
      concurrency: 8,
    });
    const ending = await endings.wait(lotId, 800_000);
    assert.ok(ending?.kind === "report", `lot ${lotId} ended with a report`);
    const outcome = await stack.waitForExecution(lotId, 60_000);
    assert.equal(outcome.status, "SUCCEEDED");
    return ending.report;
  }

  it("a lot at the limit with 63-character names, all failing: one report naming each failure, small state payloads; one image more is refused", async () => {
    // One lot at the manifest's limit (MAX_LOT_IMAGES) carries both stresses: the most images a
    // lot may have, and every one of them failing, so each carries its error through the Map.
    // The limit is lowered for this file (helpers/lower-lot-limit.ts): the same checks run at
    // their boundary with a tenth of the shipped 1000 images, whose payloads
    // test/unit/lot-limit.test.ts checks on the lot's ASL.
    assert.equal(MAX_LOT_IMAGES, LOT_LIMIT_IN_TEST, "the lowered limit reached the schemas");
    const lotId = "LIMITS-FAILING";
    const dir = mkdtempSync(join(tmpdir(), "waferflow-limits-"));
    // Too small for the spec: preprocessing refuses them on their header.
    const tiny = await sharp(Buffer.alloc(64 * 64, 90), {
      raw: { width: 64, height: 64, channels: 1 },
    })
      .png()
      .toBuffer();
    const names: string[] = [];
    const undecodable = new Set<string>();
    for (let i = 0; i < MAX_LOT_IMAGES; i++) {
      const stem = `wafer-${String(i).padStart(4, "0")}-`;
      const name = `${stem.padEnd(59, "x")}.png`;
      assert.equal(name.length, 63);
      names.push(name);
      if (i % 10 < 3) {
        // A PNG signature, then bytes no decoder accepts: the agent takes it, preprocessing fails fast.
        undecodable.add(name);
        writeFileSync(join(dir, name), Buffer.concat([PNG_SIGNATURE, Buffer.alloc(64, i % 251)]));
      } else {
        writeFileSync(join(dir, name), tiny);
      }
    }
    assert.equal(undecodable.size, (MAX_LOT_IMAGES * 3) / 10);
    writeFileSync(join(dir, "lot.json"), JSON.stringify({ lotId }));
    const report = await run(dir, lotId);
    assert.equal(report.counts.images, MAX_LOT_IMAGES);
    assert.deepEqual(report.images.map((i) => i.fileName).sort(), names.sort());
    const accounted =
      report.counts.clean +
      report.counts.withDefects +
      report.counts.failed +
      report.counts.unusable +
      report.counts.rejected;
    assert.equal(accounted, MAX_LOT_IMAGES, "every image has an outcome");
    assert.equal(report.counts.failed, MAX_LOT_IMAGES, "every image failed");
    assert.equal(report.status, "incomplete");
    for (const image of report.images) {
      assert.equal(image.status, "failed");
      assert.ok(image.error?.name, `${image.fileName} has an error name`);
      assert.ok((image.error?.message.length ?? 0) <= 500, "messages stay short");
      assert.doesNotMatch(image.error?.message ?? "", /\n\s+at /, "no stack trace in the report");
    }
    const undecodableImages = report.images.filter((i) => undecodable.has(i.fileName));
    assert.equal(undecodableImages.length, undecodable.size);
    assert.ok(
      undecodableImages.every((i) => i.error?.name !== "ImageSizeError"),
      "the undecodable images fail on their bytes, not on their size",
    );
    const tooSmall = report.images.filter((i) => !undecodable.has(i.fileName));
    assert.equal(tooSmall.length, MAX_LOT_IMAGES - undecodable.size);
    for (const image of tooSmall) {
      assert.equal(image.error?.name, "ImageSizeError", `${image.fileName} refused on its size`);
    }
    assert.equal(reports.filter((r) => r.lotId === lotId).length, 1, "exactly one report");
    const largest = await largestPayload(
      `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${lotId}`,
    );
    assert.ok(largest < STATE_DATA_LIMIT / 2, `largest state payload ${largest} B`);
    // What the real handlers' outcomes weigh, scaled to the shipped limit: the payloads grow with
    // the image count (the Map's results), so this overstates them and must still fit.
    const scaled = (largest * SHIPPED_MAX_LOT_IMAGES) / MAX_LOT_IMAGES;
    assert.ok(
      scaled < STATE_DATA_LIMIT / 2,
      `${largest} B scaled to the shipped limit: ${scaled} B`,
    );

    // One image more than the limit: the agent refuses the lot before sending anything.
    copyFileSync(join(dir, names[0] as string), join(dir, "one-more.png"));
    await assert.rejects(
      uploadLot({ dir, s3, bucket: stack.names.bucket, stateDir: join(stack.dataDir, "agent") }),
      (error: Error) =>
        error instanceof TooManyImagesError &&
        error.message.includes(
          `${MAX_LOT_IMAGES + 1} images; a lot may have at most ${MAX_LOT_IMAGES}`,
        ),
    );
  }, 900_000);
});

function lotFolder(images: string[], extra: Record<string, Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "waferflow-identity-"));
  for (const name of images) copyFileSync(join(FIXTURE, name), join(dir, name));
  for (const [name, bytes] of Object.entries(extra)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, "lot.json"), JSON.stringify({ lotId: LOT_ID, waferDiameterMm: 300 }));
  return dir;
}

describe("lot identity, accounting and reprocessing on the embedded stack", () => {
  let endings: LotEndings;
  const alerts: Alert[] = [];
  let stateDir: string;
  let first: Report;
  /** SHA-256 of every object under the lot's prefix, after the first lot's report. */
  let objectsBefore: Map<string, string>;
  let reportBefore: string;

  async function objectHashes(): Promise<Map<string, string>> {
    const hashes = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: stack.names.bucket,
          Prefix: lotKeys.prefix(LOT_ID),
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const body = await s3.send(
          new GetObjectCommand({ Bucket: stack.names.bucket, Key: object.Key }),
        );
        const bytes = await body.Body?.transformToByteArray();
        hashes.set(
          object.Key ?? "",
          createHash("sha256")
            .update(bytes ?? new Uint8Array())
            .digest("hex"),
        );
      }
      token = page.NextContinuationToken;
    } while (token);
    return hashes;
  }

  async function reportText(): Promise<string> {
    const object = await s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucket, Key: lotKeys.report(LOT_ID) }),
    );
    return (await object.Body?.transformToString()) ?? "";
  }

  beforeAll(async () => {
    endings = new LotEndings(stack, s3);
    stack.onMessage("alerts", (m) => alerts.push(AlertSchema.parse(JSON.parse(m.message))));
    stateDir = join(stack.dataDir, "agent-test");
    mkdirSync(stateDir, { recursive: true });
    // Two bare wafers, a PNG and a TIFF: what is checked here is identity and accounting, and a
    // bare wafer is the cheaper inspection (no die lattice), twice (the lot and its re-run).
    const dir = lotFolder(["wafer-001.png", "wafer-003.tif"], {
      "empty.png": Buffer.alloc(0),
      "notes.png": Buffer.from("this is not an image at all"),
    });
    const uploaded = await uploadLot({ dir, s3, bucket: stack.names.bucket, stateDir });
    assert.equal(uploaded.rejected.length, 2);
    const ending = await endings.wait(LOT_ID, 240_000);
    assert.ok(ending?.kind === "report", "the first lot is reported");
    first = ending.report;
    await stack.waitForExecution(LOT_ID, 60_000);
    objectsBefore = await objectHashes();
    reportBefore = await reportText();
  });
  afterAll(() => {
    endings?.close();
  });

  it("reports every file of the lot: inspected ones and the refused ones with their reasons", () => {
    assert.equal(first.counts.images, 4);
    assert.equal(first.counts.rejected, 2);
    assert.equal(first.counts.clean + first.counts.withDefects, 2);
    const rejected = first.images.filter((image) => image.status === "rejected");
    assert.deepEqual(rejected.map((image) => image.fileName).sort(), ["empty.png", "notes.png"]);
    assert.match(rejected.find((i) => i.fileName === "empty.png")?.error?.message ?? "", /empty/);
    assert.match(
      rejected.find((i) => i.fileName === "notes.png")?.error?.message ?? "",
      /neither PNG nor TIFF/,
    );
    // Rejected files keep a lot from being called clean.
    assert.notEqual(first.status, "clean");
  });

  it("records the model's name and version with every inspected result", () => {
    for (const image of first.images.filter(
      (i) => i.status === "clean" || i.status === "defects_found",
    )) {
      assert.ok(image.model?.name && image.model.version, `${image.fileName} names its model`);
    }
  });

  it("refuses another lot under the same id in the agent before sending anything", async () => {
    const other = lotFolder(["wafer-002.png", "wafer-004.png"]);
    await assert.rejects(
      uploadLot({ dir: other, s3, bucket: stack.names.bucket, stateDir }),
      (error: Error) =>
        error instanceof LotIdTakenError &&
        /already taken/.test(error.message) &&
        /wafer-002/.test(error.message),
    );
    assert.deepEqual(await objectHashes(), objectsBefore, "no object of the first lot changed");
  });

  it("refuses in the agent a folder that reuses the id with the same names but other bytes", async () => {
    const other = lotFolder([]);
    copyFileSync(join(FIXTURE, "wafer-002.png"), join(other, "wafer-001.png"));
    copyFileSync(join(FIXTURE, "wafer-003.tif"), join(other, "wafer-003.tif"));
    await assert.rejects(
      uploadLot({ dir: other, s3, bucket: stack.names.bucket, stateDir }),
      LotIdTakenError,
    );
    assert.deepEqual(await objectHashes(), objectsBefore);
  });

  it("quarantines in StartLot a manifest written past the agent, keeps the first lot and alerts", async () => {
    const manifestText = (await s3
      .send(new GetObjectCommand({ Bucket: stack.names.bucket, Key: lotKeys.manifest(LOT_ID) }))
      .then((o) => o.Body?.transformToString())) as string;
    const forged = JSON.parse(manifestText);
    forged.images[0].sha256 = "0".repeat(64);
    const alertsBefore = alerts.length;
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: lotKeys.manifest(LOT_ID),
        Body: JSON.stringify(forged),
      }),
    );
    // Waits on the alert itself, not on a time budget a loaded machine may not meet.
    const deadline = Date.now() + 120_000;
    while (alerts.length === alertsBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const alert = alerts.at(-1);
    assert.equal(alert?.kind, "manifest_quarantined");
    assert.match(alert?.message ?? "", /already taken/);
    assert.match((alert?.problems ?? []).join(" "), /wafer-001\.png has SHA-256 0{64}/);
    // StartLot puts the first lot's manifest back (itself an event): wait until it is there again.
    const manifestKey = lotKeys.manifest(LOT_ID);
    const restoredBy = Date.now() + 120_000;
    while (
      (await objectHashes()).get(manifestKey) !== objectsBefore.get(manifestKey) &&
      Date.now() < restoredBy
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const after = await objectHashes();
    for (const [key, sha] of objectsBefore) assert.equal(after.get(key), sha, `${key} unchanged`);
    assert.equal(await reportText(), reportBefore, "the first lot's report is unchanged");
  });

  it("uploading the same lot again is a no-op", async () => {
    const again = lotFolder(["wafer-001.png", "wafer-003.tif"], {
      "empty.png": Buffer.alloc(0),
      "notes.png": Buffer.from("this is not an image at all"),
    });
    const result = await uploadLot({ dir: again, s3, bucket: stack.names.bucket, stateDir });
    assert.equal(result.manifestWritten, false);
    assert.equal(result.uploaded, 0);
    assert.equal(await reportText(), reportBefore);
  });

  it("refuses a conditional write over an image of the lot in the local S3, as AWS does", async () => {
    const key = lotKeys.image(LOT_ID, "wafer-001.png");
    await assert.rejects(
      s3.send(
        new PutObjectCommand({
          Bucket: stack.names.bucket,
          Key: key,
          Body: "other bytes",
          IfNoneMatch: "*",
        }),
      ),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) =>
        error.name === "PreconditionFailed" && error.$metadata?.httpStatusCode === 412,
    );
    assert.deepEqual(await objectHashes(), objectsBefore);
  });

  it("waferflow lots prints the lot as JSON, and filters by status", async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      assert.equal(await runLotsCommand(["--json", "--status", first.status]), 0);
      assert.equal(await runLotsCommand(["--json", "--status", "failed,stuck"]), 0);
    } finally {
      console.log = log;
    }
    const listed = lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
    assert.deepEqual(
      listed.map((lot) => [lot.lotId, lot.status]),
      [[LOT_ID, first.status.toUpperCase()]],
    );
  });

  it("lists the lot with its status, counts and execution", async () => {
    const lots = await listLots(createDocumentClient(), stack.names.table);
    const lot = lots.find((l) => l.lotId === LOT_ID);
    assert.ok(lot);
    assert.equal(lot.status, first.status.toUpperCase());
    assert.equal((lot.counts as { rejected: number }).rejected, 2);
    assert.match(lot.executionId ?? "", new RegExp(`:${LOT_ID}$`));
  });

  it("re-runs a finished lot only when asked, as a new execution, keeping the previous report", async () => {
    // What `waferflow reprocess` hands reprocessLot: the stack's clients and names.
    const reprocess = () =>
      reprocessLot(LOT_ID, {
        db: createDocumentClient(),
        s3,
        sfn: createSfnClient(),
        table: stack.names.table,
        bucket: stack.names.bucket,
        stateMachineArn: stack.names.stateMachineArn,
      });
    const started = await reprocess();
    assert.equal(started.executionName, `${LOT_ID}--r1`);
    const outcome = await stack.waitForExecution(started.executionName, 240_000);
    assert.equal(outcome.status, "SUCCEEDED");
    const rerun = ReportSchema.parse(JSON.parse(await reportText()));
    assert.match(rerun.executionId ?? "", /--r1$/);
    assert.equal(rerun.counts.images, first.counts.images);
    for (const image of rerun.images.filter(
      (i) => i.status === "clean" || i.status === "defects_found",
    )) {
      assert.ok(image.model?.name && image.model.version);
    }
    assert.ok(started.previousReportKey);
    const kept = await s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucket, Key: started.previousReportKey }),
    );
    assert.equal(await kept.Body?.transformToString(), reportBefore);
    const second = await reprocess();
    assert.equal(second.executionName, `${LOT_ID}--r2`);
    // Not run to its end: the first re-run above is, and the numbering is what this one shows.
    // Stopping the stack (the file's afterAll) aborts it, as a stop does any running execution.
  });
});
