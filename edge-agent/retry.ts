// Bounded retries with exponential backoff and full jitter, for the flaky links a factory floor has.
import { setTimeout as sleep } from "node:timers/promises";
import { isTransientFailure } from "../lib/transient.ts";
import { ChecksumMismatchError } from "./errors.ts";

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 20_000,
};

/** Network failures, 5xx and throttling may pass on a later try (lib/transient.ts); so may a bad checksum. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ChecksumMismatchError || isTransientFailure(error);
}

/** Full jitter: a random delay up to the exponential cap, so many agents do not retry in step. */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Told about each failure that will be retried. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `task` until it succeeds, fails for good, runs out of attempts, or the signal aborts. */
export async function withRetry<T>(
  task: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy, signal } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await task(attempt);
    } catch (error) {
      // An abort we asked for is not a network failure, however the SDK words it.
      if (signal?.aborted) throw signal.reason;
      if (attempt >= policy.attempts || !isRetryable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, policy);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, { signal });
    }
  }
}
