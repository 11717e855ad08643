// An inference worker thread: builds and loads the model its spec names once, warms it up, then runs one inference per message.
import { parentPort, workerData } from "node:worker_threads";
import {
  type InferenceRequest,
  type InferenceResult,
  runInference,
  type SerialisedError,
  serialiseError,
} from "./inference.ts";
import { createModel } from "./models/index.ts";
import { type WarmupReport, warmUp } from "./warmup.ts";

/** What the pool sends: one request, tagged so the answer finds its caller. */
export interface WorkerTask {
  id: number;
  request: InferenceRequest;
}

/** What the pool tells a worker at its start. */
export interface WorkerData {
  modelSpec: string;
  /** Inferences on seeded wafers to run before answering ready (endpoint/warmup.ts). */
  warmupWafers: number;
}

/** What a worker answers: first whether its model loaded and warmed up, then one message per task. */
export type WorkerMessage =
  | { kind: "ready"; warmup: WarmupReport }
  | { kind: "load-failed"; error: SerialisedError }
  | { kind: "done"; id: number; result: InferenceResult }
  | { kind: "failed"; id: number; error: SerialisedError };

const port = parentPort;
if (!port) throw new Error("endpoint/inference-worker.ts runs only as a worker thread");
const { modelSpec, warmupWafers } = workerData as WorkerData;
const post = (message: WorkerMessage) => port.postMessage(message);

try {
  const model = createModel(modelSpec);
  await model.load();
  // Before the first request: V8 compiles the detector while this thread runs it (docs/container.md).
  const warmup = await warmUp(model, warmupWafers);
  port.on("message", (task: WorkerTask) => {
    runInference(model, task.request).then(
      (result) => post({ kind: "done", id: task.id, result }),
      (error: unknown) => post({ kind: "failed", id: task.id, error: serialiseError(error) }),
    );
  });
  post({ kind: "ready", warmup });
} catch (error) {
  post({ kind: "load-failed", error: serialiseError(error) });
}
