// readConfig with wholeNumberVariable: unset or blank is the caller's default, digits in range pass, anything else fails naming the variable.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { z } from "zod";
import { ConfigError, readConfig, wholeNumberVariable } from "../../lib/config.ts";

const Schema = z.object({
  SOME_COUNT: wholeNumberVariable(1, 8),
  OPEN_COUNT: wholeNumberVariable(0),
});

describe("wholeNumberVariable", () => {
  it("reads unset and blank as undefined, digits in range as their number", () => {
    const unset = readConfig(Schema, {});
    assert.equal(unset.SOME_COUNT, undefined);
    assert.equal(unset.OPEN_COUNT, undefined);
    assert.equal(readConfig(Schema, { SOME_COUNT: " " }).SOME_COUNT, undefined);
    assert.equal(readConfig(Schema, { SOME_COUNT: "1" }).SOME_COUNT, 1);
    assert.equal(readConfig(Schema, { SOME_COUNT: "8" }).SOME_COUNT, 8);
    assert.equal(readConfig(Schema, { OPEN_COUNT: "123456" }).OPEN_COUNT, 123456);
  });

  for (const bad of ["0", "9", "-1", "2.5", "three", "1e3"]) {
    it(`refuses SOME_COUNT=${bad}, naming the variable`, () => {
      assert.throws(
        () => readConfig(Schema, { SOME_COUNT: bad }),
        (error: unknown) => error instanceof ConfigError && /SOME_COUNT/.test(error.message),
      );
    });
  }
});
