// An execution as the Step Functions API shows it: its record and history, its name and size limits, where a redrive resumes it.
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
} from "aws-local-stepfunctions";
import type { StateNode } from "./state-machine.ts";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: string;
  type: string;
  [details: string]: unknown;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: string;
  stopDate?: string;
  /** How often this execution was re-driven (RedriveExecution, or the stack resuming it after a stop or crash). */
  redriveCount?: number;
  redriveDate?: string;
  history: HistoryEvent[];
}

/** Step Functions' rule for execution names: 1-80 characters, none of these, no control characters. */
export const isValidExecutionName = (name: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  name.length <= 80 && /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]+$/u.test(name);
/** Step Functions' limit on an execution's input and on any state's output. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/** Adds an event to the record's history, numbered as the API numbers them. */
export function appendHistory(
  record: ExecutionRecord,
  type: string,
  details: Record<string, unknown>,
  timestamp = new Date().toISOString(),
): void {
  const id = record.history.length + 1;
  record.history.push({ id, previousEventId: id - 1, timestamp, type, ...details });
}

/** History events in the Step Functions API's shape (type, and `<type>EventDetails`), from the library's event log. */
export function historyEntry(
  event: Record<string, unknown>,
): { type: string; details: Record<string, unknown> } | undefined {
  const state = event.state as
    | { name: string; type: string; input?: unknown; output?: unknown }
    | undefined;
  const json = (value: unknown) => JSON.stringify(value ?? null);
  const failure = { error: String(event.Error), cause: String(event.Cause ?? "") };
  const entry = (type: string, detailsOf: string, details: Record<string, unknown>) => ({
    type,
    details: { [`${detailsOf}EventDetails`]: details },
  });
  switch (event.type) {
    case "ExecutionStarted":
      return entry("ExecutionStarted", "executionStarted", { input: json(event.input) });
    case "ExecutionSucceeded":
      return entry("ExecutionSucceeded", "executionSucceeded", { output: json(event.output) });
    case "ExecutionFailed":
      return entry("ExecutionFailed", "executionFailed", failure);
    case "ExecutionAborted":
      return entry("ExecutionAborted", "executionAborted", {});
    case "ExecutionTimeout":
      return entry("ExecutionTimedOut", "executionTimedOut", {});
    case "StateEntered":
      return entry(`${state?.type}StateEntered`, "stateEntered", {
        name: state?.name,
        input: json(state?.input),
      });
    case "StateExited":
      return entry(`${state?.type}StateExited`, "stateExited", {
        name: state?.name,
        output: json(state?.output),
      });
    case "StateFailed":
      // A Task's failure is the Lambda call's, as AWS records it.
      return state?.type === "Task"
        ? entry("TaskFailed", "taskFailed", {
            resourceType: "lambda",
            resource: "invoke",
            ...failure,
          })
        : entry(`${state?.type}StateFailed`, "stateFailed", { name: state?.name, ...failure });
    case "StateRetried":
    case "StateCaught":
      return entry(event.type, event.type === "StateRetried" ? "stateRetried" : "stateCaught", {
        name: state?.name,
      });
    case "MapIterationStarted":
    case "MapIterationSucceeded":
    case "MapIterationFailed": {
      const parent = event.parentState as { name?: string } | undefined;
      return entry(event.type, `m${event.type.slice(1)}`, {
        name: parent?.name,
        index: event.index,
      });
    }
    default:
      return undefined;
  }
}

export const payloadBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

/**
 * AWS fails an execution, uncatchably (no Catch sees it), when a state's input or output or a
 * task's result exceeds 256 KiB; the library does not, and a lot that only works locally is worse
 * than one that fails the same way everywhere.
 */
export function failOnDataLimit(record: ExecutionRecord, stateName: string, bytes: number): void {
  if (record.status !== "RUNNING") return;
  const now = new Date().toISOString();
  const error = "States.DataLimitExceeded";
  const cause = `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit (${bytes} > ${MAX_PAYLOAD_BYTES}).`;
  Object.assign(record, { status: "FAILED", stopDate: now, error, cause });
  appendHistory(record, "ExecutionFailed", { executionFailedEventDetails: { error, cause } }, now);
}

/** Where a re-driven execution starts again: the top-level state it was in, with that state's input. */
export interface ResumePoint {
  /** undefined: the execution's own start. */
  stateName?: string;
  input: unknown;
  /** The execution had already finished its last state; only its end was not recorded. */
  finished?: { status: "SUCCEEDED"; output: unknown };
}

export function resumePoint(
  record: ExecutionRecord,
  definition: { StartAt: string; States: Record<string, StateNode> },
): ResumePoint {
  const parse = (text: unknown) => JSON.parse(typeof text === "string" ? text : "null") as unknown;
  for (let i = record.history.length - 1; i >= 0; i--) {
    const event = record.history[i] as HistoryEvent;
    const entered = event.stateEnteredEventDetails as { name?: string; input?: string } | undefined;
    const exited = event.stateExitedEventDetails as { name?: string; output?: string } | undefined;
    const name = entered?.name ?? exited?.name;
    // State names are unique machine-wide (allStates), so a top-level name means a top-level event.
    const state = name ? definition.States[name] : undefined;
    if (!name || !state) continue;
    if (entered) return { stateName: name, input: parse(entered.input) };
    const output = parse(exited?.output);
    if (state.End || state.Type === "Succeed") {
      return { input: output, finished: { status: "SUCCEEDED", output } };
    }
    // A Choice passes its input on; run it again to pick the branch.
    if (state.Type === "Choice" || !state.Next) return { stateName: name, input: output };
    return { stateName: state.Next, input: output };
  }
  return { input: parse(record.input) };
}

export function errorOf(error: unknown): { error: string; cause: string; status: ExecutionStatus } {
  if (error instanceof ExecutionAbortedError) return { status: "ABORTED", error: "", cause: "" };
  if (error instanceof ExecutionTimeoutError) {
    return { status: "TIMED_OUT", error: "States.Timeout", cause: "" };
  }
  const runtime = error instanceof ExecutionError ? error.cause : error;
  if (runtime instanceof Error)
    return { status: "FAILED", error: runtime.name, cause: runtime.message };
  return { status: "FAILED", error: "States.Runtime", cause: String(runtime) };
}
