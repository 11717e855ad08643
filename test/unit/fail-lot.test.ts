// FailLot and ExecutionEnded with mocked clients: one claim, one failed report, one alert, even when the store is down.
import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { BatchWriteCommand, DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, it } from "vitest";
import { executionEnded } from "../../functions/execution-ended/core.ts";
import { failLot } from "../../functions/fail-lot/core.ts";
import { lotKeys } from "../../lib/keys.ts";
import { AlertSchema } from "../../schemas/alert.ts";
import { manifestImage, manifestText, s3Body, serviceError } from "../helpers/aws-fakes.ts";

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const ddb = mockClient(DynamoDBDocumentClient);
const LOT = "LOT-F";
const manifestKey = lotKeys.acceptedManifest(LOT);
const manifest = manifestText(LOT, [manifestImage(LOT, "a.png"), manifestImage(LOT, "b.png")], {
  metadata: { waferDiameterMm: 300, product: "P1", equipment: "EQ-2", recipe: "R3" },
  rejected: [{ fileName: "empty.png", reason: "file is empty" }],
});
const ALERTS = "arn:aws:sns:us-east-1:000000000000:alerts";
const REPORTS = "arn:aws:sns:us-east-1:000000000000:reports";

const logged: Array<[string, string]> = [];
function deps() {
  return {
    s3: new S3Client({ region: "us-east-1" }),
    sns: new SNSClient({ region: "us-east-1" }),
    db: DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })),
    bucket: "b",
    table: "lots",
    reportTopicArn: REPORTS,
    alertTopicArn: ALERTS,
    linkBaseUrl: "http://127.0.0.1:8080",
    now: () => new Date("2026-11-30T02:00:00.000Z"),
    log: {
      info: (message: string) => logged.push(["info", message]),
      warn: (message: string) => logged.push(["warn", message]),
      error: (message: string) => logged.push(["error", message]),
    },
  };
}
const published = (topic: string) =>
  sns
    .commandCalls(PublishCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.TopicArn === topic);
const alertOf = (input: { Message?: string; MessageStructure?: string }) => {
  const message = JSON.parse(input.Message ?? "");
  return AlertSchema.parse(
    input.MessageStructure === "json" ? JSON.parse(message.default) : message,
  );
};
const input = {
  lotId: LOT,
  executionId: "arn:aws:states:us-east-1:000000000000:execution:lot:LOT-F",
  manifestKey,
  error: {
    Error: "ManifestChangedError",
    Cause: JSON.stringify({ errorType: "ManifestChangedError", errorMessage: "manifest replaced" }),
  },
};

beforeEach(() => {
  s3.reset();
  sns.reset();
  ddb.reset();
  logged.length = 0;
  s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
  s3.on(PutObjectCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: "m" });
  ddb.on(UpdateCommand).resolves({});
  ddb.on(BatchWriteCommand).resolves({});
});

describe("failLot", () => {
  it("claims the lot, stores a failed report naming every image, and alerts with the error's message", async () => {
    const result = await failLot(input, deps());
    assert.equal(result.outcome, "failed");
    const claim = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    assert.match(claim?.ConditionExpression ?? "", /attribute_not_exists\(pk\)/);
    assert.equal(claim?.ExpressionAttributeValues?.[":claimedBy"], `workflow:${input.executionId}`);
    const stored = s3
      .commandCalls(PutObjectCommand)
      .find((call) => call.args[0].input.Key === lotKeys.report(LOT));
    const report = JSON.parse(String(stored?.args[0].input.Body));
    assert.equal(report.status, "failed");
    assert.deepEqual(report.error, { name: "ManifestChangedError", message: "manifest replaced" });
    assert.deepEqual(
      report.images.map((image: { fileName: string; status: string }) => [
        image.fileName,
        image.status,
      ]),
      [
        ["a.png", "failed"],
        ["b.png", "failed"],
        ["empty.png", "rejected"],
      ],
    );
    // Each image's item rewritten with its outcome in one batch, RecordLot's attributes kept.
    const items = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => call.args[0].input.RequestItems?.lots ?? [])
      .map((request) => request.PutRequest?.Item);
    assert.deepEqual(
      items.map((item) => [item?.sk, item?.status, item?.index, item?.sha256 !== undefined]),
      [
        ["IMAGE#a.png", "FAILED", 0, true],
        ["IMAGE#b.png", "FAILED", 1, true],
        ["IMAGE#empty.png", "REJECTED", undefined, false],
      ],
    );
    assert.equal(published(REPORTS).length, 1);
    const [alertMessage] = published(ALERTS);
    const alert = alertOf(alertMessage ?? {});
    assert.equal(alert.kind, "lot_failed");
    assert.equal(alert.message, "lot LOT-F failed: ManifestChangedError: manifest replaced");
    assert.equal(alert.problems, undefined);
    assert.equal(alertMessage?.MessageAttributes?.severity?.StringValue, "critical");
    assert.equal(alertMessage?.MessageAttributes?.product?.StringValue, "P1");
  });

  it("says nothing twice: a lot another path already ended gets no report and no alert", async () => {
    ddb.on(UpdateCommand).rejects(serviceError("ConditionalCheckFailedException", 400));
    assert.deepEqual(await failLot(input, deps()), { outcome: "already_final", lotId: LOT });
    assert.equal(s3.commandCalls(PutObjectCommand).length, 0);
    assert.equal(sns.calls().length, 0);
  });

  it("lets a claim the table cannot take out as TransientDependencyError (MarkLotFailed retries)", async () => {
    ddb.on(UpdateCommand).rejects(serviceError("ProvisionedThroughputExceededException", 400));
    await assert.rejects(failLot(input, deps()), { name: "TransientDependencyError" });
    assert.equal(sns.calls().length, 0);
  });

  it("still publishes the report and alerts, naming the store's failure, when the report cannot be stored", async () => {
    s3.on(PutObjectCommand).rejects(serviceError("ServiceUnavailable", 503));
    const result = await failLot(input, deps());
    assert.equal(result.outcome, "failed");
    assert.equal(published(REPORTS).length, 1, "operators hear of the lot all the same");
    const alert = alertOf(published(ALERTS)[0] ?? {});
    assert.match(
      alert.problems?.[0] ?? "",
      /^the failed report could not be stored: TransientDependencyError: writing s3:\/\/b\/lots\/LOT-F\/report\.json failed: ServiceUnavailable/,
    );
    assert.deepEqual(logged.at(-1) ?? ["", ""], ["error", "failed report could not be stored"]);
  });

  it("reports a lot whose manifest cannot be read without images, and says why in the log", async () => {
    s3.on(GetObjectCommand, { Key: manifestKey }).rejects(serviceError("NoSuchKey", 404));
    const result = await failLot(input, deps());
    assert.ok(result.outcome === "failed");
    assert.deepEqual(result.report.images, []);
    assert.deepEqual(logged[0], ["warn", "the failed lot's manifest cannot be read"]);
    assert.equal(published(ALERTS).length, 1);
  });

  it("takes the Cause as the message when it is not Lambda's JSON, and says so when there is none", async () => {
    const plain = await failLot(
      { ...input, error: { Error: "States.Timeout", Cause: "took too long" } },
      deps(),
    );
    assert.ok(plain.outcome === "failed");
    assert.equal(plain.report.error?.message, "took too long");
    const none = await failLot({ ...input, error: { Error: "States.Timeout" } }, deps());
    assert.ok(none.outcome === "failed");
    assert.equal(none.report.error?.message, "no cause given");
  });
});

describe("executionEnded", () => {
  const event = (status: string, detail: Record<string, unknown> = {}) => ({
    source: "aws.states" as const,
    "detail-type": "Step Functions Execution Status Change" as const,
    time: "2026-11-30T02:00:00Z",
    detail: {
      executionArn: input.executionId,
      stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:lot",
      name: LOT,
      status: status as "FAILED",
      startDate: 1,
      input: JSON.stringify({ lotId: LOT, manifestKey }),
      ...detail,
    },
  });

  it("ends a timed-out or aborted lot as FAILED under its own claim, naming what happened", async () => {
    for (const [status, name] of [
      ["TIMED_OUT", "States.Timeout"],
      ["ABORTED", "ExecutionAborted"],
      ["FAILED", "States.Runtime"],
    ] as const) {
      ddb.reset();
      ddb.on(UpdateCommand).resolves({});
      ddb.on(BatchWriteCommand).resolves({});
      const result = await executionEnded(event(status), deps());
      assert.ok(result.outcome === "failed", status);
      assert.deepEqual(result.report.error, {
        name,
        message: `execution ${LOT} ended ${status}`,
      });
      assert.equal(
        result.report.images.length,
        3,
        "the images come from the manifest in the input",
      );
      const claim = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
      assert.equal(
        claim?.ExpressionAttributeValues?.[":claimedBy"],
        `execution-status-change:${input.executionId}`,
      );
    }
  });

  it("keeps the error and cause Step Functions gave", async () => {
    const result = await executionEnded(
      event("FAILED", { error: "DependencyError", cause: '{"errorMessage":"table gone"}' }),
      deps(),
    );
    assert.ok(result.outcome === "failed");
    assert.deepEqual(result.report.error, { name: "DependencyError", message: "table gone" });
  });

  it("leaves a lot the workflow already ended alone", async () => {
    ddb.on(UpdateCommand).rejects(serviceError("ConditionalCheckFailedException", 400));
    const result = await executionEnded(event("FAILED"), deps());
    assert.deepEqual(result, { outcome: "already_final", lotId: LOT });
    assert.equal(sns.calls().length, 0);
  });
});
