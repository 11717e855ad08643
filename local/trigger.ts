// The local EventBridge: turns created S3 objects and ended executions into the events AWS sends, and delivers matching ones to their rule's function.
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { LOCAL_ACCOUNT, LOCAL_REGION, localArn } from "./account.ts";
import type { ExecutionRecord } from "./execution-record.ts";
import { isRecord } from "./intrinsics.ts";
import type { LambdaInvoker } from "./lambda.ts";
import type { LocalEventRule, LocalFunction, LocalSchedule } from "./resource-model.ts";
import type { S3ObjectCreated } from "./s3.ts";

/** An event as EventBridge delivers it (its time without milliseconds). */
function eventOf<Detail>(
  source: string,
  detailType: string,
  time: string | number,
  resources: string[],
  detail: Detail,
) {
  const at = new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
  const envelope = { version: "0", id: randomUUID(), "detail-type": detailType, source };
  return { ...envelope, account: LOCAL_ACCOUNT, time: at, region: LOCAL_REGION, resources, detail };
}

/** The event Step Functions sends to EventBridge when an execution ends (dates in epoch milliseconds). */
export function executionStatusChangeEvent(execution: Omit<ExecutionRecord, "history">) {
  const stopped = execution.stopDate ?? new Date().toISOString();
  const status = "Step Functions Execution Status Change";
  return eventOf("aws.states", status, stopped, [execution.executionArn], {
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
  });
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
  return eventOf("aws.s3", "Object Created", object.time, [localArn("s3", object.bucket)], {
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
  });
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
 * invocation about one and then two minutes later, as many times as the function's
 * `EventInvokeConfig.MaximumRetryAttempts` allows (0-2).
 */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];

/** Where, under a stack's data dir, the events Lambda gave up on are kept: one folder per dead-letter queue. */
export const DEAD_LETTER_DIR = join("events", "dead-letters");

/** One event Lambda gave up on, as written to its queue's folder. */
export interface DeadLetter {
  queue: string;
  function: string;
  rule: string;
  reason: string;
  what: string;
  attempt: number;
  event: { id: string; time?: string };
  /** The event alone, as the queue's message body: what to invoke the function with again. */
  eventFile: string;
}

/** Every dead letter under a data dir, oldest event first; none when the folder is absent. */
export function readDeadLetters(dataDir: string): DeadLetter[] {
  const root = join(dataDir, DEAD_LETTER_DIR);
  if (!existsSync(root)) return [];
  const letters: DeadLetter[] = [];
  for (const queue of readdirSync(root)) {
    for (const name of readdirSync(join(root, queue))) {
      if (!name.endsWith(".json") || name.endsWith(".event.json")) continue;
      letters.push(JSON.parse(readFileSync(join(root, queue, name), "utf8")) as DeadLetter);
    }
  }
  return letters.sort((a, b) => String(a.event.time).localeCompare(String(b.event.time)));
}

/** An event as it travels: its id names its files, its time decides when it is too old to try. */
interface DeliveredEvent {
  id: string;
  time?: string;
}

/** An event on its way to one rule's target, as kept on disk until delivered or given up on. */
interface PendingDelivery {
  ruleId: string;
  /** The attempt due next, so a restart does not give a failing event a fresh set of retries. */
  attempt: number;
  /** What the event is about, for the log ("s3://bucket/key", "execution X FAILED"). */
  what: string;
  event: DeliveredEvent;
}

export function createTrigger(options: {
  /** Buckets whose events go to EventBridge (EventBridgeEnabled); others trigger nothing, as on AWS. */
  eventBridgeBuckets: string[];
  rules: LocalEventRule[];
  /** SAM `Schedule` events: each invokes its function on its rate, as EventBridge Scheduler would. */
  schedules?: LocalSchedule[];
  functions: LocalFunction[];
  invoker: LambdaInvoker;
  log: (line: string) => void;
  /** Lambda's wait before each retry (tests shorten it); the function's config says how many run. */
  retryDelaysMs?: number[];
  /** Copies of each event delivered at once (at-least-once delivery; default 1). */
  deliveries?: number;
  /**
   * The stack's data dir: events wait in `events/pending/` until delivered or given up on, so a
   * crash does not lose them; those given up on land in DEAD_LETTER_DIR, a folder per queue.
   */
  dataDir: string;
  /** The clock that ages events (tests move it). */
  now?: () => number;
}): Trigger {
  const retryDelaysMs = options.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
  const now = options.now ?? Date.now;
  const inFlight = new Set<Promise<void>>();
  const pendingRetries = new Set<NodeJS.Timeout>();
  let draining = false;
  const pendingDir = join(options.dataDir, "events", "pending");
  mkdirSync(pendingDir, { recursive: true });

  const fileSafe = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, "_");
  const pendingFile = (event: DeliveredEvent, rule: LocalEventRule) =>
    join(pendingDir, `${fileSafe(event.id)}~${fileSafe(rule.id)}.json`);
  const remember = (delivery: PendingDelivery, rule: LocalEventRule) => {
    const file = pendingFile(delivery.event, rule);
    writeFileSync(`${file}.tmp`, JSON.stringify(delivery));
    renameSync(`${file}.tmp`, file);
  };
  const forget = (event: DeliveredEvent, rule: LocalEventRule) =>
    rmSync(pendingFile(event, rule), { force: true });
  const targetOf = (rule: { targetFunction: string } | undefined) =>
    options.functions.find((candidate) => candidate.logicalId === rule?.targetFunction);

  const timers = (options.schedules ?? []).flatMap((schedule) => {
    const fn = targetOf(schedule);
    if (!fn) return [];
    const resources = [localArn("events", `rule/${schedule.id}`)];
    const timer = setInterval(() => {
      const event = eventOf("aws.events", "Scheduled Event", Date.now(), resources, {});
      options.invoker.invoke(fn, event).catch((error: unknown) => {
        options.log(`schedule ${schedule.id}: ${schedule.targetFunction} failed: ${String(error)}`);
      });
    }, schedule.rateSeconds * 1000);
    return [timer.unref()];
  });

  /** Lambda gave up on the event: it goes to the function's dead-letter queue, or is dropped; either way it is said. */
  const giveUp = (
    fn: LocalFunction,
    rule: LocalEventRule,
    delivery: PendingDelivery,
    reason: string,
  ) => {
    forget(delivery.event, rule);
    const queue = fn.asyncInvoke.deadLetterQueue;
    if (!queue) {
      options.log(`events: gave up on ${delivery.what} for ${fn.logicalId}: ${reason}; dropped`);
      return;
    }
    const dir = join(options.dataDir, DEAD_LETTER_DIR, fileSafe(queue));
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `${fileSafe(delivery.event.id)}~${fileSafe(rule.id)}`);
    // As in SQS: the message body is the event itself (ready to invoke the function with again);
    // why it failed travels beside it, as the message attributes do on AWS.
    const eventFile = `${base}.event.json`;
    const message = {
      queue,
      function: fn.logicalId,
      rule: rule.id,
      reason,
      eventFile,
      ...delivery,
    };
    for (const [file, body] of [
      [eventFile, delivery.event],
      [`${base}.json`, message],
    ] as const) {
      writeFileSync(`${file}.tmp`, JSON.stringify(body, null, 2));
      renameSync(`${file}.tmp`, file);
    }
    options.log(
      `events: gave up on ${delivery.what} for ${fn.logicalId}: ${reason}; sent to dead-letter queue ${queue} (${eventFile})`,
    );
  };

  const ageMs = (event: DeliveredEvent) => {
    const sent = event.time === undefined ? Number.NaN : Date.parse(event.time);
    return Number.isNaN(sent) ? 0 : now() - sent;
  };

  const deliver = (fn: LocalFunction, rule: LocalEventRule, delivery: PendingDelivery) => {
    const { what, event, attempt } = delivery;
    const retries = Math.min(fn.asyncInvoke.maximumRetryAttempts, retryDelaysMs.length);
    const attempts = retries + 1;
    const maxAgeMs = fn.asyncInvoke.maximumEventAgeSeconds * 1000;
    if (attempt > 1 && ageMs(event) > maxAgeMs) {
      giveUp(
        fn,
        rule,
        delivery,
        `the event is older than MaximumEventAgeInSeconds (${fn.asyncInvoke.maximumEventAgeSeconds} s) before attempt ${attempt} of ${attempts}`,
      );
      return;
    }
    const running = options.invoker
      .invoke(fn, event)
      .then(
        () => forget(event, rule),
        (cause: unknown) => {
          // Stopping keeps the event for the next start; otherwise the last attempt gives up on it.
          const retryIn = attempt <= retries ? retryDelaysMs[attempt - 1] : undefined;
          const why =
            cause instanceof Error
              ? `${cause.name}: ${(cause as { errorMessage?: string }).errorMessage ?? cause.message}`
              : String(cause);
          options.log(
            `events: delivering ${what} to ${fn.logicalId} (rule ${rule.id}) failed (attempt ${attempt} of ${attempts}): ${why}${retryIn === undefined || draining ? "" : `; retrying in ${retryIn / 1000} s`}`,
          );
          if (draining) return;
          if (retryIn === undefined) {
            giveUp(fn, rule, delivery, `all ${attempts} attempts failed`);
            return;
          }
          const next = { ...delivery, attempt: attempt + 1 };
          remember(next, rule);
          const timer = setTimeout(() => {
            pendingRetries.delete(timer);
            deliver(fn, rule, next);
          }, retryIn);
          pendingRetries.add(timer);
        },
      )
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  };

  const route = (what: string, event: DeliveredEvent) => {
    // A stopping stack aborts its executions itself: that is no event of theirs to deliver.
    if (draining) return;
    const copies = options.deliveries ?? 1;
    for (const rule of options.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      const fn = targetOf(rule);
      if (!fn) continue;
      options.log(`events: ${rule.id} matched ${what} -> ${fn.logicalId}`);
      if (copies > 1) options.log(`events: delivering ${copies} copies of the event at once`);
      const delivery = { ruleId: rule.id, attempt: 1, what, event };
      remember(delivery, rule);
      // Like EventBridge, deliver after the source has answered, never inside its call.
      setImmediate(() => {
        for (let copy = 0; copy < copies; copy++) {
          if (!draining) deliver(fn, rule, delivery);
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
          deliver(fn, rule, pending);
        } catch (error) {
          options.log(`events: ignoring unreadable pending event ${name}: ${String(error)}`);
        }
      }
    },
    async drain() {
      // Deliveries already scheduled start first; after that, nothing new is delivered or retried.
      await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      draining = true;
      for (const timer of timers) clearInterval(timer);
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
