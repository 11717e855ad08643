// EventBridge pattern matching and the "Object Created" event the local trigger delivers.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { formatDeadLetters } from "../../cli/lots.ts";
import type { LambdaInvoker } from "../../local/lambda.ts";
import type { LocalEventRule, LocalFunction } from "../../local/resource-model.ts";
import { patternProblems } from "../../local/template-support.ts";
import {
  createTrigger,
  executionStatusChangeEvent,
  matchesPattern,
  objectCreatedEvent,
  readDeadLetters,
} from "../../local/trigger.ts";
import { ExecutionStatusChangeEventSchema } from "../../schemas/execution-event.ts";

const createdInput = {
  bucket: "lots-bucket",
  key: "lots/LOT-1/manifest.json",
  size: 123,
  etag: "abc",
  requestId: "REQ1",
  sourceIp: "127.0.0.1",
  time: "2026-11-26T07:00:00.123Z",
  reason: "PutObject",
};
const created = objectCreatedEvent(createdInput);

describe("objectCreatedEvent", () => {
  it("has the shape S3 sends to EventBridge", () => {
    assert.equal(created.version, "0");
    assert.equal(created["detail-type"], "Object Created");
    assert.equal(created.source, "aws.s3");
    assert.equal(created.account, "000000000000");
    assert.equal(created.region, "us-east-1");
    assert.equal(created.time, "2026-11-26T07:00:00Z");
    assert.deepEqual(created.resources, ["arn:aws:s3:::lots-bucket"]);
    assert.deepEqual(created.detail.bucket, { name: "lots-bucket" });
    assert.equal(created.detail.object.key, "lots/LOT-1/manifest.json");
    assert.equal(created.detail.object.size, 123);
    assert.equal(created.detail.object.etag, "abc");
    assert.equal(created.detail["request-id"], "REQ1");
    assert.equal(created.detail.reason, "PutObject");
    assert.match(created.id, /^[0-9a-f-]{36}$/);
  });

  it("gives later events of a key a greater sequencer, as S3 does", () => {
    const later = objectCreatedEvent({ ...createdInput, time: created.time });
    assert.equal(later.detail.object.sequencer.length, created.detail.object.sequencer.length);
    assert.ok(later.detail.object.sequencer > created.detail.object.sequencer);
  });
});

describe("matchesPattern", () => {
  const keyPattern = (filter: unknown) => ({
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: { bucket: { name: ["lots-bucket"] }, object: { key: [filter] } },
  });

  it("matches the template's wildcard rule and refuses other keys", () => {
    const pattern = keyPattern({ wildcard: "lots/*/manifest.json" });
    assert.equal(matchesPattern(pattern, created), true);
    const image = {
      ...created,
      detail: {
        ...created.detail,
        object: { ...created.detail.object, key: "lots/LOT-1/images/a.png" },
      },
    };
    assert.equal(matchesPattern(pattern, image), false);
  });

  it("matches exact values", () => {
    assert.equal(matchesPattern(keyPattern("lots/LOT-1/manifest.json"), created), true);
    assert.equal(matchesPattern(keyPattern("lots/LOT-2/manifest.json"), created), false);
  });

  it("needs every field to match, and any one value of a list", () => {
    assert.equal(matchesPattern({ source: ["aws.ec2", "aws.s3"] }, created), true);
    assert.equal(
      matchesPattern({ source: ["aws.s3"], "detail-type": ["Object Deleted"] }, created),
      false,
    );
    assert.equal(matchesPattern({ detail: { bucket: { name: ["other"] } } }, created), false);
    assert.equal(matchesPattern({ detail: { missing: ["x"] } }, created), false);
  });

  it("is only asked to run exact values and wildcard: the stack refuses other operators at start", () => {
    assert.deepEqual(patternProblems(keyPattern({ wildcard: "lots/*" }), "R"), []);
    assert.deepEqual(
      patternProblems(
        { detail: { reason: [{ "anything-but": "CopyObject" }] }, source: "aws.s3" },
        "R",
      ),
      [
        "R.detail.reason: operator anything-but (only exact values and wildcard run)",
        "R.source: a pattern value must be a list",
      ],
    );
  });

  it("treats a '*' escaped in a wildcard as a literal star", () => {
    const starred = { detail: { object: { key: "a*b" } } };
    assert.equal(
      matchesPattern({ detail: { object: { key: [{ wildcard: "a\\*b" }] } } }, starred),
      true,
    );
    assert.equal(
      matchesPattern(
        { detail: { object: { key: [{ wildcard: "a\\*b" }] } } },
        { detail: { object: { key: "axb" } } },
      ),
      false,
    );
  });
});

describe("createTrigger", () => {
  /** Every trigger's data dir lives under one scratch dir, removed at the end. */
  const scratch = mkdtempSync(join(tmpdir(), "wf-trigger-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const freshDataDir = () => mkdtempSync(join(scratch, "data-"));
  const target: LocalFunction = {
    logicalId: "StartLotFunction",
    name: "local-StartLotFunction",
    arn: "arn:aws:lambda:us-east-1:000000000000:function:local-StartLotFunction",
    modulePath: "/nowhere/handler.ts",
    exportName: "handler",
    timeoutSeconds: 3,
    memorySizeMb: 128,
    environment: {},
    asyncInvoke: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 3600, deadLetterQueue: "dlq" },
  };
  const rule: LocalEventRule = {
    id: "StartLotFunction.ManifestCreated",
    pattern: { source: ["aws.s3"], detail: { object: { key: [{ wildcard: "*/manifest.json" }] } } },
    targetFunction: "StartLotFunction",
  };
  /** An invoker whose function fails `failures` times, then succeeds. */
  const flakyInvoker = (failures: number) => {
    const events: unknown[] = [];
    let notify = () => {};
    const invoker: LambdaInvoker = {
      async invoke(_fn, event) {
        events.push(event);
        notify();
        if (events.length <= failures) throw new Error(`failure ${events.length}`);
        return null;
      },
    };
    const invoked = (count: number) =>
      new Promise<void>((done) => {
        notify = () => {
          if (events.length >= count) done();
        };
        notify();
      });
    return { invoker, events, invoked };
  };
  const triggerWith = (
    invoker: LambdaInvoker,
    retryDelaysMs: number[],
    log: string[],
    more: Partial<Parameters<typeof createTrigger>[0]> = {},
  ) =>
    createTrigger({
      eventBridgeBuckets: ["lots-bucket"],
      rules: [rule],
      functions: [target],
      invoker,
      log: (line) => log.push(line),
      retryDelaysMs,
      // The fixture's object was created in the past: by default the clock stands at that moment.
      now: () => Date.parse(createdInput.time),
      dataDir: freshDataDir(),
      ...more,
    });
  const deadLetters = (dataDir: string) => readDeadLetters(dataDir);

  it("retries a failed delivery as Lambda retries an asynchronous invocation, then gives up", async () => {
    const log: string[] = [];
    const { invoker, events, invoked } = flakyInvoker(10);
    const trigger = triggerWith(invoker, [0, 0], log);
    trigger.onObjectCreated(createdInput);
    await invoked(3);
    await trigger.drain();
    assert.equal(events.length, 3);
    const failures = log.filter((line) => line.includes("failed ("));
    assert.equal(failures.length, 3);
    assert.match(failures[0] ?? "", /attempt 1 of 3\): Error: failure 1; retrying in 0 s$/);
    assert.match(failures[2] ?? "", /attempt 3 of 3\): Error: failure 3$/);
    assert.deepEqual(events[2], events[0], "the same event is delivered again");
  });

  it("retries only as often as the function's EventInvokeConfig says", async () => {
    const log: string[] = [];
    const { invoker, events, invoked } = flakyInvoker(10);
    const noRetries = {
      ...target,
      asyncInvoke: { ...target.asyncInvoke, maximumRetryAttempts: 0 },
    };
    const trigger = triggerWith(invoker, [0, 0], log, { functions: [noRetries] });
    trigger.onObjectCreated(createdInput);
    await invoked(1);
    await trigger.drain();
    assert.equal(events.length, 1);
    assert.ok(log.some((line) => /attempt 1 of 1\): Error: failure 1$/.test(line)));
  });

  it("sends an event it gives up on to the function's dead-letter queue, whole", async () => {
    const log: string[] = [];
    const dataDir = freshDataDir();
    const { invoker, events, invoked } = flakyInvoker(10);
    const trigger = triggerWith(invoker, [0, 0], log, { dataDir });
    trigger.onObjectCreated(createdInput);
    await invoked(3);
    await trigger.drain();
    const [letter, ...others] = deadLetters(dataDir);
    assert.equal(others.length, 0);
    assert.equal(letter?.queue, "dlq");
    assert.equal(letter?.function, "StartLotFunction");
    assert.equal(letter?.reason, "all 3 attempts failed");
    assert.deepEqual(letter?.event, events[0]);
    assert.deepEqual(JSON.parse(readFileSync(letter?.eventFile ?? "", "utf8")), events[0]);
    assert.ok(log.some((line) => line.includes("sent to dead-letter queue dlq")));
    assert.match(
      formatDeadLetters(deadLetters(dataDir)),
      /^1 event\(s\) the stack gave up on[^\n]*\n {2}DEAD-LETTER {2}dlq {2}StartLotFunction {2}s3:\/\/lots-bucket\/lots\/LOT-1\/manifest\.json \(PutObject\): all 3 attempts failed {2}\/.*\.event\.json$/,
    );
  });

  it("does not try again an event older than MaximumEventAgeInSeconds: it is dead-lettered", async () => {
    const log: string[] = [];
    const dataDir = freshDataDir();
    const { invoker, events, invoked } = flakyInvoker(10);
    // The clock stands two hours after the object was created: past the 3600 s the function allows.
    const now = () => Date.parse(createdInput.time) + 7_200_000;
    const trigger = triggerWith(invoker, [0, 0], log, {
      dataDir,
      now,
    });
    trigger.onObjectCreated(createdInput);
    await invoked(1);
    while (deadLetters(dataDir).length === 0) await new Promise((r) => setTimeout(r, 5));
    await trigger.drain();
    assert.equal(events.length, 1, "the first attempt runs; the retry is refused for age");
    const [letter] = deadLetters(dataDir);
    assert.match(
      letter?.reason ?? "",
      /older than MaximumEventAgeInSeconds \(3600 s\) before attempt 2 of 3/,
    );
  });

  it("stops retrying once a delivery succeeds", async () => {
    const log: string[] = [];
    const { invoker, events, invoked } = flakyInvoker(1);
    const trigger = triggerWith(invoker, [0, 0], log);
    trigger.onObjectCreated(createdInput);
    await invoked(2);
    await trigger.drain();
    assert.equal(events.length, 2);
  });

  it("drops retries still waiting when the stack stops, and says so", async () => {
    const log: string[] = [];
    const { invoker, events, invoked } = flakyInvoker(10);
    const trigger = triggerWith(invoker, [3_600_000], log);
    trigger.onObjectCreated(createdInput);
    await invoked(1);
    await trigger.drain();
    assert.equal(events.length, 1);
    assert.ok(log.some((line) => line.includes("dropping 1 pending delivery retries")));
  });

  it("delivers nothing for buckets without EventBridge notifications or keys no rule matches", async () => {
    const log: string[] = [];
    const { invoker, events } = flakyInvoker(0);
    const trigger = triggerWith(invoker, [], log);
    trigger.onObjectCreated({ ...createdInput, bucket: "quiet-bucket" });
    trigger.onObjectCreated({ ...createdInput, key: "lots/LOT-1/images/a.png" });
    await trigger.drain();
    assert.equal(events.length, 0);
  });
});

describe("executionStatusChangeEvent", () => {
  const machine = "arn:aws:states:us-east-1:000000000000:stateMachine:lots";
  const ended = executionStatusChangeEvent({
    executionArn: "arn:aws:states:us-east-1:000000000000:execution:lots:LOT-1",
    stateMachineArn: machine,
    name: "LOT-1",
    status: "ABORTED",
    input: '{"lotId":"LOT-1"}',
    startDate: "2026-11-26T07:00:00.000Z",
    stopDate: "2026-11-26T07:00:05.250Z",
  });
  const rulePattern = {
    source: ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [machine] },
  };

  it("has the shape Step Functions sends to EventBridge (dates in epoch ms, nulls for what is absent)", () => {
    assert.equal(ExecutionStatusChangeEventSchema.safeParse(ended).success, true);
    assert.equal(ended.time, "2026-11-26T07:00:05Z");
    assert.deepEqual(ended.resources, [ended.detail.executionArn]);
    assert.equal(ended.detail.startDate, Date.parse("2026-11-26T07:00:00.000Z"));
    assert.equal(ended.detail.stopDate, Date.parse("2026-11-26T07:00:05.250Z"));
    assert.equal(ended.detail.error, null);
    assert.equal(ended.detail.output, null);
  });

  it("matches the template's rule only for ends without a report, of the lot state machine", () => {
    assert.equal(matchesPattern(rulePattern, ended), true);
    const succeeded = { ...ended, detail: { ...ended.detail, status: "SUCCEEDED" } };
    assert.equal(matchesPattern(rulePattern, succeeded), false);
    const other = { ...ended, detail: { ...ended.detail, stateMachineArn: `${machine}-other` } };
    assert.equal(matchesPattern(rulePattern, other), false);
  });
});
