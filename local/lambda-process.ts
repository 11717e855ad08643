// Runs the built functions (.aws-sam/build) as `sam local invoke` does: one Node process per sandbox, the bundle imported as an ES module.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { BuiltFunction } from "../infra/build-layout.ts";
import { Semaphore } from "../lib/pool.ts";
import { LambdaInvocationError, LocalStackError } from "./errors.ts";
import { contextFields, type LambdaInvoker, logFailure, withinTimeout } from "./lambda.ts";
import type { LocalFunction } from "./resource-model.ts";
import { stopChild } from "./s3.ts";

const BOOTSTRAP = fileURLToPath(new URL("./lambda-bootstrap.mjs", import.meta.url));
/** Sandboxes per function at once; further invocations wait for one, as with reserved concurrency. */
const DEFAULT_MAX_SANDBOXES = 4;

type ChildMessage =
  | { type: "ready" }
  | { type: "result"; id: string; result: string }
  | {
      type: "error" | "crash" | "init-error";
      id?: string;
      errorType: string;
      errorMessage: string;
      trace: string[];
    };

interface Sandbox {
  child: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
  /** Killed or exited: never handed out again, even before its exit event arrives. */
  dead: boolean;
  /** Settles the invocation in flight when the process dies or answers. */
  pending?: { id: string; settle: (outcome: ChildMessage) => void };
}

export interface ProcessInvokerOptions {
  functions: LocalFunction[];
  built: Map<string, BuiltFunction>;
  /**
   * The stack's variables (endpoints, credentials, region), read when a sandbox starts; the stack
   * adds some only after the invoker exists. Names in `sharedFunctionVariables` are skipped: each
   * function gets its own template environment, not the union the in-process handlers share.
   */
  stackEnvironment: () => Record<string, string>;
  sharedFunctionVariables?: Iterable<string>;
  log: (line: string) => void;
  /** Where the functions' stdout and stderr lines go; default this process's stderr. */
  functionOutput?: (logicalId: string, line: string) => void;
  maxSandboxesPerFunction?: number;
}

export interface ProcessLambdaInvoker extends LambdaInvoker {
  close(): Promise<void>;
}

function lambdaError(message: Extract<ChildMessage, { errorType: string }>): LambdaInvocationError {
  return new LambdaInvocationError(message.errorType, message.errorMessage, message.trace ?? []);
}

function forwardLines(stream: NodeJS.ReadableStream | null, write: (line: string) => void): void {
  if (stream)
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", write);
}

export function createProcessLambdaInvoker(options: ProcessInvokerOptions): ProcessLambdaInvoker {
  const maxSandboxes = options.maxSandboxesPerFunction ?? DEFAULT_MAX_SANDBOXES;
  const shared = new Set(options.sharedFunctionVariables ?? []);
  const output =
    options.functionOutput ??
    ((logicalId: string, line: string) => process.stderr.write(`[${logicalId}] ${line}\n`));
  const sandboxes = new Map<string, Sandbox[]>();
  /** Invocations each function runs at once: one per sandbox it may have, as with reserved concurrency. */
  const limits = new Map<string, Semaphore>();
  const limitOf = (fn: LocalFunction) => {
    const limit = limits.get(fn.logicalId) ?? new Semaphore(maxSandboxes);
    limits.set(fn.logicalId, limit);
    return limit;
  };
  let closed = false;

  for (const fn of options.functions) {
    if (!options.built.has(fn.logicalId)) {
      throw new LocalStackError(
        `${fn.logicalId} is not in the build (.aws-sam/build/template.yaml): run npm run build`,
      );
    }
  }

  const environmentOf = (fn: LocalFunction, built: BuiltFunction): Record<string, string> => {
    const stack = Object.fromEntries(
      Object.entries(options.stackEnvironment()).filter(([key]) => !shared.has(key)),
    );
    const layerModules = built.layerDirs.flatMap((dir) => [
      `${dir}/nodejs/node22/node_modules`,
      `${dir}/nodejs/node_modules`,
    ]);
    return {
      // What any process needs from the host, and no more: no tsx loader, no developer AWS profile.
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      LANG: "en_US.UTF-8",
      TZ: "UTC",
      // The variables Lambda itself sets.
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      LAMBDA_TASK_ROOT: built.codeDir,
      _HANDLER: built.handler,
      NODE_PATH: layerModules.join(":"),
      WAFERFLOW_LAYER_DIRS: JSON.stringify(built.layerDirs),
      // Node's on-disk compile cache (npm test sets it): the sandboxes of one bundle compile it once
      // between them instead of once each. It changes no behaviour, only V8's compile work.
      ...(process.env.NODE_COMPILE_CACHE
        ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE }
        : {}),
      // A developer's choice of handler log level carries over, as in the in-process mode.
      ...(process.env.POWERTOOLS_LOG_LEVEL
        ? { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL }
        : {}),
      ...stack,
      ...fn.environment,
    };
  };

  const startSandbox = (fn: LocalFunction): Sandbox => {
    const built = options.built.get(fn.logicalId) as BuiltFunction;
    // Lambda's Node runtime caps the V8 heap just under the function's memory.
    const heapMb = Math.max(64, Math.floor(fn.memorySizeMb * 0.9));
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, BOOTSTRAP], {
      cwd: built.codeDir,
      env: environmentOf(fn, built),
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    forwardLines(child.stdout, (line) => output(fn.logicalId, line));
    forwardLines(child.stderr, (line) => output(fn.logicalId, line));
    let initFailure: Extract<ChildMessage, { errorType: string }> | undefined;
    const sandbox: Sandbox = {
      child,
      busy: false,
      dead: false,
      ready: new Promise<void>((resolveReady, rejectReady) => {
        child.on("message", (message: ChildMessage) => {
          if (message.type === "ready") resolveReady();
          else if (message.type === "init-error") initFailure = message;
          // A sandbox whose code crashed is about to exit: never hand it out again.
          if (message.type === "crash") sandbox.dead = true;
          if ("id" in message && sandbox.pending && message.id === sandbox.pending.id) {
            sandbox.pending.settle(message);
          }
        });
        child.on("error", (error) =>
          rejectReady(
            new LambdaInvocationError(
              "Runtime.Unknown",
              `cannot start a sandbox: ${error.message}`,
              [],
            ),
          ),
        );
        child.on("exit", (code, signal) => {
          sandbox.dead = true;
          const list = sandboxes.get(fn.logicalId) ?? [];
          if (list.includes(sandbox)) list.splice(list.indexOf(sandbox), 1);
          const exitError = new LambdaInvocationError(
            initFailure ? initFailure.errorType : "Runtime.ExitError",
            initFailure
              ? initFailure.errorMessage
              : `Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
            initFailure?.trace ?? [],
          );
          rejectReady(exitError);
          sandbox.pending?.settle({
            type: "error",
            id: sandbox.pending.id,
            errorType: exitError.errorType,
            errorMessage: exitError.errorMessage,
            trace: [],
          });
        });
      }),
    };
    sandbox.ready.catch(() => {});
    const list = sandboxes.get(fn.logicalId) ?? [];
    list.push(sandbox);
    sandboxes.set(fn.logicalId, list);
    return sandbox;
  };

  /** An idle sandbox of the function, or a new one; the function's semaphore bounds how many are busy, so how many exist. */
  const acquire = (fn: LocalFunction): Sandbox => {
    if (closed) throw new LocalStackError("the local stack is stopping");
    const idle = (sandboxes.get(fn.logicalId) ?? []).find(
      (sandbox) => !sandbox.busy && !sandbox.dead,
    );
    const sandbox = idle ?? startSandbox(fn);
    sandbox.busy = true;
    return sandbox;
  };

  return {
    invoke(fn, event) {
      return limitOf(fn).use(async () => {
        const sandbox = acquire(fn);
        const context = contextFields(fn);
        try {
          // A cold start gets the function's timeout for its init too (Lambda allows 10 s, then retries).
          await withinTimeout(fn, sandbox.ready);
          const deadlineMs = Date.now() + fn.timeoutSeconds * 1000;
          const reply = new Promise<ChildMessage>((settle) => {
            sandbox.pending = { id: context.awsRequestId, settle };
            // Lambda hands the handler a deserialised copy, never the caller's object.
            const payload = JSON.stringify(event ?? null);
            sandbox.child.send({
              type: "invoke",
              id: context.awsRequestId,
              event: payload,
              context: { ...context, deadlineMs },
            });
          });
          const answer = await withinTimeout(fn, reply);
          if (answer.type === "result") return JSON.parse(answer.result) as unknown;
          if (answer.type === "ready") throw new LocalStackError("sandbox answered out of turn");
          throw lambdaError(answer);
        } catch (error) {
          const failure =
            error instanceof LambdaInvocationError
              ? error
              : new LambdaInvocationError("Runtime.Unknown", String(error), [], { cause: error });
          // A sandbox that timed out or crashed is gone for good, as Lambda resets it.
          if (failure.errorType === "Sandbox.Timedout") {
            sandbox.dead = true;
            sandbox.child.kill("SIGKILL");
          }
          throw logFailure(options.log, fn, context.awsRequestId, failure);
        } finally {
          sandbox.busy = false;
          sandbox.pending = undefined;
        }
      });
    },

    async close() {
      closed = true;
      const all = [...sandboxes.values()].flat();
      await Promise.all(all.map((sandbox) => stopChild(sandbox.child, 2000)));
    },
  };
}
