// Runs CPU-bound work one task at a time, so concurrent requests wait instead of all decoding at once.
import { QueueFullError } from "./errors.ts";

export interface SerialQueue {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running or waiting. */
  readonly depth: number;
}

export function createSerialQueue(maxDepth: number): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve();
  let depth = 0;
  return {
    get depth() {
      return depth;
    },
    run<T>(task: () => Promise<T>): Promise<T> {
      if (depth >= maxDepth) {
        return Promise.reject(
          new QueueFullError(
            `${depth} requests are already waiting for the model; try again later`,
          ),
        );
      }
      depth++;
      const result = tail.then(task);
      // The next task waits for this one whether it succeeded or not.
      tail = result.then(
        () => undefined,
        () => undefined,
      );
      return result.finally(() => {
        depth--;
      });
    },
  };
}
