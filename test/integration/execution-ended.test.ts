// A lot whose execution ends without the workflow's Catch (uncaught failure, stop) still ends FAILED, reported and alerted exactly once.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { resolve } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { StartExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, it } from "vitest";
import { executionEnded } from "../../functions/execution-ended/core.ts";
import { failLot } from "../../functions/fail-lot/core.ts";
import {
  createDocumentClient,
  createS3Client,
  createSfnClient,
  createSnsClient,
} from "../../lib/aws.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { executionStatusChangeEvent } from "../../local/trigger.ts";
import { AlertSchema } from "../../schemas/alert.ts";
import { ExecutionStatusChangeEventSchema } from "../../schemas/execution-event.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";

const FIXTURE_IMAGE = resolve(import.meta.dirname, "../fixtures/lot-e2e/wafer-001.png");

/** A model endpoint that takes requests and never answers: the execution stays in DetectDefects until stopped. */
async function startSilentEndpoint(): Promise<{
  url: string;
  requested: Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let markRequested: () => void = () => {};
  const requested = new Promise<void>((resolveRequested) => (markRequested = resolveRequested));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => markRequested());
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("silent endpoint has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    requested,
    close: () =>
      new Promise<void>((closed) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => closed());
      }),
  };
}

describe("an execution that ends without a report", () => {
  let stack: LocalStack;
  let silentEndpoint: Awaited<ReturnType<typeof startSilentEndpoint>>;
  const reports: Report[] = [];
  const alerts: ReturnType<typeof AlertSchema.parse>[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    silentEndpoint = await startSilentEndpoint();
    stack = await startLocalStack({
      ephemeral: true,
      sagemakerUrl: silentEndpoint.url,
      log: (line) => logLines.push(line),
    });
    stack.onMessage("reports", (m) => reports.push(ReportSchema.parse(JSON.parse(m.message))));
    stack.onMessage("alerts", (m) => alerts.push(AlertSchema.parse(JSON.parse(m.message))));
  });

  afterAll(async () => {
    await silentEndpoint?.close();
    await stack?.stop();
  });

  const lotItem = async (lotId: string) =>
    (
      await createDocumentClient().send(
        new GetCommand({ TableName: stack.names.table, Key: { pk: `LOT#${lotId}`, sk: "LOT" } }),
      )
    ).Item;

  /** The rule's delivery runs after the execution ends; wait for its function's answer in the log. */
  const waitForDelivery = async (executionName: string, status: string) => {
    const matched = `events: ExecutionEndedFunction.ExecutionEnded matched execution ${executionName} ${status}`;
    for (let waited = 0; waited < 60_000; waited += 50) {
      if (logLines.some((line) => line.includes(matched))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      logLines.some((line) => line.includes(matched)),
      `the status-change rule matched ${executionName}`,
    );
  };

  /** Waits until a report and an alert of the lot arrived (the report is published first). */
  const messagesFor = async (lotId: string) => {
    for (let waited = 0; waited < 60_000; waited += 50) {
      const reported = reports.some((r) => r.lotId === lotId);
      if (reported && alerts.some((a) => a.lotId === lotId)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      reports: reports.filter((report) => report.lotId === lotId),
      alerts: alerts.filter((alert) => alert.lotId === lotId),
    };
  };

  it("fails uncaught (States.Runtime: the input has no lotId): FAILED, one failed report, one alert", async () => {
    const name = "UNCAUGHT-LOT-1";
    await createSfnClient().send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.stateMachineArn,
        name,
        // No lotId: RecordLot's Parameters cannot be built, an error no Catch sees.
        input: JSON.stringify({ manifestKey: `lots/${name}/manifest.json`, metadata: {} }),
      }),
    );
    const outcome = await stack.waitForExecution(name, 60_000);
    assert.equal(outcome.status, "FAILED");
    assert.notEqual(outcome.error, "LotFailed", "the workflow's own Catch did not run");
    await waitForDelivery(name, "FAILED");
    const { reports: lotReports, alerts: lotAlerts } = await messagesFor(name);
    assert.equal(lotReports.length, 1);
    assert.equal(lotReports[0]?.status, "failed");
    assert.equal(lotReports[0]?.error?.name, outcome.error);
    assert.equal(lotAlerts.length, 1);
    assert.equal(lotAlerts[0]?.kind, "lot_failed");
    const item = await lotItem(name);
    assert.equal(item?.status, "FAILED");
    assert.equal(item?.reportKey, lotReports[0]?.reportKey);
  });

  it("is stopped mid-Map: FAILED, one failed report listing its image, one alert", async () => {
    const lotId = "STOPPED-LOT-1";
    const bytes = readFileSync(FIXTURE_IMAGE);
    const key = `lots/${lotId}/images/wafer-001.png`;
    await createS3Client().send(
      new PutObjectCommand({ Bucket: stack.names.bucket, Key: key, Body: bytes }),
    );
    const image = {
      fileName: "wafer-001.png",
      key,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
      contentType: "image/png",
    };
    // The real path: the manifest lands, the trigger runs StartLot, StartLot starts the execution.
    const manifest = {
      schemaVersion: 1,
      lotId,
      createdAt: new Date().toISOString(),
      source: { agent: "execution-ended.test" },
      metadata: {},
      images: [image],
    };
    await createS3Client().send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: `lots/${lotId}/manifest.json`,
        Body: JSON.stringify(manifest),
        ContentType: "application/json",
      }),
    );
    // DetectDefects has called the endpoint, which never answers: the lot is in the Map.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      silentEndpoint.requested,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`DetectDefects never called ${silentEndpoint.url}`)),
          60_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const executionArn = `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${lotId}`;
    await createSfnClient().send(new StopExecutionCommand({ executionArn }));
    const outcome = await stack.waitForExecution(lotId, 60_000);
    assert.equal(outcome.status, "ABORTED");
    await waitForDelivery(lotId, "ABORTED");
    const { reports: lotReports, alerts: lotAlerts } = await messagesFor(lotId);
    assert.equal(lotReports.length, 1);
    assert.equal(lotReports[0]?.status, "failed");
    assert.equal(lotReports[0]?.error?.name, "ExecutionAborted");
    assert.deepEqual(
      lotReports[0]?.images.map((i) => [i.fileName, i.status]),
      [["wafer-001.png", "failed"]],
    );
    assert.equal(lotAlerts.length, 1);
    assert.equal((await lotItem(lotId))?.status, "FAILED");
  });

  it("whichever path ends a lot first, the other says nothing (both orders, and a finished lot)", async () => {
    const deps = {
      s3: createS3Client(),
      db: createDocumentClient(),
      sns: createSnsClient(),
      bucket: stack.names.bucket,
      table: stack.names.table,
      reportTopicArn: stack.names.reportTopicArn,
      alertTopicArn: stack.names.alertTopicArn,
    };
    const executionOf = (lotId: string) =>
      `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${lotId}`;
    const processing = async (lotId: string, status = "PROCESSING") =>
      deps.db.send(
        new PutCommand({
          TableName: deps.table,
          Item: { pk: `LOT#${lotId}`, sk: "LOT", lotId, status, executionId: executionOf(lotId) },
        }),
      );
    const ended = (lotId: string, status: "FAILED" | "ABORTED") =>
      ExecutionStatusChangeEventSchema.parse(
        executionStatusChangeEvent({
          executionArn: executionOf(lotId),
          stateMachineArn: stack.names.stateMachineArn,
          name: lotId,
          status,
          input: JSON.stringify({ lotId }),
          startDate: new Date().toISOString(),
          ...(status === "FAILED" ? { error: "LotFailed", cause: "caught" } : {}),
        }),
      );
    const caught = (lotId: string) => ({
      lotId,
      executionId: executionOf(lotId),
      error: { Error: "TransientDependencyError", Cause: "the table was down" },
    });

    // The status-change rule first (a stop while MarkLotFailed retries), the workflow's Catch second.
    await processing("ORDER-RULE-FIRST");
    assert.equal(
      (await executionEnded(ended("ORDER-RULE-FIRST", "ABORTED"), deps)).outcome,
      "failed",
    );
    assert.equal((await failLot(caught("ORDER-RULE-FIRST"), deps)).outcome, "already_final");

    // The workflow's Catch first (MarkLotFailed, then the Fail state ends the execution FAILED).
    await processing("ORDER-CATCH-FIRST");
    assert.equal((await failLot(caught("ORDER-CATCH-FIRST"), deps)).outcome, "failed");
    // A retried MarkLotFailed finishes its own work: the same claimant may claim again.
    assert.equal((await failLot(caught("ORDER-CATCH-FIRST"), deps)).outcome, "failed");
    assert.equal(
      (await executionEnded(ended("ORDER-CATCH-FIRST", "FAILED"), deps)).outcome,
      "already_final",
    );

    // A lot that was reported clean is never turned FAILED afterwards.
    await processing("ORDER-FINISHED", "CLEAN");
    assert.equal(
      (await executionEnded(ended("ORDER-FINISHED", "ABORTED"), deps)).outcome,
      "already_final",
    );
    assert.equal((await lotItem("ORDER-FINISHED"))?.status, "CLEAN");

    await messagesFor("ORDER-RULE-FIRST");
    await messagesFor("ORDER-CATCH-FIRST");
    assert.equal(reports.filter((r) => r.lotId === "ORDER-RULE-FIRST").length, 1);
    assert.equal(alerts.filter((a) => a.lotId === "ORDER-RULE-FIRST").length, 1);
    assert.equal(
      reports.filter((r) => r.lotId === "ORDER-CATCH-FIRST").length,
      2,
      "retry re-sends",
    );
    assert.equal(reports.filter((r) => r.lotId === "ORDER-FINISHED").length, 0);
    assert.equal(alerts.filter((a) => a.lotId === "ORDER-FINISHED").length, 0);
  });

  it("caught by the workflow (MarkLotFailed, then the Fail state): the rule adds no second report or alert", async () => {
    const lotId = "CAUGHT-LOT-1";
    await createSfnClient().send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.stateMachineArn,
        name: lotId,
        input: JSON.stringify({
          lotId,
          manifestKey: `lots/${lotId}/manifest.json`,
          metadata: {},
          images: [],
        }),
      }),
    );
    const outcome = await stack.waitForExecution(lotId, 60_000);
    assert.equal(outcome.error, "LotFailed");
    await waitForDelivery(lotId, "FAILED");
    // Stopping drains the trigger: every delivery of the rule has run to its end before we count.
    await stack.stop();
    assert.deepEqual(
      logLines.filter((line) => /ExecutionEndedFunction.* failed/.test(line)),
      [],
      "the rule's function never failed",
    );
    assert.equal(reports.filter((r) => r.lotId === lotId).length, 1);
    assert.equal(alerts.filter((a) => a.lotId === lotId).length, 1);
    // The first two lots were not reported again either.
    assert.equal(reports.filter((r) => r.lotId === "UNCAUGHT-LOT-1").length, 1);
    assert.equal(reports.filter((r) => r.lotId === "STOPPED-LOT-1").length, 1);
  });
});
