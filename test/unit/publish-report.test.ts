// The report from a Map's small outcomes: inspected results and failure messages read from S3, refused files from the manifest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { BatchWriteCommand, DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, it } from "vitest";
import { publishReport } from "../../functions/publish-report/core.ts";
import type { ImageResult } from "../../schemas/report.ts";

const LOT = "LOT-R";
const image = (fileName: string) => ({
  fileName,
  key: `lots/${LOT}/images/${fileName}`,
  sha256: "a".repeat(64),
  bytes: 10,
  contentType: "image/png",
});
const manifestText = JSON.stringify({
  schemaVersion: 1,
  lotId: LOT,
  createdAt: "2026-11-30T00:00:00.000Z",
  source: { agent: "test" },
  metadata: {},
  images: [image("a.png"), image("b.png"), image("c.png")],
  rejected: [{ fileName: "empty.png", reason: "file is empty" }],
});
const manifestSha256 = createHash("sha256").update(manifestText).digest("hex");
const body = (text: string) => ({
  transformToString: async () => text,
  transformToByteArray: async () => new TextEncoder().encode(text),
});

describe("publishReport", () => {
  const s3 = mockClient(S3Client);
  const sns = mockClient(SNSClient);
  const ddb = mockClient(DynamoDBDocumentClient);
  const deps = () => ({
    s3: new S3Client({
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    }),
    sns: new SNSClient({}),
    db: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    bucket: "b",
    table: "t",
    reportTopicArn: "arn:topic",
  });
  const base = {
    lotId: LOT,
    executionId: "x",
    manifestKey: `lots/${LOT}/accepted-manifest.json`,
    manifestSha256,
  };

  /** Three images' outcomes (clean, a decode failure, a timeout) for the manifest's a, b, c. */
  const threeOutcomes = {
    ...base,
    executionId: "arn:execution:LOT-R",
    results: [
      { index: 0, status: "clean" as const, defectCount: 0 },
      { index: 1, status: "failed" as const, error: { name: "ImageDecodeError" } },
      { index: 2, status: "failed" as const, error: { name: "States.Timeout" } },
    ],
  };

  beforeEach(() => {
    s3.reset();
    sns.reset();
    ddb.reset();
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    ddb.on(BatchWriteCommand).resolves({});
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/accepted-manifest.json` }).resolves({
      Body: body(manifestText) as never,
    });
    const clean: ImageResult = {
      fileName: "a.png",
      key: image("a.png").key,
      status: "clean",
      model: { name: "classical", version: "1" },
      defects: [],
    };
    const failed: ImageResult = {
      fileName: "b.png",
      key: image("b.png").key,
      status: "failed",
      error: { name: "ImageDecodeError", message: "image data is corrupt: bad IDAT" },
      defects: [],
    };
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/results/a.png.json` }).resolves({
      Body: body(JSON.stringify(clean)) as never,
    });
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/results/b.png.json` }).resolves({
      Body: body(JSON.stringify(failed)) as never,
    });
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/results/c.png.json` }).rejects(
      Object.assign(new Error("no such key"), { name: "NoSuchKey" }),
    );
  });

  it("accounts for every file: inspected, failed (message from S3 or the logs), rejected", async () => {
    const report = await publishReport(threeOutcomes, deps());
    assert.deepEqual(
      report.images.map((i) => [i.fileName, i.status]),
      [
        ["a.png", "clean"],
        ["b.png", "failed"],
        ["c.png", "failed"],
        ["empty.png", "rejected"],
      ],
    );
    assert.equal(report.images[1]?.error?.message, "image data is corrupt: bad IDAT");
    assert.equal(report.images[2]?.error?.name, "States.Timeout");
    assert.match(report.images[2]?.error?.message ?? "", /logs/);
    assert.equal(report.images[3]?.error?.message, "file is empty");
    assert.deepEqual(
      [report.counts.images, report.counts.clean, report.counts.failed, report.counts.rejected],
      [4, 1, 2, 1],
    );
    assert.equal(report.status, "incomplete");
  });

  it("rewrites each image's item whole in one batch: RecordLot's attributes kept, the outcome over PENDING", async () => {
    const report = await publishReport(threeOutcomes, deps());
    // The lot's own item is still an update (RecordLot's lot attributes stay); no image is one.
    assert.deepEqual(
      ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.Key),
      [{ pk: `LOT#${LOT}`, sk: "LOT" }],
    );
    const batches = ddb.commandCalls(BatchWriteCommand);
    assert.equal(batches.length, 1, "four images, one request");
    const items = (batches[0]?.args[0].input.RequestItems?.t ?? []).map(
      (request) => request.PutRequest?.Item,
    );
    const recorded = (index: number, fileName: string) => ({
      pk: `LOT#${LOT}`,
      sk: `IMAGE#${fileName}`,
      entity: "image",
      lotId: LOT,
      index,
      fileName,
      key: image(fileName).key,
      sha256: image(fileName).sha256,
      bytes: image(fileName).bytes,
      updatedAt: report.completedAt,
    });
    assert.deepEqual(items, [
      { ...recorded(0, "a.png"), status: "CLEAN", defectCount: 0 },
      {
        ...recorded(1, "b.png"),
        status: "FAILED",
        defectCount: 0,
        error: { name: "ImageDecodeError", message: "image data is corrupt: bad IDAT" },
      },
      {
        ...recorded(2, "c.png"),
        status: "FAILED",
        defectCount: 0,
        error: report.images[2]?.error,
      },
      // Refused by the agent, never recorded: the outcome alone, as before.
      {
        pk: `LOT#${LOT}`,
        sk: "IMAGE#empty.png",
        status: "REJECTED",
        defectCount: 0,
        error: { name: "Rejected", message: "file is empty" },
        updatedAt: report.completedAt,
      },
    ]);
  });

  it("writes a 1000-image lot's items in 40 requests of 25", async () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      image(`w${String(i).padStart(4, "0")}.png`),
    );
    const text = JSON.stringify({ ...JSON.parse(manifestText), images: many, rejected: [] });
    // No stored failure records: each message says to look in the logs.
    s3.on(GetObjectCommand).rejects(Object.assign(new Error("no such key"), { name: "NoSuchKey" }));
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/accepted-manifest.json` }).resolves({
      Body: body(text) as never,
    });
    await publishReport(
      {
        lotId: LOT,
        executionId: "x",
        manifestKey: `lots/${LOT}/accepted-manifest.json`,
        manifestSha256: createHash("sha256").update(text).digest("hex"),
        results: many.map((_, index) => ({
          index,
          status: "failed" as const,
          error: { name: "ImageSizeError" },
        })),
      },
      deps(),
    );
    const sizes = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.t?.length);
    assert.deepEqual(
      sizes,
      Array.from({ length: 40 }, () => 25),
    );
    assert.equal(ddb.commandCalls(UpdateCommand).length, 1, "the lot's item only");
  });

  it("refuses a manifest that is not the one the lot was recorded with", async () => {
    await assert.rejects(
      publishReport(
        {
          lotId: LOT,
          executionId: "x",
          manifestKey: `lots/${LOT}/accepted-manifest.json`,
          manifestSha256: "f".repeat(64),
          results: [],
        },
        deps(),
      ),
      { name: "ManifestChangedError" },
    );
  });

  it("names an image the Map left without an outcome as failed, NoOutcome", async () => {
    const report = await publishReport(
      { ...base, results: [{ index: 0, status: "clean", defectCount: 0 }] },
      deps(),
    );
    assert.deepEqual(report.images[1]?.error?.name, "NoOutcome");
    assert.deepEqual(report.images[2]?.error?.name, "NoOutcome");
  });

  it("refuses to call an image inspected whose result is missing or malformed", async () => {
    await assert.rejects(
      publishReport({ ...base, results: [{ index: 2, status: "clean", defectCount: 0 }] }, deps()),
      { name: "ModelResponseError", message: /result of c\.png is missing/ },
    );
    s3.on(GetObjectCommand, { Key: `lots/${LOT}/results/a.png.json` }).resolves({
      Body: body(JSON.stringify({ fileName: "a.png", status: "shiny" })) as never,
    });
    await assert.rejects(
      publishReport({ ...base, results: [{ index: 0, status: "clean", defectCount: 0 }] }, deps()),
      { name: "ModelResponseError", message: /stored result .*a\.png\.json is malformed/ },
    );
  });

  it("stores the report before it publishes it, and publishes nothing when storing fails", async () => {
    const results = [{ index: 0, status: "clean" as const, defectCount: 0 }];
    await publishReport({ ...base, results }, deps());
    const reportPut = s3
      .commandCalls(PutObjectCommand)
      .find((call) => call.args[0].input.Key === `lots/${LOT}/report.json`);
    assert.ok(reportPut, "the report is stored");
    assert.equal(sns.commandCalls(PublishCommand).length, 1);
    sns.resetHistory();
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error("down"), {
        name: "ServiceUnavailable",
        $metadata: { httpStatusCode: 503 },
      }),
    );
    await assert.rejects(publishReport({ ...base, results }, deps()), {
      name: "TransientDependencyError",
    });
    assert.equal(
      sns.commandCalls(PublishCommand).length,
      0,
      "no message points at a missing report",
    );
  });
});
