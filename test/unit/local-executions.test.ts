// The local execution engine on a small definition with fake handlers: Retry and Catch by error name, Map, the 256 KiB limits, names.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { localArn } from "../../local/account.ts";
import { LambdaInvocationError, ServiceApiError, TemplateError } from "../../local/errors.ts";
import { createExecutionEngine, retryOverrides } from "../../local/executions.ts";
import type { LambdaInvoker } from "../../local/lambda.ts";
import type { LocalFunction, LocalStateMachine } from "../../local/resource-model.ts";

const fn = (logicalId: string): LocalFunction => ({
  logicalId,
  name: logicalId,
  arn: localArn("lambda", `function:${logicalId}`),
  modulePath: "",
  exportName: "handler",
  timeoutSeconds: 60,
  memorySizeMb: 128,
  environment: {},
  asyncInvoke: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 },
});
const functions = [fn("Work"), fn("Double"), fn("Report")];
const [work, double, report] = functions.map((f) => f.arn);

const machine: LocalStateMachine = {
  logicalId: "Machine",
  name: "machine",
  arn: localArn("states", "stateMachine:machine"),
  roleArn: localArn("iam", "role/machine-role"),
  definition: {
    StartAt: "Work",
    States: {
      Work: {
        Type: "Task",
        Resource: work,
        ResultPath: "$.work",
        Retry: [{ ErrorEquals: ["TransientError"], IntervalSeconds: 1, MaxAttempts: 1 }],
        Catch: [{ ErrorEquals: ["LotRejectedError"], ResultPath: "$.error", Next: "Rejected" }],
        Next: "EachItem",
      },
      EachItem: {
        Type: "Map",
        ItemsPath: "$.items",
        ItemProcessor: {
          StartAt: "Double",
          States: { Double: { Type: "Task", Resource: double, End: true } },
        },
        ResultPath: "$.doubled",
        Next: "Report",
      },
      Report: { Type: "Task", Resource: report, End: true },
      Rejected: { Type: "Fail", Error: "LotRejected" },
    },
  },
};

interface WorkInput {
  lotId: string;
  failOnce?: boolean;
  reject?: boolean;
  pause?: boolean;
}

/** Handlers as Lambda would report them: errors by name, results as JSON. */
function fakeInvoker() {
  const calls: string[] = [];
  const attemptsByLot = new Map<string, number>();
  const invoker: LambdaInvoker = {
    async invoke(target, event) {
      calls.push(target.logicalId);
      if (target.logicalId === "Work") {
        const input = event as WorkInput;
        if (input.pause) await new Promise(() => {});
        if (input.reject) {
          throw new LambdaInvocationError("LotRejectedError", `lot ${input.lotId} is rejected`, []);
        }
        const attempts = (attemptsByLot.get(input.lotId) ?? 0) + 1;
        attemptsByLot.set(input.lotId, attempts);
        if (input.failOnce && attempts === 1) {
          throw new LambdaInvocationError("TransientError", "try again", []);
        }
        return { recorded: input.lotId };
      }
      // A negative value -n asks for a result of n KiB.
      if (target.logicalId === "Double") {
        const value = event as number;
        return value < 0 ? "x".repeat(-value * 1024) : value * 2;
      }
      return { reported: (event as { doubled: unknown }).doubled };
    },
  };
  return { invoker, calls };
}

describe("createExecutionEngine", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-engine-"));
  const { invoker, calls } = fakeInvoker();
  const engine = createExecutionEngine({
    stateMachines: [machine],
    functions,
    invoker,
    dataDir,
    log: () => {},
  });
  afterAll(async () => {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const run = async (name: string, input: object) => {
    const started = engine.start({
      stateMachineArn: machine.arn,
      name,
      input: JSON.stringify(input),
    });
    return engine.waitFor(started.executionArn, 20_000);
  };
  const entered = (record: { history: Array<Record<string, unknown>> }) =>
    record.history.map((event) => (event.stateEnteredEventDetails as { name?: string })?.name);

  it("runs a task, a Map over a task and a last task, recording the history AWS shows", async () => {
    const record = await run("LOT-1", { lotId: "LOT-1", items: [5, 7] });
    assert.equal(record.status, "SUCCEEDED", record.cause);
    assert.deepEqual(JSON.parse(record.output ?? "{}"), { reported: [10, 14] });
    assert.equal(record.executionArn, localArn("states", "execution:machine:LOT-1"));
    const types = record.history.map((event) => event.type);
    assert.equal(types[0], "ExecutionStarted");
    assert.equal(types.at(-1), "ExecutionSucceeded");
    assert.ok(types.includes("MapIterationSucceeded"));
  });

  it("retries a task whose error a Retry names, and routes one a Catch names, with Lambda's payload as Cause", async () => {
    const retried = await run("FLAKY", { lotId: "FLAKY", failOnce: true, items: [] });
    assert.equal(retried.status, "SUCCEEDED", retried.cause);
    assert.ok(retried.history.some((event) => event.type === "TaskFailed"));

    const rejected = await run("REJECTED", { lotId: "REJECTED", reject: true, items: [] });
    assert.equal(rejected.status, "FAILED");
    assert.equal(rejected.error, "LotRejected");
    assert.ok(entered(rejected).includes("Rejected"));
    const failed = rejected.history.find((event) => event.type === "TaskFailed");
    const cause = JSON.parse(
      (failed?.taskFailedEventDetails as { cause?: string } | undefined)?.cause ?? "{}",
    ) as { errorType?: string; errorMessage?: string };
    assert.deepEqual(
      [cause.errorType, cause.errorMessage],
      ["LotRejectedError", "lot REJECTED is rejected"],
    );
  });

  it("fails an execution whose task result exceeds 256 KiB before any later state runs, as AWS does", async () => {
    const record = await run("OVERSIZED", { lotId: "OVERSIZED", items: [-300] });
    assert.equal(record.status, "FAILED");
    assert.equal(record.error, "States.DataLimitExceeded");
    assert.match(record.cause ?? "", /'Double'/);
    assert.ok(!entered(record).includes("Report"));
  });

  it("fails an execution whose Map output exceeds 256 KiB (each result under it) before the next state", async () => {
    const record = await run("BIG-MAP", { lotId: "BIG-MAP", items: [-100, -100, -100] });
    assert.equal(record.status, "FAILED");
    assert.equal(record.error, "States.DataLimitExceeded");
    assert.match(record.cause ?? "", /'EachItem'/);
    assert.ok(!entered(record).includes("Report"));
  });

  it("answers a repeated start of a running execution with it, and refuses bad names, big inputs and reuse", async () => {
    const input = JSON.stringify({ lotId: "PAUSED", pause: true, items: [] });
    const first = engine.start({ stateMachineArn: machine.arn, name: "PAUSED", input });
    assert.equal(engine.start({ stateMachineArn: machine.arn, name: "PAUSED", input }), first);
    const refused = (request: Parameters<typeof engine.start>[0], code: string) =>
      assert.throws(
        () => engine.start(request),
        (error: Error) => error instanceof ServiceApiError && error.code === code,
      );
    refused(
      { stateMachineArn: machine.arn, name: "PAUSED", input: "{}" },
      "ExecutionAlreadyExists",
    );
    refused({ stateMachineArn: machine.arn, name: "has space" }, "InvalidName");
    refused(
      {
        stateMachineArn: machine.arn,
        name: "HUGE",
        input: JSON.stringify({ x: "x".repeat(262_144) }),
      },
      "ValidationException",
    );
    refused(
      { stateMachineArn: localArn("states", "stateMachine:nope") },
      "StateMachineDoesNotExist",
    );
    engine.stopExecution(first.executionArn, "Operator");
    const stopped = await engine.waitFor(first.executionArn, 5_000);
    assert.deepEqual([stopped.status, stopped.error], ["ABORTED", "Operator"]);
    assert.ok(calls.includes("Work"));
  });
});

describe("the engine's refusals", () => {
  it("refuses, naming the state, a Task that is not a template function's Lambda ARN", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "waferflow-engine-refusal-"));
    const { invoker } = fakeInvoker();
    for (const resource of ["arn:aws:states:::sqs:sendMessage", `${work}-gone`]) {
      const odd = structuredClone(machine);
      (odd.definition.States as Record<string, { Resource?: string }>).Report = {
        ...(odd.definition.States as Record<string, object>).Report,
        Resource: resource,
      };
      assert.throws(
        () =>
          createExecutionEngine({
            stateMachines: [odd],
            functions,
            invoker,
            dataDir,
            log: () => {},
          }),
        (error: Error) =>
          error instanceof TemplateError &&
          error.message.includes("Machine state 'Report'") &&
          error.message.includes(resource),
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe("retryOverrides (the tests' retryIntervalMs)", () => {
  it("names every state with a Retry, inside Map iterators too, and no other", () => {
    const states = {
      Top: { Type: "Task", Retry: [{ ErrorEquals: ["A"] }] },
      Plain: { Type: "Pass" },
      EachItem: {
        Type: "Map",
        ItemProcessor: { States: { Inner: { Type: "Task", Retry: [{ ErrorEquals: ["B"] }] } } },
      },
      Legacy: { Type: "Map", Iterator: { States: { Old: { Type: "Task", Retry: [] } } } },
    };
    assert.deepEqual(retryOverrides(states, 20), { Top: 20, Inner: 20, Old: 20 });
  });

  it("retries with the short wait, as many times as the ASL allows", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "waferflow-engine-retry-"));
    const { invoker } = fakeInvoker();
    const slowRetry = structuredClone(machine);
    const work = (slowRetry.definition.States as Record<string, { Retry?: unknown[] }>).Work;
    // An hour between attempts: only the override lets the execution finish.
    if (work)
      work.Retry = [{ ErrorEquals: ["TransientError"], IntervalSeconds: 3600, MaxAttempts: 1 }];
    const engine = createExecutionEngine({
      stateMachines: [slowRetry],
      functions,
      invoker,
      dataDir,
      log: () => {},
      retryIntervalMs: 10,
    });
    try {
      const started = engine.start({
        stateMachineArn: slowRetry.arn,
        name: "FLAKY",
        input: JSON.stringify({ lotId: "FLAKY", failOnce: true, items: [] }),
      });
      const record = await engine.waitFor(started.executionArn, 20_000);
      assert.equal(record.status, "SUCCEEDED", record.cause);
      assert.equal(record.history.filter((event) => event.type === "TaskFailed").length, 1);
    } finally {
      await engine.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
