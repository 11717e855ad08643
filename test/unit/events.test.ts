// events/ is what `npm run make:events` writes today from the fixture lot and template.yaml: a stale file fails here.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { loadTemplate, TEMPLATE_PATH } from "../../infra/template.ts";
import { buildLocalModel } from "../../local/resource-model.ts";
import { EVENTS_DIR, makeEvents } from "../../scripts/make-events.ts";

describe("events/ (npm run make:events)", () => {
  it("matches a fresh generation, file for file", async () => {
    const fresh = await makeEvents();
    const committed = readdirSync(EVENTS_DIR).filter((name) => name.endsWith(".json"));
    assert.deepEqual(committed.sort(), [...fresh.keys()].sort(), "the same files");
    for (const [name, text] of fresh) {
      assert.equal(
        readFileSync(join(EVENTS_DIR, name), "utf8"),
        text,
        `events/${name} is stale: run npm run make:events`,
      );
    }
  });

  it("names the local stack's lot bucket, so StartLot acts on the event instead of ignoring it", () => {
    const model = buildLocalModel(loadTemplate(TEMPLATE_PATH), TEMPLATE_PATH);
    const event = JSON.parse(readFileSync(join(EVENTS_DIR, "manifest-created.json"), "utf8")) as {
      detail: { bucket: { name: string } };
    };
    assert.equal(event.detail.bucket.name, model.buckets[0]?.name);
  });

  it("gives every function's template variables in env.json, resources as stack-output placeholders", () => {
    const env = JSON.parse(readFileSync(join(EVENTS_DIR, "env.json"), "utf8")) as Record<
      string,
      Record<string, string>
    >;
    const model = buildLocalModel(loadTemplate(TEMPLATE_PATH), TEMPLATE_PATH);
    for (const fn of model.functions) {
      const variables = { ...env.Parameters, ...env[fn.logicalId] };
      assert.deepEqual(
        Object.keys(variables).sort(),
        Object.keys(fn.environment).sort(),
        fn.logicalId,
      );
    }
    // sam does not expand these: the docs fill them from the stack's outputs.
    const placeholder = (output: string) => `\${${output}}`;
    assert.equal(env.Parameters?.BUCKET_NAME, placeholder("LotBucketName"));
    assert.equal(env.StartLotFunction?.STATE_MACHINE_ARN, placeholder("LotStateMachineArn"));
  });
});
