// Lot ids are identities, every file is accounted for, and a re-run is explicit: on the embedded stack, through the agent and StartLot.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, it } from "vitest";
import { reprocessLot, runLotsCommand } from "../../cli/lots.ts";
import { LotEndings } from "../../cli/reports.ts";
import { LotIdTakenError } from "../../edge-agent/errors.ts";
import { uploadLot } from "../../edge-agent/upload.ts";
import { listLots } from "../../functions/lot-watch/core.ts";
import { createDocumentClient, createS3Client, createSfnClient } from "../../lib/aws.ts";
import { lotKeys } from "../../lib/keys.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { type Alert, AlertSchema } from "../../schemas/alert.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-e2e");
const LOT_ID = "E2E-IDENTITY-1";

function lotFolder(images: string[], extra: Record<string, Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "waferflow-identity-"));
  for (const name of images) copyFileSync(join(FIXTURE, name), join(dir, name));
  for (const [name, bytes] of Object.entries(extra)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, "lot.json"), JSON.stringify({ lotId: LOT_ID, waferDiameterMm: 300 }));
  return dir;
}

describe("lot identity, accounting and reprocessing on the embedded stack", () => {
  let stack: LocalStack;
  let endings: LotEndings;
  const s3 = createS3Client();
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
    stack = await startLocalStack({ ephemeral: true, log: () => {} });
    endings = new LotEndings(stack, s3);
    stack.onMessage("alerts", (m) => alerts.push(AlertSchema.parse(JSON.parse(m.message))));
    stateDir = join(stack.dataDir, "agent-test");
    mkdirSync(stateDir, { recursive: true });
    const dir = lotFolder(["wafer-001.png", "wafer-006.png"], {
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
  afterAll(async () => {
    endings?.close();
    await stack?.stop();
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
    copyFileSync(join(FIXTURE, "wafer-006.png"), join(other, "wafer-006.png"));
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
    const again = lotFolder(["wafer-001.png", "wafer-006.png"], {
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
    const started = await reprocessLot(LOT_ID, {
      db: createDocumentClient(),
      s3,
      sfn: createSfnClient(),
      table: stack.names.table,
      bucket: stack.names.bucket,
      stateMachineArn: stack.names.stateMachineArn,
    });
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
    const second = await reprocessLot(LOT_ID, {
      db: createDocumentClient(),
      s3,
      sfn: createSfnClient(),
      table: stack.names.table,
      bucket: stack.names.bucket,
      stateMachineArn: stack.names.stateMachineArn,
    });
    assert.equal(second.executionName, `${LOT_ID}--r2`);
    // Not run to its end: the first re-run above is, and the numbering is what this one shows.
    // Stopping the stack (afterAll) aborts it, as a stop does any running execution.
  });
});
