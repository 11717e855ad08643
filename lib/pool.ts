// Bounded concurrency: run a task over many items a few at a time, and share one limit among nested tasks.

export interface PoolFailure<T> {
  item: T;
  index: number;
  error: unknown;
}

/**
 * Runs `task` over `items`, at most `limit` at a time, and returns what failed. After a failure
 * (or once `signal` aborts) nothing new starts, but the tasks in flight finish: half-done work
 * gets to record its progress, and no task is left running behind the caller's back.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<Array<PoolFailure<T>>> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`concurrency limit must be a whole number >= 1, got ${limit}`);
  }
  const failures: Array<PoolFailure<T>> = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && failures.length === 0 && !signal?.aborted) {
      const index = next++;
      const item = items[index] as T;
      try {
        await task(item, index);
      } catch (error) {
        failures.push({ item, index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  signal?.throwIfAborted();
  return failures;
}

/** `task` over `items`, `limit` at a time, results in the items' order; the first failure is thrown once the rest have settled. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const failures = await forEachLimited(items, limit, async (item, index) => {
    results[index] = await task(item, index);
  });
  if (failures[0]) throw failures[0].error;
  return results;
}

/** A limit several pools share, so nested work (parts of many files) stays under one bound. */
export class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.free = limit;
  }

  async use<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  /** Waits for a slot (in arrival order); the returned function gives it back, once however often called. */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake it.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
