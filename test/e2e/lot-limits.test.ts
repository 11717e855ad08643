// A lot at the manifest's limits through the embedded stack: as many images as a lot may have (the limit lowered to 100 for this test) with 63-character names, every one failing (30% undecodable, the rest too small), ends with one report; one image more is refused.
// First, before anything that loads the schemas: the lot limit is read once, when they load, and the agent and the stack's handlers run in this process.
import "./helpers/lower-lot-limit.ts";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import sharp from "sharp";
import { afterAll, beforeAll, describe, it } from "vitest";
import { LotEndings } from "../../cli/reports.ts";
import { TooManyImagesError } from "../../edge-agent/errors.ts";
import { uploadLot } from "../../edge-agent/upload.ts";
import { createS3Client, createSfnClient } from "../../lib/aws.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { MAX_LOT_IMAGES, SHIPPED_MAX_LOT_IMAGES } from "../../schemas/lot.ts";
import type { Report } from "../../schemas/report.ts";
import { LOT_LIMIT_IN_TEST } from "./helpers/lower-lot-limit.ts";

const STATE_DATA_LIMIT = 256 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

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

describe("a lot at the limits on the embedded stack", () => {
  let stack: LocalStack;
  let endings: LotEndings;
  const s3 = createS3Client();
  const reports: Report[] = [];

  beforeAll(async () => {
    // No model server (about 1.5 s of CPU to start): no image of this lot may get past
    // preprocessing, and the test below requires each to fail there, on its bytes or its size.
    stack = await startLocalStack({ ephemeral: true, startEndpoint: false, log: () => {} });
    endings = new LotEndings(stack, s3, (ending) => {
      if (ending.kind === "report") reports.push(ending.report);
    });
  });
  afterAll(async () => {
    endings?.close();
    await stack?.stop();
    delete process.env.WAFERFLOW_MAX_LOT_IMAGES;
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
