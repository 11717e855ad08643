// Runs CPU-bound work at most `concurrency` tasks at a time, so concurrent requests wait (bounded) instead of all decoding at once.
import { QueueFullError } from "./errors.ts";

export interface WorkQueue {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running or waiting. */
  readonly depth: number;
}

/**
 * At most `concurrency` tasks run at once, in arrival order; at most `maxDepth` run or wait, and
 * one more is refused with QueueFullError (the server's 503) rather than queued without bound.
 */
export function createWorkQueue(maxDepth: number, concurrency = 1): WorkQueue {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`queue concurrency must be a positive integer, got ${concurrency}`);
  }
  const waiting: Array<() => void> = [];
  let running = 0;
  let depth = 0;
  const startNext = () => {
    while (running < concurrency && waiting.length > 0) {
      running++;
      waiting.shift()?.();
    }
  };
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
      const turn = new Promise<void>((resolve) => waiting.push(resolve));
      startNext();
      // The next task starts when this one ends, whether it succeeded or not.
      return turn.then(task).finally(() => {
        running--;
        depth--;
        startNext();
      });
    },
  };
}

/** One task at a time: the in-process model, which shares the server's thread. */
export function createSerialQueue(maxDepth: number): WorkQueue {
  return createWorkQueue(maxDepth, 1);
}
