// The eight Lambda entries as they ship (functions/*/handler.ts), with mocked SDK clients: their outputs and error names.
import assert from "node:assert/strict";
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import {
  InvokeEndpointCommand,
  ModelError,
  SageMakerRuntimeClient,
} from "@aws-sdk/client-sagemaker-runtime";
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, it, vi } from "vitest";
import type { LambdaHandler } from "../../functions/lambda-handler.ts";
import { lotKeys } from "../../lib/keys.ts";
import { manifestImage, manifestText, s3Body, serviceError } from "../helpers/aws-fakes.ts";

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const ddb = mockClient(DynamoDBDocumentClient);
const sagemaker = mockClient(SageMakerRuntimeClient);

const LOT = "LOT-H";
const BUCKET = "lot-bucket";
const pixels = "\x89PNG pretend pixels";
const images = [manifestImage(LOT, "w1.png", pixels), manifestImage(LOT, "w2.png", "other")];
const manifest = manifestText(LOT, images);
const manifestKey = lotKeys.acceptedManifest(LOT);

type Handlers = Record<
  | "startLot"
  | "recordLot"
  | "preprocessImage"
  | "detectDefects"
  | "publishReport"
  | "failLot"
  | "executionEnded"
  | "lotWatch",
  LambdaHandler<unknown>
>;
let handlers: Handlers;

/** The failed result a handler kept in S3 for an image, if any. */
function storedFailure(fileName: string): { status: string; error: { name: string } } | undefined {
  const put = s3
    .commandCalls(PutObjectCommand)
    .find((call) => call.args[0].input.Key === lotKeys.result(LOT, fileName));
  return put ? JSON.parse(String(put.args[0].input.Body)) : undefined;
}

describe("Lambda handlers (functions/*/handler.ts)", () => {
  beforeAll(async () => {
    // Each module reads its configuration at load: one environment with every variable they need.
    for (const [name, value] of Object.entries({
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      BUCKET_NAME: BUCKET,
      TABLE_NAME: "lots",
      ENDPOINT_NAME: "detector",
      STATE_MACHINE_ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:lot",
      ALERT_TOPIC_ARN: "arn:aws:sns:us-east-1:000000000000:alerts",
      REPORT_TOPIC_ARN: "arn:aws:sns:us-east-1:000000000000:reports",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    })) {
      vi.stubEnv(name, value);
    }
    const load = async (name: string) =>
      ((await import(`../../functions/${name}/handler.ts`)) as { handler: LambdaHandler<unknown> })
        .handler;
    handlers = {
      startLot: await load("start-lot"),
      recordLot: await load("record-lot"),
      preprocessImage: await load("preprocess-image"),
      detectDefects: await load("detect-defects"),
      publishReport: await load("publish-report"),
      failLot: await load("fail-lot"),
      executionEnded: await load("execution-ended"),
      lotWatch: await load("lot-watch"),
    };
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  beforeEach(() => {
    for (const mock of [s3, sfn, sns, ddb, sagemaker]) mock.reset();
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    s3.on(GetObjectCommand, { Key: images[0]?.key }).resolves(s3Body(pixels));
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(BatchWriteCommand).resolves({});
  });

  it("StartLot ignores another bucket's object and refuses an event that is not Object Created", async () => {
    const event = {
      "detail-type": "Object Created",
      source: "aws.s3",
      detail: { bucket: { name: "elsewhere" }, object: { key: `lots/${LOT}/manifest.json` } },
    };
    const result = (await handlers.startLot(event)) as { outcome: string };
    assert.equal(result.outcome, "ignored");
    assert.equal(s3.commandCalls(GetObjectCommand).length, 0);
    await assert.rejects(handlers.startLot({ source: "aws.s3" }), {
      name: "InvalidInputError",
      message: /^invalid S3 Object Created event: /,
    });
  });

  it("StartLot starts the execution named after the lot", async () => {
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/manifest.json` }).resolves(s3Body(manifest.text));
    s3.on(GetObjectCommand, { Key: manifestKey }).rejects(serviceError("NoSuchKey", 404));
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:execution" });
    const result = await handlers.startLot({
      "detail-type": "Object Created",
      source: "aws.s3",
      detail: { bucket: { name: BUCKET }, object: { key: `lots/${LOT}/manifest.json` } },
    });
    assert.deepEqual(result, { outcome: "started", lotId: LOT, executionArn: "arn:execution" });
    assert.equal(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.name, LOT);
  });

  it("RecordLot hands the Map one index per image", async () => {
    const result = await handlers.recordLot({
      lotId: LOT,
      manifestKey,
      executionId: "arn:execution",
      startedAt: "2026-11-30T00:00:00.000Z",
    });
    assert.deepEqual(result, {
      manifestSha256: manifest.sha256,
      imageCount: 2,
      rejectedCount: 0,
      indexes: [0, 1],
    });
  });

  it("RecordLot lets a throttled table out as TransientDependencyError, which Retry matches", async () => {
    ddb.on(BatchWriteCommand).rejects(serviceError("ProvisionedThroughputExceededException", 400));
    await assert.rejects(
      handlers.recordLot({ lotId: LOT, manifestKey, executionId: "e", startedAt: "s" }),
      (error: Error) => {
        assert.equal(error.name, "TransientDependencyError");
        assert.equal(error.stack, "", "no stack in the Cause");
        return true;
      },
    );
  });

  it("PreprocessImage names an image missing from S3 and keeps the failure with the image", async () => {
    s3.on(GetObjectCommand, { Key: images[1]?.key }).rejects(serviceError("NoSuchKey", 404));
    await assert.rejects(
      handlers.preprocessImage({
        lotId: LOT,
        manifestKey,
        manifestSha256: manifest.sha256,
        index: 1,
      }),
      { name: "ImageMissingError" },
    );
    assert.equal(storedFailure("w2.png")?.error.name, "ImageMissingError");
  });

  it("PreprocessImage keeps no failure when the manifest does not name the image", async () => {
    await assert.rejects(
      handlers.preprocessImage({
        lotId: LOT,
        manifestKey,
        manifestSha256: manifest.sha256,
        index: 5,
      }),
      { name: "ImageIndexError" },
    );
    assert.equal(s3.commandCalls(PutObjectCommand).length, 0);
  });

  const detectInput = {
    lotId: LOT,
    index: 0,
    metadata: {},
    image: images[0],
    preprocessed: { format: "png", width: 600, height: 600, bitDepth: 8, bytes: pixels.length },
  };

  it("DetectDefects names a model's refusal ImageRejectedByModelError and keeps it with the image", async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(
      new ModelError({
        message: "refused",
        $metadata: { httpStatusCode: 424 },
        OriginalStatusCode: 422,
        OriginalMessage: '{"error":{"name":"NoWaferError","message":"no wafer in the frame"}}',
      }),
    );
    await assert.rejects(handlers.detectDefects(detectInput), {
      name: "ImageRejectedByModelError",
      message: /422.*NoWaferError: no wafer in the frame/,
    });
    assert.equal(storedFailure("w1.png")?.error.name, "ImageRejectedByModelError");
  });

  it("DetectDefects lets a failing endpoint out as TransientDependencyError (EndpointUnavailable's Catch)", async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(serviceError("ServiceUnavailable", 503));
    await assert.rejects(handlers.detectDefects(detectInput), { name: "TransientDependencyError" });
  });

  it("PublishReport returns the report's summary, not the report", async () => {
    s3.on(GetObjectCommand, { Key: lotKeys.result(LOT, "w1.png") }).resolves(
      s3Body(
        JSON.stringify({
          fileName: "w1.png",
          key: images[0]?.key,
          status: "failed",
          error: { name: "ImageDecodeError", message: "corrupt" },
          defects: [],
        }),
      ),
    );
    s3.on(GetObjectCommand, { Key: lotKeys.result(LOT, "w2.png") }).rejects(
      serviceError("NoSuchKey", 404),
    );
    const result = (await handlers.publishReport({
      lotId: LOT,
      executionId: "arn:execution",
      manifestKey,
      manifestSha256: manifest.sha256,
      results: [
        { index: 0, status: "failed", error: { name: "ImageDecodeError" } },
        { index: 1, status: "failed", error: { name: "States.Timeout" } },
      ],
    })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(result).sort(), ["counts", "lotId", "reportKey", "status"]);
    assert.equal(result.status, "incomplete");
    assert.equal(result.reportKey, lotKeys.report(LOT));
  });

  it("MarkLotFailed says already_final when another path ended the lot", async () => {
    ddb.on(UpdateCommand).rejects(serviceError("ConditionalCheckFailedException", 400));
    const result = await handlers.failLot({
      lotId: LOT,
      executionId: "arn:execution",
      error: { Error: "States.Timeout" },
    });
    assert.deepEqual(result, { lotId: LOT, status: "already_final" });
    assert.equal(sns.commandCalls(PublishCommand).length, 0);
  });

  it("MarkLotFailed returns the failed report's key", async () => {
    const result = await handlers.failLot({
      lotId: LOT,
      executionId: "arn:execution",
      manifestKey,
      error: { Error: "ManifestInvalidError", Cause: '{"errorMessage":"bad"}' },
    });
    assert.deepEqual(result, { lotId: LOT, status: "failed", reportKey: lotKeys.report(LOT) });
  });

  it("ExecutionEnded leaves a running execution alone and marks a timed-out one FAILED", async () => {
    const event = (status: string) => ({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      time: "2026-11-30T01:00:00Z",
      detail: {
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:lot:${LOT}`,
        stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:lot",
        name: LOT,
        status,
        startDate: 1,
        input: JSON.stringify({ lotId: LOT, manifestKey }),
      },
    });
    assert.deepEqual(await handlers.executionEnded(event("RUNNING")), {
      outcome: "ignored",
      reason: "status RUNNING is not an end without a report",
    });
    assert.deepEqual(await handlers.executionEnded(event("TIMED_OUT")), {
      lotId: LOT,
      outcome: "failed",
    });
  });

  it("LotWatch lists the lots it alerted on", async () => {
    ddb.on(ScanCommand).resolves({
      Items: [
        {
          lotId: LOT,
          status: "PROCESSING",
          startedAt: "2020-01-01T00:00:00.000Z",
          executionId: "arn:execution",
        },
      ],
    });
    assert.deepEqual(await handlers.lotWatch({ source: "aws.events" }), { stuck: [LOT] });
  });

  it("LotWatch lets a refused scan out as DependencyError", async () => {
    ddb.on(ScanCommand).rejects(serviceError("AccessDeniedException", 403) as S3ServiceException);
    await assert.rejects(handlers.lotWatch({}), { name: "DependencyError" });
  });
});
