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

  it("lets only indexes and error names travel through the Map, never causes or image lists", () => {
    const definition = loadDefinition(fakeArns) as {
      States: Record<string, State & Record<string, unknown>>;
    };
    const map = definition.States.InspectImages as unknown as {
      ItemsPath: string;
      ItemSelector: Record<string, string>;
      ItemProcessor: { States: Record<string, { Parameters?: unknown }> };
    };
    assert.equal(map.ItemsPath, "$.lot.indexes");
    assert.deepEqual(Object.keys(map.ItemSelector).sort(), [
      "index.$",
      "lotId.$",
      "manifestKey.$",
      "manifestSha256.$",
    ]);
    const failed = JSON.stringify(map.ItemProcessor.States.ImageFailed?.Parameters);
    assert.doesNotMatch(
      failed,
      /Cause/,
      "a Lambda's Cause (with its stack) never enters the results",
    );
    assert.doesNotMatch(
      JSON.stringify(definition.States.RecordLot),
      /\$\.images/,
      "the execution input carries no image list",
    );
  });

  it("refuses to leave a substitution unfilled", () => {
    assert.throws(
      () => substitute({ Resource: ["$", "{Missing}"].join("") }, {}),
      SubstitutionError,
    );
  });
});
