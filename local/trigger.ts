// The local EventBridge: turns created S3 objects and ended executions into the events AWS sends, and delivers matching ones to their rule's function.
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCAL_ACCOUNT, LOCAL_REGION, localArn } from "./account.ts";
import { TriggerDeliveryError } from "./errors.ts";
import type { ExecutionRecord } from "./execution-record.ts";
import { isRecord } from "./intrinsics.ts";
import type { LambdaInvoker } from "./lambda.ts";
import type { LocalEventRule, LocalFunction } from "./resource-model.ts";
import type { S3ObjectCreated } from "./s3.ts";

/** The event Step Functions sends to EventBridge when an execution ends (dates in epoch milliseconds). */
export function executionStatusChangeEvent(execution: Omit<ExecutionRecord, "history">) {
  const stopped = execution.stopDate ?? new Date().toISOString();
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Step Functions Execution Status Change",
    source: "aws.states",
    account: LOCAL_ACCOUNT,
    time: new Date(stopped).toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: Date.parse(execution.startDate),
      stopDate: Date.parse(stopped),
      input: execution.input,
      output: execution.output ?? null,
      inputDetails: { included: true },
      outputDetails: execution.output === undefined ? null : { included: true },
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

let lastSequencer = 0n;

/** S3's sequencer orders events of one key: hex, growing with every event here. */
function nextSequencer(): string {
  const now = BigInt(Date.now()) << 16n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, "0");
}

/** The event S3 sends to EventBridge for a new object (EventBridge times have no milliseconds). */
export function objectCreatedEvent(object: S3ObjectCreated) {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Object Created",
    source: "aws.s3",
    account: LOCAL_ACCOUNT,
    time: new Date(object.time).toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: LOCAL_REGION,
    resources: [localArn("s3", object.bucket)],
    detail: {
      version: "0",
      bucket: { name: object.bucket },
      object: {
        key: object.key,
        size: object.size,
        etag: object.etag,
        sequencer: nextSequencer(),
      },
      "request-id": object.requestId,
      requester: LOCAL_ACCOUNT,
      "source-ip-address": object.sourceIp,
      reason: object.reason,
    },
  };
}

function wildcardRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split(/(?<!\\)\*/)
    .map((part) => part.replace(/\\\*/g, "*").replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${escaped}$`, "s");
}

/**
 * EventBridge event-pattern matching as template.yaml uses it: every field in the pattern must
 * match; a list means "any of"; an entry is an exact value or a `wildcard` (template-support.ts
 * refuses any other operator when the stack starts).
 */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  const data = isRecord(event) ? event : {};
  return Object.entries(pattern).every(([field, expected]) => {
    if (!(field in data)) return false;
    const actual = data[field];
    if (isRecord(expected)) return matchesPattern(expected, actual);
    const values = Array.isArray(actual) ? actual : [actual];
    return (expected as unknown[]).some((filter) =>
      values.some((value) =>
        isRecord(filter)
          ? typeof value === "string" && wildcardRegExp(String(filter.wildcard)).test(value)
          : value === filter,
      ),
    );
  });
}

export interface Trigger {
  onObjectCreated(object: S3ObjectCreated): void;
  /** An execution ended: the lot state machine's status-change rule may want to hear of it. */
  onExecutionEnded(execution: ExecutionRecord): void;
  /** Delivers again what a stop or crash left undelivered (EventBridge keeps events it has not delivered). */
  redeliverPending(): void;
  /** Waits for the deliveries under way, so stopping does not cut a handler off mid-flight. */
  drain(): Promise<void>;
}

/**
 * EventBridge invokes a Lambda target asynchronously; Lambda retries a failed asynchronous
 * invocation twice, one and then two minutes later (its defaults; the template sets no others).
 */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];

/** An event on its way to one rule's target, as kept on disk until delivered or given up on. */
interface PendingDelivery {
  ruleId: string;
  /** The attempt due next, so a restart does not give a failing event a fresh set of retries. */
  attempt: number;
  /** What the event is about, for the log ("s3://bucket/key", "execution X FAILED"). */
  what: string;
  event: { id: string };
}

export function createTrigger(options: {
  /** Buckets whose events go to EventBridge (EventBridgeEnabled); others trigger nothing, as on AWS. */
  eventBridgeBuckets: string[];
  rules: LocalEventRule[];
  functions: LocalFunction[];
  invoker: LambdaInvoker;
  log: (line: string) => void;
  retryDelaysMs?: number[];
  /** Copies of each event delivered at once (at-least-once delivery; default 1). */
  deliveries?: number;
  /** Where events wait until delivered or given up on, so a crash does not lose them. */
  pendingDir?: string;
}): Trigger {
  const retryDelaysMs = options.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
  const inFlight = new Set<Promise<void>>();
  const pendingRetries = new Set<NodeJS.Timeout>();
  let draining = false;
  const pendingDir = options.pendingDir;
  if (pendingDir) mkdirSync(pendingDir, { recursive: true });

  const pendingFile = (event: { id: string }, rule: LocalEventRule) =>
    pendingDir
      ? join(pendingDir, `${event.id}~${rule.id.replace(/[^A-Za-z0-9_-]/g, "_")}.json`)
      : "";
  const remember = (delivery: PendingDelivery, rule: LocalEventRule) => {
    const file = pendingFile(delivery.event, rule);
    if (!file) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(delivery));
    renameSync(`${file}.tmp`, file);
  };
  const forget = (event: { id: string }, rule: LocalEventRule) => {
    const file = pendingFile(event, rule);
    if (file) rmSync(file, { force: true });
  };
  const targetOf = (rule: LocalEventRule | undefined) =>
    options.functions.find((candidate) => candidate.logicalId === rule?.targetFunction);

  const deliver = (
    fn: LocalFunction,
    rule: LocalEventRule,
    what: string,
    event: { id: string },
    attempt: number,
  ) => {
    const attempts = retryDelaysMs.length + 1;
    const delivery = options.invoker
      .invoke(fn, event)
      .then(
        () => forget(event, rule),
        (cause: unknown) => {
          // Stopping keeps the event for the next start; otherwise the last attempt gives up on it.
          const retryIn = draining ? undefined : retryDelaysMs[attempt - 1];
          if (retryIn === undefined && !draining) forget(event, rule);
          const error = new TriggerDeliveryError(
            `delivering ${what} to ${fn.logicalId} (rule ${rule.id}) failed (attempt ${attempt} of ${attempts}): ${cause instanceof Error ? `${cause.name}: ${(cause as { errorMessage?: string }).errorMessage ?? cause.message}` : String(cause)}${retryIn === undefined ? "" : `; retrying in ${retryIn / 1000} s`}`,
            { cause },
          );
          options.log(`events: ${error.message}`);
          if (retryIn === undefined) return;
          if (!draining) remember({ ruleId: rule.id, attempt: attempt + 1, what, event }, rule);
          const timer = setTimeout(() => {
            pendingRetries.delete(timer);
            deliver(fn, rule, what, event, attempt + 1);
          }, retryIn);
          pendingRetries.add(timer);
        },
      )
      .finally(() => inFlight.delete(delivery));
    inFlight.add(delivery);
  };

  const route = (what: string, event: { id: string }) => {
    // A stopping stack aborts its executions itself: that is no event of theirs to deliver.
    if (draining) return;
    const copies = options.deliveries ?? 1;
    for (const rule of options.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      const fn = targetOf(rule);
      if (!fn) continue;
      options.log(`events: ${rule.id} matched ${what} -> ${fn.logicalId}`);
      if (copies > 1) options.log(`events: delivering ${copies} copies of the event at once`);
      remember({ ruleId: rule.id, attempt: 1, what, event }, rule);
      // Like EventBridge, deliver after the source has answered, never inside its call.
      setImmediate(() => {
        for (let copy = 0; copy < copies; copy++) {
          if (!draining) deliver(fn, rule, what, event, 1);
        }
      });
    }
  };

  return {
    onObjectCreated(object) {
      if (!options.eventBridgeBuckets.includes(object.bucket)) return;
      route(`s3://${object.bucket}/${object.key} (${object.reason})`, objectCreatedEvent(object));
    },
    onExecutionEnded(execution) {
      route(
        `execution ${execution.name} ${execution.status}`,
        executionStatusChangeEvent(execution),
      );
    },
    redeliverPending() {
      if (!pendingDir) return;
      for (const name of readdirSync(pendingDir)) {
        if (!name.endsWith(".json")) continue;
        try {
          const pending = JSON.parse(
            readFileSync(join(pendingDir, name), "utf8"),
          ) as PendingDelivery;
          const rule = options.rules.find((candidate) => candidate.id === pending.ruleId);
          const fn = targetOf(rule);
          if (!rule || !fn) {
            options.log(`events: dropping pending ${name}: its rule or function is gone`);
            rmSync(join(pendingDir, name), { force: true });
            continue;
          }
          options.log(
            `events: delivering again ${pending.what} to ${fn.logicalId}: the stack stopped before it was delivered`,
          );
          deliver(fn, rule, pending.what, pending.event, pending.attempt);
        } catch (error) {
          options.log(`events: ignoring unreadable pending event ${name}: ${String(error)}`);
        }
      }
    },
    async drain() {
      // Deliveries already scheduled start first; after that, nothing new is delivered or retried.
      await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      draining = true;
      for (const timer of pendingRetries) clearTimeout(timer);
      if (pendingRetries.size > 0) {
        options.log(
          `events: dropping ${pendingRetries.size} pending delivery retries: the stack is stopping`,
        );
      }
      pendingRetries.clear();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
