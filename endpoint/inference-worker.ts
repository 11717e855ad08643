// An inference worker thread: builds and loads the model its spec names once, then runs one inference per message.
import { parentPort, workerData } from "node:worker_threads";
import {
  type InferenceRequest,
  type InferenceResult,
  runInference,
  type SerialisedError,
  serialiseError,
} from "./inference.ts";
import { createModel } from "./models/index.ts";

/** What the pool sends: one request, tagged so the answer finds its caller. */
export interface WorkerTask {
  id: number;
  request: InferenceRequest;
}

/** What a worker answers: first whether its model loaded, then one message per task. */
export type WorkerMessage =
  | { kind: "ready" }
  | { kind: "load-failed"; error: SerialisedError }
  | { kind: "done"; id: number; result: InferenceResult }
  | { kind: "failed"; id: number; error: SerialisedError };

const port = parentPort;
if (!port) throw new Error("endpoint/inference-worker.ts runs only as a worker thread");
const { modelSpec } = workerData as { modelSpec: string };
const post = (message: WorkerMessage) => port.postMessage(message);

try {
  const model = createModel(modelSpec);
  await model.load();
  port.on("message", (task: WorkerTask) => {
    runInference(model, task.request).then(
      (result) => post({ kind: "done", id: task.id, result }),
      (error: unknown) => post({ kind: "failed", id: task.id, error: serialiseError(error) }),
    );
  });
  post({ kind: "ready" });
} catch (error) {
  post({ kind: "load-failed", error: serialiseError(error) });
}
