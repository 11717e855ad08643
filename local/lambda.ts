// Runs our Lambda handlers in-process, the way the Lambda runtime would: Lambda context, timeout, errorType.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { LambdaInvocationError } from "./errors.ts";
import type { LocalFunction } from "./resource-model.ts";

export interface LambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

type Handler = (event: unknown, context: LambdaContext) => unknown;

export interface LambdaInvoker {
  invoke(fn: LocalFunction, event: unknown): Promise<unknown>;
}

/** What Lambda's context tells a handler about its function and invocation (both runtimes). */
export function contextFields(fn: LocalFunction) {
  const awsRequestId = randomUUID();
  return {
    functionName: fn.name,
    functionVersion: "$LATEST",
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memorySizeMb),
    awsRequestId,
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: `local/${awsRequestId}`,
  };
}

/**
 * `work`, or Lambda's Sandbox.Timedout once the function's Timeout has passed. The timer's
 * rejection always has a handler (unhandled, it would end the process: the whole local stack).
 */
export async function withinTimeout<T>(fn: LocalFunction, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const message = `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LambdaInvocationError("Sandbox.Timedout", message, [])),
      fn.timeoutSeconds * 1000,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Logs a failed invocation as Lambda's log would show it, and hands the error back to throw. */
export function logFailure(
  log: (line: string) => void,
  fn: LocalFunction,
  awsRequestId: string,
  failure: LambdaInvocationError,
): LambdaInvocationError {
  log(
    `lambda: ${fn.logicalId} (${awsRequestId}) failed: ${failure.errorType}: ${failure.errorMessage}`,
  );
  return failure;
}

const OWN_FRAMES = /[/\\](local[/\\]lambda\.ts|aws-local-stepfunctions[/\\])/;

/** The stack as Lambda shows it: the handler's frames, not those of the local runtime calling it. */
function traceOf(error: unknown): string[] {
  if (!(error instanceof Error) || !error.stack) return [];
  const lines = error.stack.split("\n");
  const firstOwn = lines.findIndex((line, index) => index > 0 && OWN_FRAMES.test(line));
  return firstOwn === -1 ? lines : lines.slice(0, firstOwn);
}

/** What Lambda reports as errorType: the error's name, or "Error" for thrown non-errors. */
function asLambdaError(error: unknown): LambdaInvocationError {
  if (error instanceof LambdaInvocationError) return error;
  if (error instanceof Error) {
    return new LambdaInvocationError(error.name || "Error", error.message, traceOf(error), {
      cause: error,
    });
  }
  return new LambdaInvocationError("Error", String(error), [], { cause: error });
}

/** Handler loads in this process so far: each load's import URL is new (see below). */
let loads = 0;

export function createLambdaInvoker(options: {
  functions: LocalFunction[];
  log: (line: string) => void;
}): LambdaInvoker {
  const loaded = new Map<string, Promise<Handler>>();

  const load = (fn: LocalFunction): Promise<Handler> => {
    let handler = loaded.get(fn.logicalId);
    if (!handler) {
      // Each load gets its own URL: one instance per function and stack, as Lambda gives each its
      // own sandbox (handlers build their clients at load, from the environment of the stack that
      // loaded them), and a module whose load failed (it stays failed under its URL) can be
      // retried. Modules the handlers import (lib/, shared helpers) load once per process.
      const url = `${pathToFileURL(fn.modulePath).href}?load=${++loads}`;
      handler = import(url).then(
        (module: Record<string, unknown>) => {
          const exported = module[fn.exportName];
          if (typeof exported !== "function") {
            throw new LambdaInvocationError(
              "Runtime.HandlerNotFound",
              `${fn.modulePath} does not export a function named '${fn.exportName}'`,
              [],
            );
          }
          return exported as Handler;
        },
        (cause: unknown) => {
          throw new LambdaInvocationError(
            "Runtime.ImportModuleError",
            `cannot load ${fn.modulePath} for ${fn.logicalId}: ${cause instanceof Error ? cause.message : String(cause)}`,
            traceOf(cause),
            { cause },
          );
        },
      );
      // A failed load is retried on the next invocation, as Lambda starts a fresh sandbox.
      handler.catch(() => loaded.delete(fn.logicalId));
      loaded.set(fn.logicalId, handler);
    }
    return handler;
  };

  return {
    async invoke(fn, event) {
      const deadline = Date.now() + fn.timeoutSeconds * 1000;
      const context: LambdaContext = {
        ...contextFields(fn),
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      // Lambda hands the handler a deserialised copy, never the caller's object.
      const payload = JSON.parse(JSON.stringify(event ?? null)) as unknown;
      try {
        // The load is timed too: a module still loading when the time is up is this invocation's
        // Sandbox.Timedout (as Lambda's init is bounded).
        const run = load(fn).then((handler) => handler(payload, context));
        const result = await withinTimeout(fn, run);
        return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
      } catch (error) {
        throw logFailure(options.log, fn, context.awsRequestId, asLambdaError(error));
      }
    },
  };
}
