// The local stack's remembered ASL validation: a definition is validated until it has passed once, a failing one every time, and a mark is only ever trusted for its own definition.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { StateMachineDefinition } from "aws-local-stepfunctions";
import { afterAll, describe, it } from "vitest";
import { validatedStateMachine, validationKey } from "../../local/asl-validation-cache.ts";

const dir = mkdtempSync(join(tmpdir(), "waferflow-asl-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LOT_ASL = JSON.parse(
  readFileSync(resolve(import.meta.dirname, "../../statemachine/lot.asl.json"), "utf8"),
) as StateMachineDefinition;
const passing = (): StateMachineDefinition =>
  ({
    StartAt: "Done",
    States: { Done: { Type: "Pass", End: true } },
  }) as unknown as StateMachineDefinition;
/** A Pass state pointing at a state that does not exist: the schema accepts it, the library not. */
const failing = (): StateMachineDefinition =>
  ({
    StartAt: "First",
    States: { First: { Type: "Pass", Nex: "Nowhere" } },
  }) as unknown as StateMachineDefinition;

describe("validatedStateMachine", () => {
  it("validates a new definition, marks it when it passes, and runs it either way", async () => {
    const cache = join(dir, "pass");
    const first = validatedStateMachine(passing(), cache);
    assert.deepEqual(readdirSync(cache), [validationKey(passing())]);
    const second = validatedStateMachine(passing(), cache);
    for (const machine of [first, second]) {
      const { result } = machine.run({ a: 1 });
      assert.deepEqual(await result, { a: 1 });
    }
  });

  it("refuses a failing definition every time and never marks it", () => {
    const cache = join(dir, "pass");
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.throws(() => validatedStateMachine(failing(), cache));
    }
    assert.equal(existsSync(join(cache, validationKey(failing()))), false);
  });

  it("trusts a mark only for the definition it was made for", () => {
    // The folder of the first test holds the passing definition's mark; the failing definition
    // has another key, so the refusals above were made beside it and not skipped.
    const cache = join(dir, "pass");
    assert.notEqual(validationKey(failing()), validationKey(passing()));
    // A mark is what skips validation (proof that the cache is read, not a way in for bad ASL):
    // planted by hand under the failing definition's own key, the library is not asked.
    writeFileSync(join(cache, validationKey(failing())), "");
    assert.doesNotThrow(() => validatedStateMachine(failing(), cache));
  });

  it("keys the lot workflow by its content: a changed ASL is validated again", () => {
    const changed = structuredClone(LOT_ASL) as unknown as { Comment?: string };
    changed.Comment = `${changed.Comment ?? ""} (changed)`;
    assert.notEqual(
      validationKey(changed as unknown as StateMachineDefinition),
      validationKey(LOT_ASL),
    );
    assert.equal(validationKey(structuredClone(LOT_ASL)), validationKey(LOT_ASL));
  });

  it("still builds the machine when the cache folder cannot be written", async () => {
    const blocked = join(dir, "blocked");
    writeFileSync(blocked, "a file where the folder would be");
    const machine = validatedStateMachine(passing(), join(blocked, "cache"));
    assert.deepEqual(await machine.run({ b: 2 }).result, { b: 2 });
  });
});
