// WAFERFLOW_INFERENCE_THREADS: one inference thread per core unless set, a whole number from 1 to 64, a clear error naming the variable.
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, it } from "vitest";
import { defaultInferenceThreads, MAX_INFERENCE_THREADS } from "../../endpoint/inference-pool.ts";
import { ConfigError } from "../../lib/config.ts";

describe("inference threads setting", () => {
  it("is one per core when unset or blank", () => {
    assert.equal(defaultInferenceThreads({}), availableParallelism());
    assert.equal(
      defaultInferenceThreads({ WAFERFLOW_INFERENCE_THREADS: " " }),
      availableParallelism(),
    );
  });

  it("takes a whole number from 1 to the maximum", () => {
    assert.equal(defaultInferenceThreads({ WAFERFLOW_INFERENCE_THREADS: "1" }), 1);
    assert.equal(defaultInferenceThreads({ WAFERFLOW_INFERENCE_THREADS: "3" }), 3);
    assert.equal(
      defaultInferenceThreads({ WAFERFLOW_INFERENCE_THREADS: String(MAX_INFERENCE_THREADS) }),
      MAX_INFERENCE_THREADS,
    );
  });

  for (const bad of ["0", "-1", "2.5", "two", String(MAX_INFERENCE_THREADS + 1)]) {
    it(`refuses '${bad}', naming the variable`, () => {
      assert.throws(
        () => defaultInferenceThreads({ WAFERFLOW_INFERENCE_THREADS: bad }),
        (error: unknown) =>
          error instanceof ConfigError && /WAFERFLOW_INFERENCE_THREADS/.test(error.message),
      );
    });
  }
});
