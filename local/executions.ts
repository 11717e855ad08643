// Runs Step Functions executions of the template's state machines with aws-local-stepfunctions: start, stop, redrive, persist, resume after a crash.
import { randomUUID } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { StateMachine } from "aws-local-stepfunctions";
import { executionArnOf } from "./account.ts";
import { ExecutionWaitTimeoutError, ServiceApiError } from "./errors.ts";
import {
  appendHistory,
  type ExecutionRecord,
  type ExecutionStatus,
  errorOf,
  failOnDataLimit,
  type HistoryEvent,
  historyEntry,
  isValidExecutionName,
  MAX_PAYLOAD_BYTES,
  payloadBytes,
  type ResumePoint,
  resumePoint,
} from "./execution-record.ts";
import type { LambdaInvoker } from "./lambda.ts";
import type { LocalFunction, LocalStateMachine } from "./resource-model.ts";
import { allStates, type PreparedStateMachine, prepare, type StateNode } from "./state-machine.ts";

export type { ExecutionRecord, ExecutionStatus, HistoryEvent };

/** The library closes its event log when an execution ends; this bounds the wait in case it does not. */
const HISTORY_DRAIN_MS = 100;

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
  /** Resolves once the execution has ended (it may not have started yet). */
  waitFor(executionArn: string, timeoutMs: number): Promise<ExecutionRecord>;
  close(): Promise<void>;
}

/** The error an execution cut off by the stack's own stop carries; such executions are re-driven at the next start. */
export const LOCAL_STACK_STOPPED = "waferflow.LocalStackStopped";
/** An execution that dies with the stack this often is left ABORTED: it may be what kills the stack. */
export const MAX_LOCAL_REDRIVES = 3;

export function createExecutionEngine(options: {
  stateMachines: LocalStateMachine[];
  /** The template's functions, which Task states name by ARN. */
  functions: LocalFunction[];
  invoker: LambdaInvoker;
  dataDir: string;
  log: (line: string) => void;
  /** Tests only: every Retry waits this long instead of the ASL's back-off (LocalStackOptions). */
  retryIntervalMs?: number;
  /** Called once when an execution this engine ran ends (Step Functions' status-change event). */
  onExecutionEnded?: (record: ExecutionRecord) => void;
}): ExecutionEngine {
  const prepared = new Map(
    options.stateMachines.map((spec) => [
      spec.arn,
      prepare(spec, options.functions, options.invoker),
    ]),
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
      overrides: {
        taskResourceLocalHandlers: gatedHandlers as never,
        ...(options.retryIntervalMs === undefined
          ? {}
          : { retryIntervalOverrides: retryOverrides(topLevel, options.retryIntervalMs) }),
      },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          Input: JSON.parse(record.input) as never,
          RoleArn: machine.spec.roleArn,
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
        appendHistory(record, entry.type, entry.details);
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
      .then(() => Promise.race([collectHistory, delay(HISTORY_DRAIN_MS)]))
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
    appendHistory(record, "ExecutionRedriven", { executionRedrivenEventDetails: { redriveCount } });
    for (const field of ["error", "cause", "stopDate", "output"] as const) delete record[field];
    Object.assign(record, { status: "RUNNING", redriveCount, redriveDate: now });
    // Its last state had ended: only the stack died before it wrote the execution's end.
    if (from.finished) {
      Object.assign(record, {
        status: from.finished.status,
        output: JSON.stringify(from.finished.output),
        stopDate: now,
      });
    }
    options.log(
      `sfn: ${machine.spec.name}/${record.name} ${from.finished ? `had finished (${why}): SUCCEEDED` : `redriven (${why}) from ${from.stateName ?? "its start"}`}`,
    );
    void persist(record);
    changes.emit("change", record);
    if (!from.finished) run(record, machine, from);
    return record;
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
      const executionArn = executionArnOf(machine.spec.arn, name);
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

    async waitFor(executionArn, timeoutMs) {
      const signal = AbortSignal.timeout(timeoutMs);
      for (;;) {
        const record = executions.get(executionArn);
        if (record && record.status !== "RUNNING" && !aborters.has(executionArn)) return record;
        try {
          await once(changes, "change", { signal });
        } catch (error) {
          if (!signal.aborted) throw error;
          const name = executionArn.split(":").at(-1);
          const status = executions.get(executionArn)?.status;
          throw new ExecutionWaitTimeoutError(
            status
              ? `execution '${name}' is still ${status} after ${timeoutMs} ms`
              : `no execution named '${name}' started within ${timeoutMs} ms`,
          );
        }
      }
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

/** Every state with a Retry, at any depth (Map iterators too), waiting `intervalMs` per attempt. */
export function retryOverrides(
  states: Record<string, StateNode>,
  intervalMs: number,
): Record<string, number> {
  const retrying = [...allStates(states)].filter(([, state]) => Array.isArray(state.Retry));
  return Object.fromEntries(retrying.map(([name]) => [name, intervalMs]));
}
