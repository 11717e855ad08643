// The one way a workflow function becomes a Lambda handler: config at load, logger keys, zod input, Step Functions error names.
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import type { z } from "zod";
import { readConfig } from "../lib/config.ts";
import { MAX_TRAVELLING_ERROR_NAME } from "../schemas/workflow.ts";
import { dependencyFailure, InvalidInputError, isWorkflowError, truncate } from "./errors.ts";

/** The slice of a logger the core functions use, so unit tests can pass a plain recorder. */
export type CoreLog = Pick<Logger, "info" | "warn" | "error">;

/** Keys every log line of one invocation carries, once its input names them. */
export type InvocationKeys = Record<string, string | number | undefined>;

export interface HandlerSpec<
  ConfigSchema extends z.ZodType,
  InputSchema extends z.ZodType,
  Deps,
  Output,
> {
  /** The logs' `service`: the function's name without the stack's prefix. */
  service: string;
  /** Its environment, read and validated once, when the module loads (a bad one fails the cold start, by name). */
  config: ConfigSchema;
  /** Its clients and settings, built once per module from the validated configuration. */
  deps: (config: z.output<ConfigSchema>) => Deps;
  /** The event or task input it accepts; anything else is an InvalidInputError naming `inputName`. */
  input: InputSchema;
  inputName: string;
  /** What of the input every log line names (lot id, image index). */
  logKeys?: (input: z.output<InputSchema>) => InvocationKeys;
  /** The handler's work: call the core (handing it `log`), map its result to the function's output. */
  run: (input: z.output<InputSchema>, deps: Deps, log: Logger) => Promise<Output>;
  /** For tests; a Lambda reads process.env. */
  env?: Record<string, string | undefined>;
}

export type LambdaHandler<Output> = (event: unknown, context?: Context) => Promise<Output>;

/**
 * Builds a handler in the manner of Powertools' `injectLambdaContext`: the Lambda context and the
 * input's keys (lot id, index) go on every log line of the invocation, through a logger of its
 * own, so nothing carries over to the next lot of a warm sandbox, and invocations that overlap
 * (the local stack runs a function's handler concurrently in one process) never swap keys.
 * Whatever `run` throws leaves through `toStepFunctionsError`, so Retry and Catch see the name
 * the state machine expects.
 */
export function lambdaHandler<
  ConfigSchema extends z.ZodType,
  InputSchema extends z.ZodType,
  Deps,
  Output,
>(spec: HandlerSpec<ConfigSchema, InputSchema, Deps, Output>): LambdaHandler<Output> {
  const config = readConfig(spec.config, spec.env);
  const logger = new Logger({ serviceName: spec.service });
  const deps = spec.deps(config);
  return async (event, context) => {
    // The module's logger keeps the cold-start flag; the child copies its context at once.
    if (context) logger.addContext(context);
    const log = logger.createChild();
    try {
      const input = parseInput(spec.input, spec.inputName, event);
      if (spec.logKeys) log.appendKeys(spec.logKeys(input));
      return await spec.run(input, deps, log);
    } catch (error) {
      throw toStepFunctionsError(error, log);
    }
  };
}

export function parseInput<S extends z.ZodType>(
  schema: S,
  what: string,
  input: unknown,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw InvalidInputError.fromZod(what, parsed.error);
  return parsed.data;
}

/** Longest error message a handler lets through to Step Functions (its Cause); the rest is in the logs. */
export const MAX_ERROR_MESSAGE_LENGTH = 300;

/** An AWS SDK answer (it carries `$metadata`) or a socket failure (it names its `syscall`). */
function isUnwrappedDependencyFailure(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const e = error as { $metadata?: unknown; syscall?: unknown };
  return e.$metadata !== undefined || typeof e.syscall === "string";
}

/**
 * The Step Functions error name of whatever a handler threw: our named errors keep their name
 * (functions/errors.ts: Retry and Catch match on it); an SDK or network failure that escaped
 * `dependencyFailure` is named as it would have named it; anything else (a bug, a library's
 * own error) keeps its name, which only `States.ALL` catches.
 */
export function stepFunctionsErrorName(error: unknown): string {
  if (isWorkflowError(error)) return error.name;
  if (isUnwrappedDependencyFailure(error)) return dependencyFailure("a call", error).name;
  return (error instanceof Error && error.name) || "Error";
}

/**
 * The error a handler lets out to Step Functions: its Step Functions name, a message cut to
 * MAX_ERROR_MESSAGE_LENGTH and no stack, so the Cause stays a few hundred bytes. The whole error,
 * stack and causes included, goes to the log first.
 */
export function toStepFunctionsError(error: unknown, log?: CoreLog): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const name = stepFunctionsErrorName(error);
  // A transient failure is retried by the state machine: worth a warning, not yet an error.
  if (name === "TransientDependencyError") {
    log?.warn("task failed, may be retried", { error: original });
  } else {
    log?.error("task failed", { error: original });
  }
  const short = new Error(truncate(original.message, MAX_ERROR_MESSAGE_LENGTH));
  short.name = truncate(name, MAX_TRAVELLING_ERROR_NAME);
  short.stack = "";
  return short;
}
