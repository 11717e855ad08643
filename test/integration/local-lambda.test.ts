// Handlers run the way Lambda runs them: context, copied event, timeout, and Lambda's error types for load failures.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { LambdaInvocationError } from "../../local/errors.ts";
import { createLambdaInvoker } from "../../local/lambda.ts";
import type { LocalFunction } from "../../local/resource-model.ts";

describe("local Lambda invoker", () => {
  const dir = mkdtempSync(join(tmpdir(), "waferflow-lambda-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fn = (name: string, source: string | undefined, timeoutSeconds = 5): LocalFunction => {
    const modulePath = join(dir, `${name}.mjs`);
    if (source !== undefined) writeFileSync(modulePath, source);
    return {
      logicalId: name,
      name: `local-${name}`,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:local-${name}`,
      modulePath,
      exportName: "handler",
      timeoutSeconds,
      memorySizeMb: 256,
      environment: {},
      asyncInvoke: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 },
    };
  };
  const invokerFor = (...functions: LocalFunction[]) =>
    createLambdaInvoker({ functions, log: () => {} });
  const rejectsAs = (errorType: string, pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof LambdaInvocationError);
    assert.equal(error.name, errorType);
    assert.match(error.errorMessage, pattern);
    return true;
  };

  it("passes a copy of the event and a Lambda context, and answers null for undefined", async () => {
    const echo = fn(
      "echo",
      `export async function handler(event, context) {
        event.mutated = true;
        return { event, functionName: context.functionName, arn: context.invokedFunctionArn,
          requestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis() };
      }`,
    );
    const nothing = fn("nothing", "export async function handler() {}");
    const invoker = invokerFor(echo, nothing);
    const event = { lotId: "L1" };
    const result = (await invoker.invoke(echo, event)) as Record<string, unknown>;
    assert.deepEqual(event, { lotId: "L1" }, "the caller's event is untouched");
    assert.deepEqual(result.event, { lotId: "L1", mutated: true });
    assert.equal(result.functionName, "local-echo");
    assert.equal(result.arn, echo.arn);
    assert.match(String(result.requestId), /^[0-9a-f-]{36}$/);
    assert.ok(Number(result.remaining) > 0 && Number(result.remaining) <= 5000);
    assert.equal(await invoker.invoke(nothing, {}), null);
  });

  it("reports a thrown error under its name, and a thrown non-error as Error", async () => {
    const throwing = fn(
      "throwing",
      `class ManifestInvalidError extends Error { name = "ManifestInvalidError"; }
       export async function handler(event) {
         if (event.plain) throw "just a string";
         throw new ManifestInvalidError("images must not be empty");
       }`,
    );
    const invoker = invokerFor(throwing);
    await assert.rejects(
      invoker.invoke(throwing, {}),
      rejectsAs("ManifestInvalidError", /^images must not be empty$/),
    );
    await assert.rejects(
      invoker.invoke(throwing, { plain: true }),
      rejectsAs("Error", /just a string/),
    );
  });

  it("answers Runtime.ImportModuleError and Runtime.HandlerNotFound as Lambda does", async () => {
    const missing = fn("missing", undefined);
    const noExport = fn("no-export", "export const other = 1;");
    const invoker = invokerFor(missing, noExport);
    await assert.rejects(
      invoker.invoke(missing, {}),
      rejectsAs("Runtime.ImportModuleError", /cannot load .*missing\.mjs for missing/),
    );
    await assert.rejects(
      invoker.invoke(noExport, {}),
      rejectsAs("Runtime.HandlerNotFound", /does not export a function named 'handler'/),
    );
  });

  it("loads a module again after its load failed, as a new Lambda sandbox would", async () => {
    const flag = join(dir, "flaky-init.flag");
    writeFileSync(flag, "fail");
    const flaky = fn(
      "flaky",
      `import { readFileSync } from "node:fs";
       if (readFileSync(${JSON.stringify(flag)}, "utf8") === "fail") throw new Error("init failed");
       export async function handler() { return "ready"; }`,
    );
    const invoker = invokerFor(flaky);
    await assert.rejects(
      invoker.invoke(flaky, {}),
      rejectsAs("Runtime.ImportModuleError", /init failed/),
    );
    writeFileSync(flag, "ok");
    assert.equal(await invoker.invoke(flaky, {}), "ready");
  });

  it("fails a function whose module loads for longer than its timeout with Sandbox.Timedout, and nothing else", async () => {
    // The timer runs from the invocation, the load included; it fires while the module still
    // loads, before anything awaits it: that must be this invocation's answer, never a rejection
    // nobody handles (which ends a Node process, the whole local stack with it).
    const slowLoad = fn(
      "slow-load",
      `await new Promise((r) => setTimeout(r, 3000));
       export async function handler() { return "too late"; }`,
      1,
    );
    await assert.rejects(
      invokerFor(slowLoad).invoke(slowLoad, {}),
      rejectsAs("Sandbox.Timedout", /Task timed out after 1\.00 seconds/),
    );
  });

  it("fails a handler that outlives the function's timeout with Sandbox.Timedout", async () => {
    const slow = fn(
      "slow",
      "export async function handler() { await new Promise((r) => setTimeout(r, 3000)); }",
      1,
    );
    await assert.rejects(
      invokerFor(slow).invoke(slow, {}),
      rejectsAs("Sandbox.Timedout", /Task timed out after 1\.00 seconds/),
    );
  });
});
