// WAFERFLOW_WARMUP_WAFERS: the default, the accepted range, and a clear error naming the variable.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  DEFAULT_WARMUP_WAFERS,
  MAX_WARMUP_WAFERS,
  warmupWafersFromEnv,
} from "../../endpoint/warmup.ts";
import { ConfigError } from "../../lib/config.ts";

describe("warm-up wafers setting", () => {
  it("defaults to the measured dozen when unset or blank", () => {
    assert.equal(DEFAULT_WARMUP_WAFERS, 12);
    assert.equal(warmupWafersFromEnv({}), 12);
    assert.equal(warmupWafersFromEnv({ WAFERFLOW_WARMUP_WAFERS: " " }), 12);
  });

  it("takes a whole number from 0 to the maximum", () => {
    assert.equal(warmupWafersFromEnv({ WAFERFLOW_WARMUP_WAFERS: "0" }), 0);
    assert.equal(warmupWafersFromEnv({ WAFERFLOW_WARMUP_WAFERS: "3" }), 3);
    assert.equal(
      warmupWafersFromEnv({ WAFERFLOW_WARMUP_WAFERS: String(MAX_WARMUP_WAFERS) }),
      MAX_WARMUP_WAFERS,
    );
  });

  for (const bad of ["-1", "2.5", "twelve", "1e2", String(MAX_WARMUP_WAFERS + 1)]) {
    it(`refuses '${bad}', naming the variable`, () => {
      assert.throws(
        () => warmupWafersFromEnv({ WAFERFLOW_WARMUP_WAFERS: bad }),
        (error: unknown) =>
          error instanceof ConfigError && /WAFERFLOW_WARMUP_WAFERS/.test(error.message),
      );
    });
  }
});
