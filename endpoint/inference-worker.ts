// An inference worker thread: builds and loads the model its spec names once, warms it up, then runs one inference per message.
import { constants, PerformanceObserver } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { type InferenceRequest, type InferenceResult, runInference } from "./inference.ts";
import { type SerialisedError, serialiseError } from "./inference-errors.ts";
import { createModel } from "./models/index.ts";
import { type WarmupReport, warmUp } from "./warmup.ts";

/**
 * What the pool sends: one request, tagged so the answer finds its caller. The pool sends each
 * task to every thread; `claim` (shared memory) says which thread took it: 0 while nobody has,
 * else the taker's tag. A thread takes the next task itself as it finishes one, without waiting
 * for the server's thread to hand it over.
 */
export interface WorkerTask {
  id: number;
  request: InferenceRequest;
  claim: Int32Array;
}

/** What the pool tells a worker at its start. */
export interface WorkerData {
  /** This thread's mark in a task's claim (a positive whole number, unique in the pool). */
  tag: number;
  modelSpec: string;
  /** Inferences on seeded wafers to run before answering ready (endpoint/warmup.ts). */
  warmupWafers: number;
}

/** What a worker answers: first whether its model loaded and warmed up, then one message per task. */
export type WorkerMessage =
  | { kind: "ready"; warmup: WarmupReport }
  | { kind: "load-failed"; error: SerialisedError }
  /** The thread took the task (the server's read-ahead may read the next image). */
  | { kind: "started"; id: number }
  | { kind: "done"; id: number; result: InferenceResult; majorGcs: number; thread: ThreadTiming }
  | { kind: "failed"; id: number; error: SerialisedError };

/**
 * The task as this thread saw it: from taking the message to posting the answer, and how long the
 * thread had waited for the message since its previous answer (or since it said ready). The pool's
 * own view adds the hand-over both ways, which waits on the server's thread.
 */
export interface ThreadTiming {
  /** Taking the task to posting its answer, ms. */
  busyMs: number;
  /** The previous answer (or ready) posted to this task taken, ms. */
  idleMs: number;
  /** When it took the task, epoch ms (`performance.timeOrigin` based, as the pool's clock). */
  startedAt: number;
}

const port = parentPort;
if (!port) throw new Error("endpoint/inference-worker.ts runs only as a worker thread");
const { tag, modelSpec, warmupWafers } = workerData as WorkerData;
const post = (message: WorkerMessage) => port.postMessage(message);

/**
 * Mark-compacts of this thread's heap so far: each costs V8's helper threads tens of ms at 2048
 * px, so the endpoint's request log carries the count per inference (the pool's heap setting).
 * V8 reports them to the observer a moment later: a task's count may land on the next one.
 */
let majorGcs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { detail } = entry as { detail?: { kind?: number } };
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
  }
}).observe({ entryTypes: ["gc"] });

try {
  const model = createModel(modelSpec);
  await model.load();
  // Before the first request: V8 compiles the detector while this thread runs it (docs/container.md).
  const warmup = await warmUp(model, warmupWafers);
  // Tasks sent to this thread and not yet looked at, oldest first; some may be taken by another.
  const offered: WorkerTask[] = [];
  let busy = false;
  let answeredAt = 0;
  /** Takes the oldest task nobody has taken yet, if this thread is free; skips the others' ones. */
  const takeNext = () => {
    while (!busy) {
      const task = offered.shift();
      if (!task) return;
      if (Atomics.compareExchange(task.claim, 0, 0, tag) !== 0) continue;
      busy = true;
      const takenAt = performance.now();
      const idleMs = takenAt - answeredAt;
      post({ kind: "started", id: task.id });
      const gcsBefore = majorGcs;
      const answered = (message: WorkerMessage) => {
        post(message);
        answeredAt = performance.now();
        busy = false;
        takeNext();
      };
      runInference(model, task.request).then(
        (result) => {
          const startedAt = performance.timeOrigin + takenAt;
          const thread = { busyMs: performance.now() - takenAt, idleMs, startedAt };
          answered({ kind: "done", id: task.id, result, majorGcs: majorGcs - gcsBefore, thread });
        },
        (error: unknown) => answered({ kind: "failed", id: task.id, error: serialiseError(error) }),
      );
    }
  };
  // A task arriving while this thread infers waits here (the inference yields to the event loop
  // while libvips decodes): one inference at a time per thread.
  port.on("message", (task: WorkerTask) => {
    offered.push(task);
    takeNext();
  });
  post({ kind: "ready", warmup });
  answeredAt = performance.now();
} catch (error) {
  post({ kind: "load-failed", error: serialiseError(error) });
}
