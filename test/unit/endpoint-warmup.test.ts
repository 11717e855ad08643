// WAFERFLOW_WARMUP_WAFERS: the default, the accepted range, a clear error naming the variable; a warm-up of 0 wafers does nothing.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  DEFAULT_WARMUP_WAFERS,
  MAX_WARMUP_WAFERS,
  warmUp,
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

describe("warm-up", () => {
  it("with 0 wafers runs no inference and reports none", async () => {
    const report = await warmUp(
      {
        info: { name: "untouched", version: "0" },
        load: async () => {},
        detect: async () => {
          throw new Error("a warm-up of 0 wafers ran an inference");
        },
      },
      0,
    );
    assert.deepEqual(report, { wafers: 0, sidePx: 768, ms: 0, cpuMs: 0 });
  });
});
