// RecordLot with a mocked table: the lot and image items it writes, and how batchPut copes with unprocessed items.
import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, it, vi } from "vitest";
import { recordLot } from "../../functions/record-lot/core.ts";
import { manifestImage, manifestText, s3Body, serviceError } from "../helpers/aws-fakes.ts";

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const LOT = "LOT-REC";
const manifestKey = `lots/${LOT}/accepted-manifest.json`;

type Put = { PutRequest: { Item: Record<string, unknown> } };
const sentItems = () =>
  ddb
    .commandCalls(BatchWriteCommand)
    .map((call) => (call.args[0].input.RequestItems?.lots ?? []) as Put[]);

function deps() {
  return {
    s3: new S3Client({ region: "us-east-1" }),
    db: DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })),
    bucket: "b",
    table: "lots",
    now: () => new Date("2026-11-30T01:00:00.000Z"),
  };
}
const input = {
  lotId: LOT,
  manifestKey,
  executionId: "arn:execution",
  startedAt: "2026-11-30T00:59:00.000Z",
};

describe("recordLot", () => {
  beforeEach(() => {
    s3.reset();
    ddb.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes the lot item and one PENDING item per image, and hands on their indexes", async () => {
    const images = Array.from({ length: 30 }, (_, i) => manifestImage(LOT, `w${i}.png`, `px${i}`));
    const manifest = manifestText(LOT, images, {
      rejected: [{ fileName: "empty.png", reason: "file is empty" }],
    });
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    ddb.on(BatchWriteCommand).resolves({});
    const output = await recordLot(input, deps());
    assert.deepEqual(output, {
      manifestSha256: manifest.sha256,
      imageCount: 30,
      rejectedCount: 1,
      indexes: Array.from({ length: 30 }, (_, i) => i),
    });
    const batches = sentItems();
    assert.deepEqual(
      batches.map((batch) => batch.length),
      [25, 6],
      "31 items in batches of 25",
    );
    const [lot, ...imageItems] = batches.flat().map((put) => put.PutRequest.Item);
    assert.deepEqual(lot, {
      pk: `LOT#${LOT}`,
      sk: "LOT",
      entity: "lot",
      lotId: LOT,
      status: "PROCESSING",
      manifestKey,
      manifestSha256: manifest.sha256,
      metadata: { waferDiameterMm: 300 },
      imageCount: 30,
      rejectedCount: 1,
      executionId: "arn:execution",
      startedAt: input.startedAt,
      updatedAt: "2026-11-30T01:00:00.000Z",
    });
    assert.deepEqual(imageItems[7], {
      pk: `LOT#${LOT}`,
      sk: "IMAGE#w7.png",
      entity: "image",
      lotId: LOT,
      index: 7,
      fileName: "w7.png",
      key: `lots/${LOT}/images/w7.png`,
      sha256: images[7]?.sha256,
      bytes: 3,
      status: "PENDING",
      updatedAt: "2026-11-30T01:00:00.000Z",
    });
  });

  it("refuses a manifest recorded for another lot, writing nothing", async () => {
    const manifest = manifestText("LOT-OTHER", [manifestImage("LOT-OTHER", "w.png")]);
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    await assert.rejects(recordLot(input, deps()), {
      name: "ManifestInvalidError",
      message: /is for lot LOT-OTHER, not LOT-REC/,
    });
    assert.equal(ddb.calls().length, 0);
  });

  it("names a manifest that is gone, unreadable or invalid", async () => {
    s3.on(GetObjectCommand, { Key: manifestKey }).rejects(serviceError("NoSuchKey", 404));
    await assert.rejects(recordLot(input, deps()), { name: "ManifestMissingError" });
    s3.on(GetObjectCommand, { Key: manifestKey }).rejects(serviceError("SlowDown", 503));
    await assert.rejects(recordLot(input, deps()), { name: "TransientDependencyError" });
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body("{not json"));
    await assert.rejects(recordLot(input, deps()), { name: "ManifestInvalidError" });
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body('{"lotId":"LOT-REC"}'));
    await assert.rejects(recordLot(input, deps()), {
      name: "ManifestInvalidError",
      message: /is invalid: .*schemaVersion/,
    });
  });

  it("sends back what DynamoDB left unprocessed until it is written", async () => {
    vi.useFakeTimers();
    const manifest = manifestText(LOT, [manifestImage(LOT, "a.png"), manifestImage(LOT, "b.png")]);
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    let call = 0;
    ddb.on(BatchWriteCommand).callsFake((request: { RequestItems: { lots: Put[] } }) => {
      call++;
      // Twice in a row DynamoDB takes all but the last item.
      return call <= 2 ? { UnprocessedItems: { lots: request.RequestItems.lots.slice(-1) } } : {};
    });
    const done = recordLot(input, deps());
    await vi.runAllTimersAsync();
    await done;
    assert.deepEqual(
      sentItems().map((batch) => batch.map((put) => put.PutRequest.Item.sk)),
      [["LOT", "IMAGE#a.png", "IMAGE#b.png"], ["IMAGE#b.png"], ["IMAGE#b.png"]],
    );
  });

  it("gives up as TransientDependencyError (the state's Retry) when items stay unprocessed", async () => {
    vi.useFakeTimers();
    const manifest = manifestText(LOT, [manifestImage(LOT, "a.png")]);
    s3.on(GetObjectCommand, { Key: manifestKey }).resolves(s3Body(manifest.text));
    ddb.on(BatchWriteCommand).callsFake((request: { RequestItems: { lots: Put[] } }) => ({
      UnprocessedItems: { lots: request.RequestItems.lots },
    }));
    const done = recordLot(input, deps());
    const outcome = assert.rejects(done, {
      name: "TransientDependencyError",
      message: "2 items stayed unprocessed in lots",
    });
    await vi.runAllTimersAsync();
    await outcome;
    assert.equal(ddb.commandCalls(BatchWriteCommand).length, 6, "one try and five more");
  });
});
