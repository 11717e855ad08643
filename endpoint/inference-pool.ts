// Worker threads that each hold a loaded model, so inferences use every core and the server's thread stays free for I/O.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { readConfig, wholeNumberVariable } from "../lib/config.ts";
import {
  type InferenceRequest,
  type InferenceResult,
  rebuildError,
  type SerialisedError,
} from "./inference.ts";
import type { WorkerData, WorkerMessage, WorkerTask } from "./inference-worker.ts";

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
   * Runs one inference on an idle worker (waiting for one if all are busy). The request's image
   * is moved to the worker when it owns its memory: do not read it after the call.
   */
  run(request: InferenceRequest): Promise<InferenceResult>;
  /** Stops every worker; inferences still running are rejected. */
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

interface Slot {
  worker: Worker;
  loaded: boolean;
  task?: { id: number; resolve(result: InferenceResult): void; reject(error: Error): void };
}

/**
 * The image's memory, moved to the worker instead of copied (a few MB per wafer) when the image
 * owns all of it; the caller must not read the image afterwards. A view into a larger buffer
 * (a pooled or shared one) is copied as before.
 */
function transferable(image: Uint8Array): ArrayBuffer[] {
  const { buffer } = image;
  return buffer instanceof ArrayBuffer &&
    image.byteOffset === 0 &&
    image.byteLength === buffer.byteLength
    ? [buffer]
    : [];
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
  const slots: Slot[] = [];
  const waiting: Array<(slot: Slot) => void> = [];
  let nextId = 1;
  let closing = false;

  const release = (slot: Slot) => {
    const next = waiting.shift();
    if (next) next(slot);
  };

  const spawn = (): { slot: Slot; loaded: Promise<void> } => {
    const workerData: WorkerData = {
      modelSpec: options.modelSpec,
      warmupWafers: options.warmupWafers,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData });
    // An idle pool must not keep the process alive; the server's socket does while it serves.
    worker.unref();
    const slot: Slot = { worker, loaded: false };
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
          release(slot);
          return;
        case "load-failed":
          settleLoad?.reject(rebuildError(message.error));
          return;
        case "done":
        case "failed": {
          const task = slot.task;
          if (task?.id !== message.id) return;
          slot.task = undefined;
          if (message.kind === "done") task.resolve(message.result);
          else task.reject(rebuildError(message.error));
          release(slot);
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
      slot.task?.reject(new Error(why));
      slot.task = undefined;
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

  const idleSlot = (): Promise<Slot> => {
    const idle = slots.find((slot) => slot.loaded && !slot.task);
    if (idle) return Promise.resolve(idle);
    return new Promise((resolve) => waiting.push(resolve));
  };

  return {
    size: options.threads,
    ready,
    async run(request) {
      if (closing) throw new Error("the inference pool is closed");
      let slot = await idleSlot();
      // A slot handed over while busy (a race between release and a new run) waits again.
      while (slot.task) slot = await idleSlot();
      const id = nextId++;
      return new Promise<InferenceResult>((resolve, reject) => {
        slot.task = { id, resolve, reject };
        const task: WorkerTask = { id, request };
        slot.worker.postMessage(task, transferable(request.image));
      });
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
