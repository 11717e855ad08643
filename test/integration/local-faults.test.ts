// Faults injected for real into the embedded stack: duplicate events, a throttling endpoint, a dead model server.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { uploadLot } from "../../edge-agent/upload.ts";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { fixtureLot, lotItem, published, storedReport, topicName } from "./helpers/fixture-lot.ts";

describe("the embedded stack under injected faults", () => {
  let stack: LocalStack;
  const logs: string[] = [];

  beforeAll(async () => {
    // Every matching event is delivered three times at once, as at-least-once delivery may.
    stack = await startLocalStack({
      ephemeral: true,
      eventDeliveries: 3,
      // The ASL's Retry waits (2 s doubling, with jitter: up to 62 s for DetectDefects) shrunk;
      // which errors are retried and how often is still the ASL's.
      retryIntervalMs: 50,
      log: (line) => logs.push(line),
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const upload = (lotId: string, wafers: number) =>
    uploadLot({
      dir: fixtureLot(lotId, wafers),
      s3: createS3Client(),
      bucket: stack.names.bucket,
      stateDir: join(stack.dataDir, "agent"),
    });
  const reportsOf = (lotId: string) =>
    published(stack.dataDir, topicName(stack.names.reportTopicArn)).filter(
      (message) => message.attributes.lotId === lotId,
    );
  const alertsOf = (lotId: string) =>
    published(stack.dataDir, topicName(stack.names.alertTopicArn)).filter(
      (message) => (JSON.parse(message.message) as { lotId?: string }).lotId === lotId,
    );

  it("starts one execution and publishes one report when the manifest event arrives three times at once", async () => {
    const lotId = "FAULT-DUP-1";
    await upload(lotId, 1);
    const outcome = await stack.waitForExecution(lotId);
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    assert.ok(logs.some((line) => line.includes("delivering 3 copies")));
    // Let the two late copies of the event finish too before counting.
    await new Promise((done) => setTimeout(done, 1000));
    assert.equal(reportsOf(lotId).length, 1);
    assert.equal(
      logs.filter((line) => line.includes(`/${lotId} started`)).length,
      1,
      "one execution",
    );
  });

  it("finishes a lot whose endpoint throttles a few times, then answers", async () => {
    const lotId = "FAULT-THROTTLE-1";
    stack.faults.throttleEndpoint(3);
    await upload(lotId, 1);
    const outcome = await stack.waitForExecution(lotId);
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    assert.equal(
      logs.filter((line) => line.includes("fault injected: ThrottlingException")).length,
      3,
    );
    const [report] = reportsOf(lotId);
    const body = JSON.parse(report?.message ?? "{}") as {
      status: string;
      counts: { failed: number };
    };
    assert.notEqual(body.status, "failed");
    assert.equal(body.counts.failed, 0, "no wafer failed for the throttling");
    assert.equal(reportsOf(lotId).length, 1);
  });

  it("fails the lot, with one failed report and one alert, when the model server is down", async () => {
    const lotId = "FAULT-DOWN-1";
    await stack.faults.stopModelServer();
    await upload(lotId, 1);
    // SDK retries, then the state machine's own (five attempts, 50 ms apart here) before it gives up.
    const outcome = await stack.waitForExecution(lotId, 200_000);
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "LotFailed");
    const reports = reportsOf(lotId);
    assert.equal(reports.length, 1);
    const report = JSON.parse(reports[0]?.message ?? "{}") as {
      status: string;
      error?: { name: string };
    };
    assert.equal(report.status, "failed");
    assert.equal(report.error?.name, "EndpointUnavailable");
    const alerts = alertsOf(lotId);
    assert.equal(alerts.length, 1, "exactly one ops alert");
    assert.equal((JSON.parse(alerts[0]?.message ?? "{}") as { kind: string }).kind, "lot_failed");
    assert.equal(
      (await storedReport(createS3Client(), stack.names.bucket, lotId)).status,
      "failed",
    );
    assert.equal(
      (await lotItem(createDocumentClient(), stack.names.table, lotId))?.status,
      "FAILED",
    );
  });
});
