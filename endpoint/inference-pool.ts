// Worker threads that each hold a loaded model, so inferences use every core and the server's thread stays free for I/O.
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { readConfig, wholeNumberVariable } from "../lib/config.ts";
import type { InferenceRequest, InferenceResult } from "./inference.ts";
import { rebuildError, type SerialisedError } from "./inference-errors.ts";
import type { ThreadTiming, WorkerData, WorkerMessage, WorkerTask } from "./inference-worker.ts";

/** One inference's answer, and what it cost the thread's heap. */
export interface InferenceRun {
  result: InferenceResult;
  /** Mark-compacts the worker's heap ran during it (as V8 reported them by its end). */
  majorGcs: number;
  /** The worker's own view of the task: its time on it, and its wait for it. */
  thread: ThreadTiming;
  /** From the request's arrival in the pool to a thread taking it, ms. */
  waitedMs: number;
}

const WORKER_ENTRY = new URL("./inference-worker.mjs", import.meta.url);

export interface InferencePool {
  /** Worker threads, each running one inference at a time. */
  readonly size: number;
  /**
   * Settles when every worker has loaded its model and run its warm-up wafers, or rejects with the
   * first failure.
   */
  readonly ready: Promise<void>;
  /**
   * Runs one inference on the first worker free to take it: requests wait in the pool, and each
   * thread takes the oldest waiting one itself as it finishes the one before. The image is shared
   * with the threads when it lies in a SharedArrayBuffer (endpoint/image-source.ts reads it there)
   * and copied into one otherwise; the caller's bytes are left as they are. `onStart` is told
   * when a thread takes it.
   */
  run(request: InferenceRequest, hooks?: { onStart?: () => void }): Promise<InferenceRun>;
  /** Stops every worker; inferences running or waiting are rejected. */
  close(): Promise<void>;
}

export const MAX_INFERENCE_THREADS = 64;

const ThreadsEnvSchema = z.object({
  WAFERFLOW_INFERENCE_THREADS: wholeNumberVariable(1, MAX_INFERENCE_THREADS),
});

/**
 * One thread per core: detection is CPU-bound JavaScript, decoding runs on libvips' own threads.
 * WAFERFLOW_INFERENCE_THREADS sets another number (a whole number from 1 to 64; a bad value fails
 * naming it): each thread costs its own start and its own compile of the detector, which a small
 * host, or a test that starts a stack for a few wafers, does not win back.
 */
export function defaultInferenceThreads(
  env: Record<string, string | undefined> = process.env,
): number {
  return (
    readConfig(ThreadsEnvSchema, env).WAFERFLOW_INFERENCE_THREADS ??
    Math.max(1, availableParallelism())
  );
}

/**
 * The old generation each inference thread's heap starts with, in MB. V8 sizes a new isolate's
 * old-generation limit from its small live heap (about 18 MB here: the detector's code and
 * tables), so the few MB each wafer promotes kept the heap at that limit, and a concurrent
 * mark-compact ran 1.2 times per 2048 px wafer: 40-60 ms of V8's helper threads' CPU per wafer, a
 * quarter of the inference's. With the limit at 128 MB the live heap stays the same (18-23 MB,
 * 55 MB committed), a mark-compact runs every 6 wafers (set off by external memory, not the
 * limit), and a warm wafer costs 25% less CPU (docs/benchmarks.md, round 10).
 */
export const INFERENCE_OLD_SPACE_MB = 128;

/**
 * V8 reads its heap flags when an isolate is created: set here, before the workers start, the
 * value applies to each worker's heap (and any isolate created later), not to the running main
 * thread's, which is configured already. Node offers no per-worker option for it
 * (resourceLimits has only maximum sizes).
 */
function configureWorkerHeaps(): void {
  setFlagsFromString(`--initial-old-space-size=${INFERENCE_OLD_SPACE_MB}`);
}

interface Slot {
  worker: Worker;
  /** Its mark in a task's claim. */
  tag: number;
  loaded: boolean;
}

interface Task {
  message: WorkerTask;
  resolve(run: InferenceRun): void;
  reject(error: Error): void;
  onStart?: () => void;
  /** Epoch ms it was offered to the threads. */
  offeredAt: number;
}

/**
 * The image in shared memory, so every thread can be offered it and the one that takes it reads
 * it in place: as it is when it already lies in a SharedArrayBuffer, else copied into one (the
 * caller's bytes stay as they are).
 */
function sharedImage(image: Uint8Array): Uint8Array {
  if (image.buffer instanceof SharedArrayBuffer) return image;
  const shared = new Uint8Array(new SharedArrayBuffer(image.byteLength));
  shared.set(image);
  return shared;
}

export function startInferencePool(options: {
  modelSpec: string;
  threads: number;
  /** Seeded wafers each worker (a replacement too) inspects before it takes a request. */
  warmupWafers: number;
  log: (line: string) => void;
}): InferencePool {
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new RangeError(`inference threads must be a positive integer, got ${options.threads}`);
  }
  if (!Number.isInteger(options.warmupWafers) || options.warmupWafers < 0) {
    throw new RangeError(
      `warm-up wafers must be a non-negative integer, got ${options.warmupWafers}`,
    );
  }
  configureWorkerHeaps();
  const slots: Slot[] = [];
  /** Every task not yet answered, taken or not, in the order it came. */
  const tasks = new Map<number, Task>();
  let nextId = 1;
  let nextTag = 1;
  let closing = false;
  const epochNow = () => performance.timeOrigin + performance.now();
  const offer = (slot: Slot, task: Task) => slot.worker.postMessage(task.message);
  const untaken = (task: Task) => Atomics.load(task.message.claim, 0) === 0;

  const spawn = (): { slot: Slot; loaded: Promise<void> } => {
    const tag = nextTag++;
    const workerData: WorkerData = {
      tag,
      modelSpec: options.modelSpec,
      warmupWafers: options.warmupWafers,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData });
    // An idle pool must not keep the process alive; the server's socket does while it serves.
    worker.unref();
    const slot: Slot = { worker, tag, loaded: false };
    let settleLoad: { resolve(): void; reject(error: Error): void } | undefined;
    const loaded = new Promise<void>((resolve, reject) => {
      settleLoad = { resolve, reject };
    });
    worker.on("message", (message: WorkerMessage) => {
      switch (message.kind) {
        case "ready":
          // What the start cost (docs/container.md); nothing to say when there was no warm-up.
          if (message.warmup.wafers > 0) {
            options.log(
              JSON.stringify({
                event: "inference-worker-warm",
                threadId: worker.threadId,
                ...message.warmup,
              }),
            );
          }
          slot.loaded = true;
          settleLoad?.resolve();
          // What came before this thread was ready (or while its predecessor crashed) is its too.
          for (const task of tasks.values()) if (untaken(task)) offer(slot, task);
          return;
        case "load-failed":
          settleLoad?.reject(rebuildError(message.error));
          return;
        case "started":
          tasks.get(message.id)?.onStart?.();
          return;
        case "done":
        case "failed": {
          const task = tasks.get(message.id);
          if (!task) return;
          tasks.delete(message.id);
          if (message.kind === "done")
            task.resolve({
              result: message.result,
              majorGcs: message.majorGcs,
              thread: message.thread,
              waitedMs: Math.max(0, message.thread.startedAt - task.offeredAt),
            });
          else task.reject(rebuildError(message.error));
          return;
        }
      }
    });
    let lastError: SerialisedError | undefined;
    worker.on("error", (error) => {
      lastError = { name: error.name, message: error.message };
    });
    worker.on("exit", (code) => {
      const index = slots.indexOf(slot);
      if (index >= 0) slots.splice(index, 1);
      const why = `inference worker stopped (exit code ${code}${lastError ? `: ${lastError.name}: ${lastError.message}` : ""})`;
      settleLoad?.reject(new Error(why));
      // What it had taken dies with it; what nobody took yet stays for the others.
      for (const [id, task] of tasks) {
        if (Atomics.load(task.message.claim, 0) !== tag) continue;
        tasks.delete(id);
        task.reject(new Error(why));
      }
      // A worker whose model never loaded has said why (ready rejects); another would fail alike.
      if (closing || !slot.loaded) return;
      // A crashed worker (out of memory, a native fault) is replaced, so the pool keeps its size.
      options.log(JSON.stringify({ event: "inference-worker-replaced", reason: why }));
      const replacement = spawn();
      replacement.loaded.catch((error: Error) =>
        options.log(
          JSON.stringify({ event: "inference-worker-load-failed", reason: error.message }),
        ),
      );
    });
    slots.push(slot);
    return { slot, loaded };
  };

  const initial = Array.from({ length: options.threads }, () => spawn().loaded);
  const ready = Promise.all(initial).then(() => undefined);
  // Observed by the server; a rejection here must not count as unhandled.
  ready.catch(() => {});

  return {
    size: options.threads,
    ready,
    run(request, hooks) {
      if (closing) return Promise.reject(new Error("the inference pool is closed"));
      const id = nextId++;
      return new Promise<InferenceRun>((resolve, reject) => {
        const task: Task = {
          message: {
            id,
            request: { ...request, image: sharedImage(request.image) },
            claim: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
          },
          resolve,
          reject,
          ...(hooks?.onStart ? { onStart: hooks.onStart } : {}),
          offeredAt: epochNow(),
        };
        tasks.set(id, task);
        // Offered to every ready thread at once; the first one free takes it. A thread still
        // loading is offered what is waiting when it says ready.
        for (const slot of slots) if (slot.loaded) offer(slot, task);
      });
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      for (const task of tasks.values()) task.reject(new Error("the inference pool is closed"));
      tasks.clear();
    },
  };
}
