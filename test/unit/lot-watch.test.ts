// Listing lots and alerting on stuck ones: statuses, ages, filters, and one alert per stuck execution.
import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, it } from "vitest";
import { formatLots, parseSeconds, parseSince, reprocessExecutionName } from "../../cli/lots.ts";
import { alertStuckLots, listLots, summarise } from "../../functions/lot-watch/core.ts";

const NOW = new Date("2026-11-30T12:00:00.000Z");
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000).toISOString();

const items = [
  {
    pk: "LOT#A",
    sk: "LOT",
    lotId: "A",
    status: "PROCESSING",
    startedAt: hoursAgo(0.5),
    imageCount: 25,
    executionId: "arn:aws:states:us-east-1:0:execution:lot:A",
  },
  {
    pk: "LOT#B",
    sk: "LOT",
    lotId: "B",
    status: "PROCESSING",
    startedAt: hoursAgo(3),
    imageCount: 25,
    executionId: "arn:aws:states:us-east-1:0:execution:lot:B",
  },
  {
    pk: "LOT#C",
    sk: "LOT",
    lotId: "C",
    status: "CLEAN",
    startedAt: hoursAgo(30),
    completedAt: hoursAgo(29.9),
    counts: {
      images: 3,
      clean: 3,
      withDefects: 0,
      failed: 0,
      unusable: 0,
      rejected: 0,
      defects: 0,
    },
    executionId: "arn:aws:states:us-east-1:0:execution:lot:C",
  },
];

describe("listLots", () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  beforeEach(() => {
    ddb.reset();
    // Two pages, as a big table answers.
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: items.slice(0, 2), LastEvaluatedKey: { pk: "LOT#B", sk: "LOT" } })
      .resolvesOnce({ Items: items.slice(2) });
  });

  it("shows a lot processing longer than the limit as STUCK, newest first, across pages", async () => {
    const lots = await listLots(db, "t", { now: NOW, stuckAfterSeconds: 7200 });
    assert.deepEqual(
      lots.map((l) => [l.lotId, l.status]),
      [
        ["A", "PROCESSING"],
        ["B", "STUCK"],
        ["C", "CLEAN"],
      ],
    );
    assert.equal(lots[1]?.ageSeconds, 3 * 3600);
  });

  it("filters by status and by start time", async () => {
    const stuck = await listLots(db, "t", {
      now: NOW,
      statuses: ["STUCK"],
      stuckAfterSeconds: 7200,
    });
    assert.deepEqual(
      stuck.map((l) => l.lotId),
      ["B"],
    );
    ddb.reset();
    ddb.on(ScanCommand).resolves({ Items: items });
    const recent = await listLots(db, "t", { now: NOW, since: new Date(hoursAgo(24)) });
    assert.deepEqual(recent.map((l) => l.lotId).sort(), ["A", "B"]);
  });

  it("formats a table an operator can read", () => {
    const text = formatLots(items.map((i) => summarise(i, NOW, 7200)));
    assert.match(text, /^LOT\s+STATUS\s+AGE\s+COUNTS\s+EXECUTION/);
    assert.match(text, /B\s+STUCK\s+3h\s+25 images\s+B/);
    assert.match(text, /C\s+CLEAN\s+30h\s+3 images: 3 clean/);
  });
});

describe("alertStuckLots", () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const sns = mockClient(SNSClient);
  const deps = () => ({
    db: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    sns: new SNSClient({}),
    table: "t",
    alertTopicArn: "arn:aws:sns:us-east-1:0:alerts",
    stuckAfterSeconds: 7200,
    now: () => NOW,
  });
  beforeEach(() => {
    ddb.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
  });

  it("alerts once per stuck execution and remembers it on the lot", async () => {
    ddb.on(ScanCommand).resolves({ Items: items });
    const alerted = await alertStuckLots(deps());
    assert.deepEqual(
      alerted.map((l) => l.lotId),
      ["B"],
    );
    const alert = JSON.parse(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? "");
    assert.equal(alert.kind, "lot_stuck");
    assert.equal(alert.lotId, "B");
    assert.match(alert.message, /PROCESSING for 180 min/);
    const update = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    assert.equal(update?.ExpressionAttributeValues?.[":marker"], items[1]?.executionId);

    ddb.reset();
    ddb.on(ScanCommand).resolves({
      Items: items.map((i) => (i.lotId === "B" ? { ...i, stuckAlertedAt: i.executionId } : i)),
    });
    sns.resetHistory();
    assert.deepEqual(await alertStuckLots(deps()), []);
    assert.equal(sns.commandCalls(PublishCommand).length, 0, "no second alert");
  });

  it("does not mark a lot that finished between the scan and the alert, and is not upset by it", async () => {
    ddb.on(ScanCommand).resolves({ Items: items.slice(1, 2) });
    ddb
      .on(UpdateCommand)
      .rejects(
        Object.assign(new Error("finished meanwhile"), { name: "ConditionalCheckFailedException" }),
      );
    assert.deepEqual(
      (await alertStuckLots(deps())).map((lot) => lot.lotId),
      ["B"],
    );
    const update = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    assert.equal(update?.ConditionExpression, "#status = :processing");
  });

  it("lets a failed scan or mark out as a dependency failure, naming the table or the lot", async () => {
    ddb.on(ScanCommand).rejects(
      Object.assign(new Error("slow down"), {
        name: "ProvisionedThroughputExceededException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await assert.rejects(alertStuckLots(deps()), {
      name: "TransientDependencyError",
      message: /^scanning t for lots failed/,
    });
    ddb.on(ScanCommand).resolves({ Items: items.slice(1, 2) });
    ddb.on(UpdateCommand).rejects(
      Object.assign(new Error("no"), {
        name: "AccessDeniedException",
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await assert.rejects(alertStuckLots(deps()), {
      name: "DependencyError",
      message: /^marking lot B as alerted failed/,
    });
  });

  it("alerts again when another execution of the lot gets stuck", async () => {
    ddb.on(ScanCommand).resolves({
      Items: [{ ...items[1], stuckAlertedAt: "arn:old-execution" }],
    });
    assert.equal((await alertStuckLots(deps())).length, 1);
  });
});

describe("command-line values", () => {
  it("reads --since as a duration or a date, and refuses anything else", () => {
    assert.equal(parseSince("24h", NOW).toISOString(), hoursAgo(24));
    assert.equal(parseSince("2026-11-01T00:00:00Z").toISOString(), "2026-11-01T00:00:00.000Z");
    assert.throws(() => parseSince("yesterday"), /--since/);
  });
  it("bounds --stuck-after", () => {
    assert.equal(parseSeconds("--stuck-after", "2h"), 7200);
    assert.throws(() => parseSeconds("--stuck-after", "1e20"), /--stuck-after must be/);
    assert.throws(() => parseSeconds("--stuck-after", "0"), /--stuck-after must be/);
  });
  it("names re-runs <lotId>--r<n> within the 80-character execution name limit", () => {
    assert.equal(reprocessExecutionName("LOT-1", 3), "LOT-1--r3");
    const long = "L".repeat(80);
    assert.equal(reprocessExecutionName(long, 12).length, 80);
    assert.ok(reprocessExecutionName(long, 12).endsWith("--r12"));
  });
});
