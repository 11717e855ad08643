// The lot ASL is valid, JSONPath-only, fully substituted by the template, and never leaves a lot hanging.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "vitest";
import { loadTemplate } from "../../infra/template.ts";
import {
  LOT_ASL_PATH,
  loadDefinition,
  SubstitutionError,
  substitute,
  substitutionNames,
} from "../../statemachine/definition.ts";

const validate = createRequire(import.meta.url)("asl-validator") as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

const aslText = readFileSync(LOT_ASL_PATH, "utf8");
const fakeArns = Object.fromEntries(
  substitutionNames(aslText).map((name) => [
    name,
    `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  ]),
);

type State = { Type: string; Catch?: unknown[]; ItemProcessor?: { States: Record<string, State> } };

function allStates(states: Record<string, State>): Array<[string, State]> {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
  ]);
}

describe("lot state machine", () => {
  it("passes asl-validator once substituted", () => {
    const result = validate(loadDefinition(fakeArns));
    assert.equal(result.isValid, true, result.errorsText());
  });

  it("uses exactly the substitutions template.yaml defines", () => {
    const template = loadTemplate();
    const machine = template.Resources.LotStateMachine;
    assert.ok(machine, "template.yaml declares LotStateMachine");
    assert.equal(machine.Properties?.DefinitionUri, "statemachine/lot.asl.json");
    const defined = Object.keys(machine.Properties?.DefinitionSubstitutions as object).sort();
    assert.deepEqual(substitutionNames(aslText).sort(), defined);
  });

  it("is JSONPath, which the local runner supports", () => {
    assert.doesNotMatch(aslText, /JSONata/i);
  });

  it("catches failures of every task so a lot always ends with a report", () => {
    const definition = loadDefinition(fakeArns) as { States: Record<string, State> };
    for (const [name, state] of allStates(definition.States)) {
      if (state.Type !== "Task" && state.Type !== "Map") continue;
      if (name === "MarkLotFailed") continue;
      assert.ok(state.Catch && state.Catch.length > 0, `${name} has a Catch`);
    }
  });

  it("refuses to leave a substitution unfilled", () => {
    assert.throws(
      () => substitute({ Resource: ["$", "{Missing}"].join("") }, {}),
      SubstitutionError,
    );
  });
});
