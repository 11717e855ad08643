// Unit tests of the agent's retry policy: what is retried, how long it waits, when it gives up.
import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { ChecksumMismatchError, UploadError } from "../../edge-agent/errors.ts";
import { backoffDelayMs, isRetryable, withRetry } from "../../edge-agent/retry.ts";

const FAST = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

function sdkError(name: string, status?: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
}

describe("isRetryable", () => {
  test("retries network failures, 5xx, throttling and checksum mismatches", () => {
    assert.ok(isRetryable(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })));
    assert.ok(isRetryable(new Error("socket hang up")));
    assert.ok(isRetryable(sdkError("InternalError", 500)));
    assert.ok(isRetryable(sdkError("Whatever", 503)));
    assert.ok(isRetryable(sdkError("SlowDown", 503)));
    assert.ok(isRetryable(sdkError("TooManyRequestsException", 429)));
    assert.ok(isRetryable(sdkError("ThrottlingException", 400)));
    assert.ok(isRetryable(new ChecksumMismatchError("etag")));
    assert.ok(
      isRetryable(
        new UploadError("wrapped", { cause: Object.assign(new Error("x"), { code: "EPIPE" }) }),
      ),
    );
  });
  test("does not retry refusals", () => {
    assert.equal(isRetryable(sdkError("AccessDenied", 403)), false);
    assert.equal(isRetryable(sdkError("NoSuchBucket", 404)), false);
    assert.equal(isRetryable(sdkError("InvalidPart", 400)), false);
    assert.equal(isRetryable(new TypeError("bad argument")), false);
    assert.equal(isRetryable(undefined), false);
  });
});

describe("backoffDelayMs", () => {
  const policy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  test("grows exponentially up to the cap, with full jitter below it", () => {
    assert.equal(
      backoffDelayMs(1, policy, () => 0.999999),
      99,
    );
    assert.equal(
      backoffDelayMs(3, policy, () => 0.999999),
      399,
    );
    assert.equal(
      backoffDelayMs(8, policy, () => 0.999999),
      999,
    );
    assert.equal(
      backoffDelayMs(8, policy, () => 0),
      0,
    );
    assert.equal(
      backoffDelayMs(5, policy, () => 0.5),
      500,
    );
  });
});

describe("withRetry", () => {
  test("retries a transient failure until it succeeds, reporting each retry", async () => {
    const retries: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        if (++calls < 3) throw sdkError("ServiceUnavailable", 503);
        return "ok";
      },
      { policy: FAST, onRetry: (_e, attempt) => retries.push(attempt) },
    );
    assert.equal(value, "ok");
    assert.deepEqual(retries, [1, 2]);
  });
  test("gives up after the last attempt with the last error", async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw sdkError("InternalError", 500);
        },
        { policy: FAST },
      ),
      { name: "InternalError" },
    );
    assert.equal(calls, 4);
  });
  test("does not retry a refusal", async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw sdkError("AccessDenied", 403);
        },
        { policy: FAST },
      ),
      { name: "AccessDenied" },
    );
    assert.equal(calls, 1);
  });
  test("stops at once when the signal aborts, with the abort reason", async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          controller.abort(new Error("shutting down"));
          throw new Error("socket hang up");
        },
        { policy: FAST, signal: controller.signal },
      ),
      /shutting down/,
    );
    assert.equal(calls, 1);
  });
});
