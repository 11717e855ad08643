// The local Lambda runtime for built functions: a Node process per sandbox, Lambda's errors, timeout, environment and layers.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { BuiltFunction } from "../../infra/build-layout.ts";
import type { LambdaInvocationError } from "../../local/errors.ts";
import {
  createProcessLambdaInvoker,
  type ProcessLambdaInvoker,
} from "../../local/lambda-process.ts";
import type { LocalFunction } from "../../local/resource-model.ts";

const HANDLER = `
import { readFileSync } from "node:fs";
const loadedAt = Date.now();
export async function handler(event, context) {
  switch (event.action) {
    case "echo":
      return { event, requestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis() };
    case "env":
      return { env: process.env, hasRequire: typeof require !== "undefined", loadedAt, pid: process.pid };
    case "throw": {
      class LotGoneError extends Error { name = "LotGoneError"; }
      throw new LotGoneError("lot E2E-1 is gone");
    }
    case "sleep":
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      return "woke up";
    case "layer":
      return (await import("layer-only-package")).default;
    case "repo-package":
      return typeof (await import("zod")).z;
    case "exit":
      process.exit(3);
  }
  return null;
}
`;

describe("local Lambda runtime for built functions (local/lambda-process.ts)", () => {
  let dir: string;
  let invoker: ProcessLambdaInvoker;
  const fn: LocalFunction = {
    logicalId: "ProbeFunction",
    name: "local-ProbeFunction",
    arn: "arn:aws:lambda:us-east-1:000000000000:function:local-ProbeFunction",
    modulePath: "unused",
    exportName: "handler",
    // Also the limit of a cold start (local/lambda-process.ts), and tests start several sandboxes at
    // once: 10 s, Lambda's own init limit, so that a loaded CI machine's slow process starts never
    // time out (3 s did not leave that room); the sleeping handler below still outlives it.
    timeoutSeconds: 10,
    memorySizeMb: 256,
    environment: { OWN_SETTING: "mine", NODE_OPTIONS: "--enable-source-maps" },
    asyncInvoke: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 },
  };
  const logs: string[] = [];

  beforeAll(() => {
    // Inside the repository on purpose: its node_modules must still not be reachable.
    mkdirSync(join(process.cwd(), ".scratch"), { recursive: true });
    dir = mkdtempSync(join(process.cwd(), ".scratch", "lambda-process-"));
    const code = join(dir, "ProbeFunction");
    mkdirSync(code);
    writeFileSync(join(code, "handler.mjs"), HANDLER);
    const layerPackage = join(dir, "ProbeLayer/nodejs/node_modules/layer-only-package");
    mkdirSync(layerPackage, { recursive: true });
    writeFileSync(
      join(layerPackage, "package.json"),
      JSON.stringify({ name: "layer-only-package", type: "module", main: "index.js" }),
    );
    writeFileSync(join(layerPackage, "index.js"), 'export default "from the layer";\n');
    const built: BuiltFunction = {
      logicalId: "ProbeFunction",
      codeDir: code,
      handler: "handler.handler",
      layerDirs: [join(dir, "ProbeLayer")],
    };
    invoker = createProcessLambdaInvoker({
      functions: [fn],
      built: new Map([["ProbeFunction", built]]),
      stackEnvironment: () => ({
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
        OTHER_FUNCTIONS_SETTING: "not yours",
      }),
      sharedFunctionVariables: ["OTHER_FUNCTIONS_SETTING"],
      log: (line) => logs.push(line),
      functionOutput: () => {},
    });
  });
  afterAll(async () => {
    await invoker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const failure = async (event: unknown): Promise<LambdaInvocationError> => {
    try {
      await invoker.invoke(fn, event);
    } catch (error) {
      return error as LambdaInvocationError;
    }
    assert.fail("the invocation should have failed");
  };

  it("answers with the handler's result, a request id and the time left", async () => {
    const result = (await invoker.invoke(fn, { action: "echo", n: 1 })) as {
      event: unknown;
      requestId: string;
      remaining: number;
    };
    assert.deepEqual(result.event, { action: "echo", n: 1 });
    assert.match(result.requestId, /^[0-9a-f-]{36}$/);
    assert.ok(result.remaining > 0 && result.remaining <= 10_000);
  });

  it("runs the function in its own process, without a global require, with its own environment only", async () => {
    const result = (await invoker.invoke(fn, { action: "env" })) as {
      env: Record<string, string>;
      hasRequire: boolean;
      pid: number;
    };
    assert.notEqual(result.pid, process.pid);
    assert.equal(result.hasRequire, false);
    assert.equal(result.env.OWN_SETTING, "mine");
    assert.equal(result.env.AWS_ENDPOINT_URL_S3, "http://127.0.0.1:1");
    assert.equal(result.env.OTHER_FUNCTIONS_SETTING, undefined);
    assert.equal(result.env.AWS_LAMBDA_FUNCTION_NAME, "local-ProbeFunction");
    assert.equal(result.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "256");
    assert.equal(result.env.NODE_OPTIONS, "--enable-source-maps");
  });

  it("keeps a warm sandbox for the next invocation", async () => {
    const first = (await invoker.invoke(fn, { action: "env" })) as { pid: number };
    const second = (await invoker.invoke(fn, { action: "env" })) as { pid: number };
    assert.equal(first.pid, second.pid);
  });

  it("runs at most maxSandboxesPerFunction sandboxes at once; further invocations wait for one", async () => {
    const together = async (target: ProcessLambdaInvoker) =>
      new Set(
        (
          (await Promise.all([1, 2, 3].map(() => target.invoke(fn, { action: "env" })))) as Array<{
            pid: number;
          }>
        ).map((result) => result.pid),
      );
    // The default (4): three at once start sandboxes beside the warm one.
    assert.ok((await together(invoker)).size > 1);
    const single = createProcessLambdaInvoker({
      functions: [fn],
      built: new Map([
        [
          "ProbeFunction",
          {
            logicalId: "ProbeFunction",
            codeDir: join(dir, "ProbeFunction"),
            handler: "handler.handler",
            layerDirs: [],
          },
        ],
      ]),
      stackEnvironment: () => ({}),
      log: () => {},
      functionOutput: () => {},
      maxSandboxesPerFunction: 1,
    });
    try {
      assert.equal((await together(single)).size, 1);
    } finally {
      await single.close();
    }
  });

  it("reports a thrown error as Lambda does: errorType is its name", async () => {
    const error = await failure({ action: "throw" });
    assert.equal(error.errorType, "LotGoneError");
    assert.equal(error.errorMessage, "lot E2E-1 is gone");
    assert.equal(error.name, "LotGoneError");
    const cause = JSON.parse(error.message) as { trace: string[] };
    assert.ok(cause.trace.some((line) => line.includes("handler.mjs")));
  });

  it("resolves packages from the function's layers, never from the repository's node_modules", async () => {
    assert.equal(await invoker.invoke(fn, { action: "layer" }), "from the layer");
    const error = await failure({ action: "repo-package" });
    assert.match(error.errorMessage, /Cannot find package 'zod'/);
  });

  it("kills a sandbox that runs past the function's Timeout and reports Sandbox.Timedout", async () => {
    const before = (await invoker.invoke(fn, { action: "env" })) as { pid: number };
    const error = await failure({ action: "sleep" });
    assert.equal(error.errorType, "Sandbox.Timedout");
    assert.match(error.errorMessage, /Task timed out after 10\.00 seconds/);
    const after = (await invoker.invoke(fn, { action: "env" })) as { pid: number };
    assert.notEqual(after.pid, before.pid, "a fresh sandbox after the timeout");
  });

  it("reports a process that exits mid-invocation as Runtime.ExitError and starts afresh", async () => {
    const error = await failure({ action: "exit" });
    assert.equal(error.errorType, "Runtime.ExitError");
    assert.match(error.errorMessage, /exit status 3/);
    const next = (await invoker.invoke(fn, { action: "echo" })) as { event: unknown };
    assert.deepEqual(next.event, { action: "echo" });
  });
});
