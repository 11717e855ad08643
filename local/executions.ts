// Runs Step Functions executions of the template's state machines with aws-local-stepfunctions, task states wired to our handlers.
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";
import {
  ExecutionWaitTimeoutError,
  LambdaInvocationError,
  ServiceApiError,
  TemplateError,
} from "./errors.ts";
import type { LambdaInvoker } from "./lambda.ts";
import type { LocalStateMachine } from "./model.ts";

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

type TaskHandler = (input: unknown) => Promise<unknown>;

interface PreparedStateMachine {
  spec: LocalStateMachine;
  machine: StateMachine;
  /** The definition as run (task timeouts filled in), to resume it at any top-level state. */
  definition: StateMachineDefinition & { States: Record<string, StateNode> };
  taskHandlers: Record<string, TaskHandler>;
}

/** Step Functions' rule for execution names: 1-80 characters, none of these, no control characters. */
const EXECUTION_NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
function isValidExecutionName(name: string): boolean {
  const hasControl = [...name].some((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
  return (
    name.length >= 1 && name.length <= 80 && !hasControl && !EXECUTION_NAME_FORBIDDEN.test(name)
  );
}
/** Step Functions' limit on an execution's input and on any state's output. */
const MAX_PAYLOAD_BYTES = 256 * 1024;
/** The library's own Task default is 60 s; AWS has none, so a long Lambda would fail only locally. */
const TASK_TIMEOUT_SECONDS = 24 * 24 * 3600;
const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const LAMBDA_ARN = /^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:/;

interface StateNode {
  Type?: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Branches?: Array<{ States?: Record<string, StateNode> }>;
  Iterator?: { States?: Record<string, StateNode> };
  ItemProcessor?: { States?: Record<string, StateNode> };
}

/** Every state, including those inside Map and Parallel states, by name. */
function allStates(states: Record<string, StateNode>, found = new Map<string, StateNode>()) {
  for (const [name, state] of Object.entries(states)) {
    if (found.has(name)) {
      throw new TemplateError(
        `state name '${name}' is used twice; aws-local-stepfunctions wires tasks by state name`,
      );
    }
    found.set(name, state);
    for (const branch of state.Branches ?? []) allStates(branch.States ?? {}, found);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) allStates(nested.States ?? {}, found);
  }
  return found;
}

function prepare(spec: LocalStateMachine, invoker: LambdaInvoker): PreparedStateMachine {
  const definition = structuredClone(spec.definition) as unknown as StateMachineDefinition & {
    States: Record<string, StateNode>;
  };
  if (!definition.States || typeof definition.StartAt !== "string") {
    throw new TemplateError(`${spec.logicalId}: the definition needs StartAt and States`);
  }
  const taskHandlers: Record<string, TaskHandler> = {};
  for (const [stateName, state] of allStates(definition.States)) {
    if (state.Type !== "Task") continue;
    const where = `${spec.logicalId} state '${stateName}'`;
    const resource = state.Resource ?? "";
    if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = TASK_TIMEOUT_SECONDS;
    }
    if (LAMBDA_ARN.test(resource)) {
      const fn = invoker.functionByNameOrArn(resource);
      if (!fn) throw new TemplateError(`${where}: no template function has the ARN ${resource}`);
      taskHandlers[stateName] = (input) => invoker.invoke(fn, input);
    } else if (resource === LAMBDA_INVOKE) {
      const staticName = state.Parameters?.FunctionName;
      if (typeof staticName === "string" && !invoker.functionByNameOrArn(staticName)) {
        throw new TemplateError(`${where}: no template function is named ${staticName}`);
      }
      taskHandlers[stateName] = async (input) => {
        const request = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
        const fn = invoker.functionByNameOrArn(String(request.FunctionName ?? ""));
        if (!fn) {
          throw new LambdaInvocationError(
            "Lambda.ResourceNotFoundException",
            `Function not found: ${String(request.FunctionName)}`,
            [],
          );
        }
        const payload = await invoker.invoke(fn, request.Payload ?? {});
        // The optimised integration wraps the function's answer as Lambda's Invoke API does.
        return {
          ExecutedVersion: "$LATEST",
          Payload: payload,
          SdkHttpMetadata: { HttpStatusCode: 200 },
          SdkResponseMetadata: { RequestId: randomUUID() },
          StatusCode: 200,
        };
      };
    } else {
      throw new TemplateError(
        `${where}: the local stack runs only Lambda tasks, not '${resource}'`,
      );
    }
  }
  let machine: StateMachine;
  try {
    machine = new StateMachine(definition);
  } catch (cause) {
    throw new TemplateError(
      `${spec.logicalId}: invalid state machine definition: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return { spec, machine, definition, taskHandlers };
}

/** History events in the Step Functions API's shape, from the library's event log. */
function historyEntry(
  event: Record<string, unknown>,
): { type: string; details: Record<string, unknown> } | undefined {
  const state = event.state as
    | { name: string; type: string; input?: unknown; output?: unknown }
    | undefined;
  const json = (value: unknown) => JSON.stringify(value ?? null);
  switch (event.type) {
    case "ExecutionStarted":
      return {
        type: "ExecutionStarted",
        details: { executionStartedEventDetails: { input: json(event.input) } },
      };
    case "ExecutionSucceeded":
      return {
        type: "ExecutionSucceeded",
        details: { executionSucceededEventDetails: { output: json(event.output) } },
      };
    case "ExecutionFailed":
      return {
        type: "ExecutionFailed",
        details: {
          executionFailedEventDetails: {
            error: String(event.Error),
            cause: String(event.Cause ?? ""),
          },
        },
      };
    case "ExecutionAborted":
      return { type: "ExecutionAborted", details: { executionAbortedEventDetails: {} } };
    case "ExecutionTimeout":
      return { type: "ExecutionTimedOut", details: { executionTimedOutEventDetails: {} } };
    case "StateEntered":
      return {
        type: `${state?.type}StateEntered`,
        details: { stateEnteredEventDetails: { name: state?.name, input: json(state?.input) } },
      };
    case "StateExited":
      return {
        type: `${state?.type}StateExited`,
        details: { stateExitedEventDetails: { name: state?.name, output: json(state?.output) } },
      };
    case "StateFailed":
      return state?.type === "Task"
        ? {
            type: "TaskFailed",
            details: {
              taskFailedEventDetails: {
                resourceType: "lambda",
                resource: "invoke",
                error: String(event.Error),
                cause: String(event.Cause ?? ""),
              },
            },
          }
        : {
            type: `${state?.type}StateFailed`,
            details: {
              stateFailedEventDetails: {
                name: state?.name,
                error: String(event.Error),
                cause: String(event.Cause ?? ""),
              },
            },
          };
    case "StateRetried":
      return { type: "StateRetried", details: { stateRetriedEventDetails: { name: state?.name } } };
    case "StateCaught":
      return { type: "StateCaught", details: { stateCaughtEventDetails: { name: state?.name } } };
    case "MapIterationStarted":
    case "MapIterationSucceeded":
    case "MapIterationFailed": {
      const parent = event.parentState as { name?: string } | undefined;
      const key = `${event.type.charAt(0).toLowerCase()}${event.type.slice(1)}EventDetails`;
      return { type: event.type, details: { [key]: { name: parent?.name, index: event.index } } };
    }
    default:
      return undefined;
  }
}

const payloadBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

/**
 * AWS fails an execution, uncatchably (no Catch sees it), when a state's input or output or a
 * task's result exceeds 256 KiB; the library does not, and a lot that only works locally is worse
 * than one that fails the same way everywhere.
 */
function failOnDataLimit(record: ExecutionRecord, stateName: string, bytes: number): void {
  if (record.status !== "RUNNING") return;
  const now = new Date().toISOString();
  Object.assign(record, {
    status: "FAILED",
    stopDate: now,
    error: "States.DataLimitExceeded",
    cause: `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit (${bytes} > ${MAX_PAYLOAD_BYTES}).`,
  });
  const id = record.history.length + 1;
  record.history.push({
    id,
    previousEventId: id - 1,
    timestamp: now,
    type: "ExecutionFailed",
    executionFailedEventDetails: { error: record.error, cause: record.cause },
  });
}

/** Where a re-driven execution starts again: the top-level state it was in, with that state's input. */
interface ResumePoint {
  /** undefined: the execution's own start. */
  stateName?: string;
  input: unknown;
  /** The execution had already finished its last state; only its end was not recorded. */
  finished?: { status: "SUCCEEDED"; output: unknown };
}

function resumePoint(
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

/** The library closes its event log when an execution ends; this bounds the wait in case it does not. */
const HISTORY_DRAIN_MS = 100;

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise((resolveLater) => (timer = setTimeout(resolveLater, ms))),
  ]);
  clearTimeout(timer);
}

function errorOf(error: unknown): { error: string; cause: string; status: ExecutionStatus } {
  if (error instanceof ExecutionAbortedError) return { status: "ABORTED", error: "", cause: "" };
  if (error instanceof ExecutionTimeoutError) {
    return { status: "TIMED_OUT", error: "States.Timeout", cause: "" };
  }
  const runtime = error instanceof ExecutionError ? error.cause : error;
  if (runtime instanceof Error)
    return { status: "FAILED", error: runtime.name, cause: runtime.message };
  return { status: "FAILED", error: "States.Runtime", cause: String(runtime) };
}

export interface ExecutionEngine {
  stateMachines: LocalStateMachine[];
  start(request: { stateMachineArn: string; name?: string; input?: string }): ExecutionRecord;
  get(executionArn: string): ExecutionRecord;
  list(stateMachineArn: string): ExecutionRecord[];
  stopExecution(executionArn: string, error?: string, cause?: string): ExecutionRecord;
  /** RedriveExecution: runs a FAILED, ABORTED or TIMED_OUT execution again from the state it ended in. */
  redrive(executionArn: string): ExecutionRecord;
  /** Re-drives the executions a stop or crash of the stack cut off; call once the services are up. */
  resumeInterrupted(): void;
  waitFor(name: string, timeoutMs: number): Promise<ExecutionRecord>;
  close(): Promise<void>;
}

/** The error an execution cut off by the stack's own stop carries; such executions are re-driven at the next start. */
export const LOCAL_STACK_STOPPED = "waferflow.LocalStackStopped";
/** An execution that dies with the stack this often is left ABORTED: it may be what kills the stack. */
export const MAX_LOCAL_REDRIVES = 3;

export function createExecutionEngine(options: {
  stateMachines: LocalStateMachine[];
  invoker: LambdaInvoker;
  dataDir: string;
  log: (line: string) => void;
  /** Called once when an execution this engine ran ends (Step Functions' status-change event). */
  onExecutionEnded?: (record: ExecutionRecord) => void;
}): ExecutionEngine {
  const prepared = new Map(
    options.stateMachines.map((spec) => [spec.arn, prepare(spec, options.invoker)]),
  );
  const executions = new Map<string, ExecutionRecord>();
  const aborters = new Map<string, () => void>();
  const finished = new Map<string, Promise<void>>();
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const directory = join(options.dataDir, "sfn", "executions");
  mkdirSync(directory, { recursive: true });
  const fileOf = (record: ExecutionRecord) =>
    join(directory, `${record.executionArn.split(":").slice(-2).join("~")}.json`);
  const writes = new Map<string, Promise<void>>();

  // Writes of one execution go one after another, so the last state is the one on disk; each
  // goes to a temporary file renamed over the old one, so a kill mid-write never tears it.
  const persist = (record: ExecutionRecord): Promise<void> => {
    const previous = writes.get(record.executionArn) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const file = fileOf(record);
        await writeFile(`${file}.tmp`, JSON.stringify(record));
        await rename(`${file}.tmp`, file);
      })
      .catch((error: unknown) =>
        options.log(`sfn: cannot persist ${record.executionArn}: ${String(error)}`),
      );
    writes.set(record.executionArn, next);
    return next;
  };

  /** Executions the last stop or crash of the stack cut off, in the order found. */
  const interrupted: ExecutionRecord[] = [];
  for (const file of readdirSync(directory)) {
    if (!file.endsWith(".json")) continue;
    try {
      const record = JSON.parse(readFileSync(join(directory, file), "utf8")) as ExecutionRecord;
      executions.set(record.executionArn, record);
      const cutOff =
        record.status === "RUNNING" ||
        (record.status === "ABORTED" && record.error === LOCAL_STACK_STOPPED);
      if (cutOff) interrupted.push(record);
    } catch (error) {
      options.log(`sfn: ignoring unreadable execution file ${file}: ${String(error)}`);
    }
  }

  const machineOf = (arn: string) => {
    const found = prepared.get(arn);
    if (!found) {
      throw new ServiceApiError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${arn}'`,
      );
    }
    return found;
  };

  const pushHistory = (record: ExecutionRecord, type: string, details: Record<string, unknown>) => {
    const id = record.history.length + 1;
    record.history.push({
      id,
      previousEventId: id - 1,
      timestamp: new Date().toISOString(),
      type,
      ...details,
    });
  };

  const run = (record: ExecutionRecord, machine: PreparedStateMachine, from: ResumePoint) => {
    const topLevel = machine.definition.States;
    const runnable =
      from.stateName === undefined
        ? machine.machine
        : new StateMachine(
            { ...machine.definition, StartAt: from.stateName },
            { validationOptions: { noValidate: true } },
          );
    let abortRun = () => {};
    const never = new Promise<never>(() => {});
    // Each task of this execution waits one turn of the event loop before it runs, so the history
    // collector has seen the previous state's exit: a payload over the limit ends the execution
    // before any later state runs, as on AWS.
    const gatedHandlers = Object.fromEntries(
      Object.entries(machine.taskHandlers).map(([stateName, handler]) => [
        stateName,
        async (input: unknown) => {
          await new Promise((resolveTurn) => setImmediate(resolveTurn));
          if (record.status !== "RUNNING") return never;
          const result = await handler(input);
          if (record.status !== "RUNNING") return never;
          const bytes = payloadBytes(result);
          if (bytes > MAX_PAYLOAD_BYTES) {
            failOnDataLimit(record, stateName, bytes);
            abortRun();
            return never;
          }
          return result;
        },
      ]),
    );
    const execution = runnable.run(from.input as never, {
      overrides: { taskResourceLocalHandlers: gatedHandlers as never },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          Input: JSON.parse(record.input) as never,
          RoleArn: `arn:aws:iam::000000000000:role/${machine.spec.name}-role`,
          StartTime: record.startDate,
          RedriveCount: record.redriveCount ?? 0,
        },
        StateMachine: { Id: machine.spec.arn, Name: machine.spec.name },
      },
    });
    abortRun = execution.abort;
    aborters.set(record.executionArn, execution.abort);
    const collectHistory = (async () => {
      for await (const event of execution.eventLogs) {
        const raw = event as unknown as Record<string, unknown>;
        // A redriven execution's history goes on from where it ended; the library's own
        // ExecutionStarted of the resumed run is not a new start.
        if (from.stateName !== undefined && event.type === "ExecutionStarted") continue;
        // Once the data limit has ended it, nothing more happened as far as AWS would show.
        if (record.error === "States.DataLimitExceeded") continue;
        if (event.type === "StateExited" || event.type === "StateEntered") {
          const data = event.type === "StateExited" ? event.state.output : event.state.input;
          const bytes = payloadBytes(data);
          if (bytes > MAX_PAYLOAD_BYTES) {
            failOnDataLimit(record, event.state.name, bytes);
            execution.abort();
            continue;
          }
        }
        const entry = historyEntry(raw);
        if (!entry) continue;
        pushHistory(record, entry.type, entry.details);
        // Top-level steps are saved as they happen: after a crash, the execution resumes there.
        const stateName = (raw.state as { name?: string } | undefined)?.name;
        const nested = raw.index !== undefined;
        if (
          !nested &&
          stateName !== undefined &&
          topLevel[stateName] &&
          (event.type === "StateEntered" || event.type === "StateExited")
        ) {
          void persist(record);
        }
      }
    })().catch((error: unknown) =>
      options.log(`sfn: history of ${record.name} lost: ${String(error)}`),
    );
    const done = execution.result.then(
      (output) => {
        if (record.status !== "RUNNING") return;
        Object.assign(record, { status: "SUCCEEDED", output: JSON.stringify(output ?? null) });
      },
      (error: unknown) => {
        if (record.status !== "RUNNING") return;
        const failure = errorOf(error);
        record.status = failure.status;
        if (failure.error) record.error = failure.error;
        if (failure.cause) record.cause = failure.cause;
      },
    );
    const settled = done
      .then(() => settleWithin(collectHistory, HISTORY_DRAIN_MS))
      .then(async () => {
        record.stopDate ??= new Date().toISOString();
        aborters.delete(record.executionArn);
        options.log(
          `sfn: ${machine.spec.name}/${record.name} ${record.status}${record.error ? ` ${record.error}` : ""}`,
        );
        await persist(record);
        changes.emit("change", record);
        options.onExecutionEnded?.(record);
      })
      .finally(() => finished.delete(record.executionArn));
    finished.set(record.executionArn, settled);
  };

  const redrive = (record: ExecutionRecord, why: string): ExecutionRecord => {
    const machine = machineOf(record.stateMachineArn);
    const from = resumePoint(record, machine.definition);
    const now = new Date().toISOString();
    const redriveCount = (record.redriveCount ?? 0) + 1;
    pushHistory(record, "ExecutionRedriven", {
      executionRedrivenEventDetails: { redriveCount },
    });
    if (from.finished) {
      // Its last state had ended; only the stack died before it wrote the execution's end.
      Object.assign(record, {
        status: from.finished.status,
        output: JSON.stringify(from.finished.output),
        stopDate: now,
        redriveCount,
        redriveDate: now,
      });
      delete record.error;
      delete record.cause;
      options.log(`sfn: ${machine.spec.name}/${record.name} had finished (${why}): SUCCEEDED`);
      void persist(record);
      changes.emit("change", record);
      return record;
    }
    Object.assign(record, { status: "RUNNING", redriveCount, redriveDate: now });
    delete record.error;
    delete record.cause;
    delete record.stopDate;
    delete record.output;
    options.log(
      `sfn: ${machine.spec.name}/${record.name} redriven (${why}) from ${from.stateName ?? "its start"}`,
    );
    void persist(record);
    changes.emit("change", record);
    run(record, machine, from);
    return record;
  };

  const byName = (name: string) => {
    const found = [...executions.values()].filter((record) => record.name === name);
    const mainMachine = options.stateMachines[0]?.arn;
    return found.find((record) => record.stateMachineArn === mainMachine) ?? found[0];
  };

  return {
    stateMachines: options.stateMachines,

    start(request) {
      const machine = machineOf(request.stateMachineArn);
      const name = request.name ?? randomUUID();
      if (!isValidExecutionName(name)) {
        throw new ServiceApiError("InvalidName", `Invalid Name: '${name}'`);
      }
      const inputText = request.input ?? "{}";
      const inputBytes = Buffer.byteLength(inputText);
      if (inputBytes > MAX_PAYLOAD_BYTES) {
        // The API's length constraint on input (262144 bytes of UTF-8), checked before anything runs.
        throw new ServiceApiError(
          "ValidationException",
          `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES} (it has ${inputBytes} bytes)`,
        );
      }
      let input: unknown;
      try {
        input = JSON.parse(inputText);
      } catch {
        throw new ServiceApiError(
          "InvalidExecutionInput",
          `Invalid State Machine Execution Input: '${inputText.slice(0, 100)}'`,
        );
      }
      const executionArn = `${machine.spec.arn.replace(":stateMachine:", ":execution:")}:${name}`;
      const existing = executions.get(executionArn);
      if (existing) {
        // AWS answers an identical start of a running execution with that execution (idempotency).
        if (existing.status === "RUNNING" && existing.input === inputText) return existing;
        throw new ServiceApiError(
          "ExecutionAlreadyExists",
          `Execution Already Exists: '${executionArn}'`,
        );
      }
      const record: ExecutionRecord = {
        executionArn,
        stateMachineArn: machine.spec.arn,
        name,
        status: "RUNNING",
        input: inputText,
        startDate: new Date().toISOString(),
        history: [],
      };
      executions.set(executionArn, record);
      // On disk before StartExecution answers: once the caller is told "started", a crash of
      // the stack must not lose the execution (it is resumed at the next start).
      const file = fileOf(record);
      writeFileSync(`${file}.tmp`, JSON.stringify(record));
      renameSync(`${file}.tmp`, file);
      options.log(`sfn: ${machine.spec.name}/${name} started`);
      changes.emit("change", record);
      run(record, machine, { input });
      return record;
    },

    get(executionArn) {
      const record = executions.get(executionArn);
      if (!record) {
        throw new ServiceApiError(
          "ExecutionDoesNotExist",
          `Execution Does Not Exist: '${executionArn}'`,
        );
      }
      return record;
    },

    list(stateMachineArn) {
      machineOf(stateMachineArn);
      return [...executions.values()]
        .filter((record) => record.stateMachineArn === stateMachineArn)
        .sort((a, b) => b.startDate.localeCompare(a.startDate));
    },

    stopExecution(executionArn, error, cause) {
      const record = this.get(executionArn);
      if (record.status !== "RUNNING") return record;
      Object.assign(record, {
        status: "ABORTED",
        stopDate: new Date().toISOString(),
        ...(error ? { error } : {}),
        ...(cause ? { cause } : {}),
      });
      aborters.get(executionArn)?.();
      return record;
    },

    redrive(executionArn) {
      const record = this.get(executionArn);
      if (
        !["FAILED", "ABORTED", "TIMED_OUT"].includes(record.status) ||
        aborters.has(executionArn)
      ) {
        throw new ServiceApiError(
          "ExecutionNotRedrivable",
          `Execution '${executionArn}' is ${record.status}; only FAILED, ABORTED or TIMED_OUT executions can be redriven`,
        );
      }
      return redrive(record, "RedriveExecution");
    },

    resumeInterrupted() {
      for (const record of interrupted.splice(0)) {
        if (record.status !== "RUNNING" && record.status !== "ABORTED") continue;
        if ((record.redriveCount ?? 0) >= MAX_LOCAL_REDRIVES) {
          Object.assign(record, {
            status: "ABORTED",
            stopDate: record.stopDate ?? new Date().toISOString(),
            error: "waferflow.RedriveLimitExceeded",
            cause: `the local stack stopped during this execution ${MAX_LOCAL_REDRIVES + 1} times; it is not resumed again (RedriveExecution still can)`,
          });
          options.log(`sfn: ${record.name} left ABORTED: ${record.cause}`);
          void persist(record);
          changes.emit("change", record);
          continue;
        }
        try {
          redrive(record, "the local stack stopped while it ran");
        } catch (error) {
          options.log(`sfn: cannot resume ${record.executionArn}: ${String(error)}`);
        }
      }
    },

    waitFor(name, timeoutMs) {
      return new Promise((resolveWait, reject) => {
        const check = () => {
          const record = byName(name);
          if (record && record.status !== "RUNNING" && !aborters.has(record.executionArn)) {
            cleanup();
            resolveWait(record);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          const record = byName(name);
          reject(
            new ExecutionWaitTimeoutError(
              record
                ? `execution '${name}' is still ${record.status} after ${timeoutMs} ms`
                : `no execution named '${name}' started within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          changes.off("change", check);
        };
        changes.on("change", check);
        check();
      });
    },

    async close() {
      for (const [arn, abort] of aborters) {
        const record = executions.get(arn);
        if (record?.status === "RUNNING") {
          Object.assign(record, {
            status: "ABORTED",
            error: LOCAL_STACK_STOPPED,
            cause:
              "the local stack was stopped while this execution was running; it resumes when the stack starts again",
          });
        }
        abort();
      }
      await Promise.allSettled([...finished.values()]);
      await Promise.allSettled([...writes.values()]);
    },
  };
}
