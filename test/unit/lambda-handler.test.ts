// The handler factory: configuration once at load, one log context per invocation, zod input, Step Functions error names.

import assert from "node:assert/strict";
import type { Context } from "aws-lambda";
import { afterEach, beforeEach, describe, it, vi } from "vitest";
import { z } from "zod";
import {
  DependencyError,
  ImageRejectedByModelError,
  InvalidInputError,
  isWorkflowError,
  ManifestChangedError,
  TransientDependencyError,
} from "../../functions/errors.ts";
import {
  lambdaHandler,
  MAX_ERROR_MESSAGE_LENGTH,
  stepFunctionsErrorName,
  toStepFunctionsError,
} from "../../functions/lambda-handler.ts";
import { ConfigError } from "../../lib/config.ts";
import { serviceError } from "../helpers/aws-fakes.ts";

const InputSchema = z.object({ lotId: z.string().min(1), index: z.number().int() });

/** The JSON lines the Powertools logger writes (info to stdout, warn and error to stderr) during `work`. */
async function logLines(work: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const written: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  try {
    await work().catch(() => undefined);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return written
    .join("")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("lambdaHandler", () => {
  beforeEach(() => {
    // Powertools writes to the process's stdout, past vitest's console capture: quiet unless read.
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("reads and validates its configuration once, at load, naming a bad variable", () => {
    const spec = {
      service: "test",
      config: z.object({ BUCKET_NAME: z.string().min(1) }),
      deps: () => ({}),
      input: InputSchema,
      inputName: "test input",
      run: async () => "ran",
    };
    assert.throws(
      () => lambdaHandler({ ...spec, env: {} }),
      (error: Error) => error instanceof ConfigError && /BUCKET_NAME/.test(error.message),
    );
  });

  it("builds its dependencies once, from the parsed configuration, for every invocation", async () => {
    const built: unknown[] = [];
    const handler = lambdaHandler({
      service: "test",
      config: z.object({ LIMIT: z.coerce.number().int() }),
      deps: (config) => {
        built.push(config);
        return { limit: config.LIMIT };
      },
      input: InputSchema,
      inputName: "test input",
      run: async (input, deps) => ({ index: input.index, limit: deps.limit }),
      env: { LIMIT: "7" },
    });
    assert.deepEqual(await handler({ lotId: "L", index: 1 }), { index: 1, limit: 7 });
    assert.deepEqual(await handler({ lotId: "L", index: 2 }), { index: 2, limit: 7 });
    assert.deepEqual(built, [{ LIMIT: 7 }]);
  });

  it("refuses an input that breaks its schema as InvalidInputError, without running the core", async () => {
    const run = vi.fn(async () => "ran");
    const handler = lambdaHandler({
      service: "test",
      config: z.object({}),
      deps: () => ({}),
      input: InputSchema,
      inputName: "RecordLot input",
      run,
      env: {},
    });
    await assert.rejects(handler({ lotId: "", index: "x" }), (error: Error) => {
      assert.equal(error.name, "InvalidInputError");
      assert.match(error.message, /^invalid RecordLot input: /);
      assert.match(error.message, /lotId/);
      assert.match(error.message, /index/);
      return true;
    });
    assert.equal(run.mock.calls.length, 0);
  });

  it("puts the input's keys and the Lambda context on every log line, and forgets them for the next invocation", async () => {
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
    const handler = lambdaHandler({
      service: "keys-test",
      config: z.object({}),
      deps: () => ({}),
      input: InputSchema.partial(),
      inputName: "test input",
      logKeys: (input) => ({ lotId: input.lotId, index: input.index }),
      run: async (_input, _deps, log) => {
        log.info("working");
        return "done";
      },
      env: {},
    });
    const context = {
      functionName: "fn",
      functionVersion: "$LATEST",
      invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn",
      memoryLimitInMB: "128",
      awsRequestId: "req-1",
    } as Context;
    const first = await logLines(() => handler({ lotId: "LOT-1", index: 3 }, context));
    const line = first.find((entry) => entry.message === "working");
    assert.equal(line?.lotId, "LOT-1");
    assert.equal(line?.index, 3);
    assert.equal(line?.service, "keys-test");
    assert.equal(line?.function_request_id, "req-1");
    const second = await logLines(() => handler({}, context));
    const next = second.find((entry) => entry.message === "working");
    assert.ok(next, "the second invocation logs");
    assert.equal(next.lotId, undefined, "a warm sandbox does not carry the last lot's keys");
    assert.equal(next.index, undefined);
  });

  it("keeps overlapping invocations' keys apart (the local stack runs them in one process)", async () => {
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = lambdaHandler({
      service: "overlap-test",
      config: z.object({}),
      deps: () => ({}),
      input: InputSchema,
      inputName: "test input",
      logKeys: (input) => ({ lotId: input.lotId, index: input.index }),
      run: async (input, _deps, log) => {
        // The first invocation logs only after the second one has started.
        if (input.index === 0) await gate;
        log.info("inspected", { expected: input.index });
        if (input.index === 1) release();
        return input.index;
      },
      env: {},
    });
    const lines = await logLines(() =>
      Promise.all([handler({ lotId: "A", index: 0 }), handler({ lotId: "B", index: 1 })]),
    );
    const inspected = lines.filter((entry) => entry.message === "inspected");
    assert.equal(inspected.length, 2);
    for (const entry of inspected) assert.equal(entry.index, entry.expected);
    assert.deepEqual(inspected.map((entry) => entry.lotId).sort(), ["A", "B"]);
  });

  it("lets a failure out under its Step Functions name, logged whole with the lot's keys", async () => {
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
    const handler = lambdaHandler({
      service: "test",
      config: z.object({}),
      deps: () => ({}),
      input: InputSchema,
      inputName: "test input",
      logKeys: (input) => ({ lotId: input.lotId }),
      run: async () => {
        throw serviceError("SlowDown", 503);
      },
      env: {},
    });
    let thrown: Error | undefined;
    const lines = await logLines(async () => {
      try {
        await handler({ lotId: "LOT-2", index: 0 });
      } catch (error) {
        thrown = error as Error;
      }
    });
    assert.equal(thrown?.name, "TransientDependencyError");
    const warning = lines.find((entry) => entry.message === "task failed, may be retried");
    assert.equal(warning?.level, "WARN");
    assert.equal(warning?.lotId, "LOT-2");
    assert.match(JSON.stringify(warning?.error), /SlowDown/);
  });
});

describe("stepFunctionsErrorName: the names statemachine/lot.asl.json matches", () => {
  it("keeps the names of our own errors, whatever their cause", () => {
    const transientCause = serviceError("ModelError", 503);
    for (const [error, name] of [
      [new TransientDependencyError("x"), "TransientDependencyError"],
      [new DependencyError("x"), "DependencyError"],
      [new InvalidInputError("x"), "InvalidInputError"],
      [new ManifestChangedError("x"), "ManifestChangedError"],
      // A refusal by the model is final even when the SDK error under it looks retryable.
      [new ImageRejectedByModelError("x", { cause: transientCause }), "ImageRejectedByModelError"],
    ] as const) {
      assert.equal(stepFunctionsErrorName(error), name);
    }
  });

  it("names an SDK or socket failure that escaped its wrapper as dependencyFailure would", () => {
    assert.equal(
      stepFunctionsErrorName(serviceError("ThrottlingException", 400)),
      "TransientDependencyError",
    );
    assert.equal(
      stepFunctionsErrorName(serviceError("InternalError", 500)),
      "TransientDependencyError",
    );
    assert.equal(stepFunctionsErrorName(serviceError("AccessDenied", 403)), "DependencyError");
    const reset = Object.assign(new Error("read ECONNRESET"), {
      code: "ECONNRESET",
      syscall: "read",
    });
    assert.equal(stepFunctionsErrorName(reset), "TransientDependencyError");
  });

  it("keeps any other error's own name, which only States.ALL catches", () => {
    assert.equal(stepFunctionsErrorName(new TypeError("x is undefined")), "TypeError");
    // A library error whose message happens to look like a network failure is still not one.
    assert.equal(stepFunctionsErrorName(new RangeError("stream terminated")), "RangeError");
    assert.equal(stepFunctionsErrorName("a string"), "Error");
  });
});

describe("functions/errors.ts", () => {
  it("lists every error class it exports as ours, so none loses its name at the edge", async () => {
    const errors = (await import("../../functions/errors.ts")) as Record<string, unknown>;
    const classes = Object.entries(errors).filter(
      ([, value]) => typeof value === "function" && value.prototype instanceof Error,
    ) as Array<[string, new (message: string) => Error]>;
    assert.ok(classes.length >= 11, `${classes.length} error classes found`);
    for (const [exported, ErrorClass] of classes) {
      const error = new ErrorClass("x");
      assert.equal(error.name, exported, "each class's name is its Step Functions name");
      assert.ok(isWorkflowError(error), `${exported} is listed in isWorkflowError`);
      assert.equal(stepFunctionsErrorName(error), exported);
    }
  });
});

describe("toStepFunctionsError", () => {
  it("cuts the message, drops the stack and keeps the name short", () => {
    const long = new ManifestChangedError("m".repeat(1000));
    const short = toStepFunctionsError(long);
    assert.equal(short.name, "ManifestChangedError");
    assert.equal(short.message.length, MAX_ERROR_MESSAGE_LENGTH);
    assert.ok(short.message.endsWith("…"));
    assert.equal(short.stack, "");
    const odd = new Error("x");
    odd.name = "N".repeat(100);
    assert.equal(toStepFunctionsError(odd).name.length, 64);
  });

  it("warns of a failure the state machine retries and reports any other as an error", () => {
    const calls: string[] = [];
    const log = {
      info: () => undefined,
      warn: (message: string) => calls.push(`warn:${message}`),
      error: (message: string) => calls.push(`error:${message}`),
    };
    toStepFunctionsError(new TransientDependencyError("later"), log as never);
    toStepFunctionsError(new DependencyError("never"), log as never);
    assert.deepEqual(calls, ["warn:task failed, may be retried", "error:task failed"]);
  });
});
