// The shipped lot limit is what Step Functions' payload limit allows: the lot's ASL run at 1000 worst-case images stays under half of 256 KiB; a lower limit may be configured, never a higher one.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { describe, it } from "vitest";
import { ConfigError } from "../../lib/config.ts";
import { lotKeys } from "../../lib/keys.ts";
import {
  lotImageLimit,
  MAX_LOT_IMAGES,
  ManifestSchema,
  SHIPPED_MAX_LOT_IMAGES,
} from "../../schemas/lot.ts";
import {
  ImageOutcomeSchema,
  MAX_TRAVELLING_ERROR_NAME,
  PublishReportInputSchema,
  RecordLotOutputSchema,
} from "../../schemas/workflow.ts";
import { LOT_ASL_PATH, loadDefinition, substitutionNames } from "../../statemachine/definition.ts";

const STATE_DATA_LIMIT = 256 * 1024;

describe("the lot limit", () => {
  it("is the shipped 1000 unless WAFERFLOW_MAX_LOT_IMAGES lowers it, and never rises above it", () => {
    assert.equal(SHIPPED_MAX_LOT_IMAGES, 1000);
    assert.equal(lotImageLimit({}), SHIPPED_MAX_LOT_IMAGES);
    assert.equal(lotImageLimit({ WAFERFLOW_MAX_LOT_IMAGES: " " }), SHIPPED_MAX_LOT_IMAGES);
    assert.equal(lotImageLimit({ WAFERFLOW_MAX_LOT_IMAGES: "100" }), 100);
    assert.equal(lotImageLimit({ WAFERFLOW_MAX_LOT_IMAGES: "1000" }), 1000);
    for (const bad of ["1001", "0", "-5", "12.5", "many"]) {
      assert.throws(
        () => lotImageLimit({ WAFERFLOW_MAX_LOT_IMAGES: bad }),
        (error: Error) =>
          error instanceof ConfigError &&
          /WAFERFLOW_MAX_LOT_IMAGES: (Too big|Too small|a whole number from 1 to 1000)/.test(
            error.message,
          ),
        `WAFERFLOW_MAX_LOT_IMAGES=${bad} is refused by name`,
      );
    }
    // The unit tests run with the variable unset: the schemas below carry the shipped limit.
    assert.equal(MAX_LOT_IMAGES, SHIPPED_MAX_LOT_IMAGES);
  });

  it("lets a manifest list the shipped limit's images and refuses one more, naming the list", () => {
    const image = (i: number) => ({
      fileName: `wafer-${i}.png`,
      key: `lots/L1/images/wafer-${i}.png`,
      sha256: "a".repeat(64),
      bytes: 1000,
      contentType: "image/png" as const,
    });
    const manifest = (count: number) => ({
      schemaVersion: 1,
      lotId: "L1",
      createdAt: "2026-11-30T00:00:00.000Z",
      source: { agent: "waferflow-agent" },
      metadata: {},
      images: Array.from({ length: count }, (_, i) => image(i)),
    });
    const atLimit = ManifestSchema.safeParse(manifest(SHIPPED_MAX_LOT_IMAGES));
    assert.equal(atLimit.success, true, atLimit.error?.message);
    const over = ManifestSchema.safeParse(manifest(SHIPPED_MAX_LOT_IMAGES + 1));
    assert.equal(over.success, false);
    assert.deepEqual(
      over.error?.issues.map((issue) => issue.path.join(".")),
      ["images"],
    );
  });

  it("keeps every state's payload under half of Step Functions' 256 KiB on the lot's ASL at the shipped limit, every image failing with the longest error name that travels", async () => {
    const aslText = readFileSync(LOT_ASL_PATH, "utf8");
    const arns = Object.fromEntries(
      substitutionNames(aslText).map((name) => [
        name,
        `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      ]),
    );
    const definition = loadDefinition(arns) as StateMachineDefinition;
    // The largest of each piece that travels: an 80-character lot id, the longest error name
    // lambda-handler.ts lets out (it truncates to MAX_TRAVELLING_ERROR_NAME), 4-digit indexes.
    const lotId = `L${"9".repeat(79)}`;
    const longestErrorName = "E".repeat(MAX_TRAVELLING_ERROR_NAME);
    let published: unknown;
    const machine = new StateMachine(definition);
    const stateMachineArn = "arn:aws:states:us-east-1:000000000000:stateMachine:waferflow-lot";
    const executionArn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${lotId}`;
    const execution = machine.run(
      { lotId, manifestKey: lotKeys.acceptedManifest(lotId) },
      {
        context: {
          Execution: { Id: executionArn, Name: lotId, StartTime: new Date().toISOString() },
          StateMachine: { Id: stateMachineArn, Name: "waferflow-lot" },
        } as never,
        overrides: {
          taskResourceLocalHandlers: {
            RecordLot: async () =>
              RecordLotOutputSchema.parse({
                manifestSha256: "f".repeat(64),
                imageCount: SHIPPED_MAX_LOT_IMAGES,
                rejectedCount: SHIPPED_MAX_LOT_IMAGES,
                indexes: Array.from({ length: SHIPPED_MAX_LOT_IMAGES }, (_, i) => i),
              }),
            PreprocessImage: async () => {
              const error = new Error("refused");
              error.name = longestErrorName;
              throw error;
            },
            PublishReport: async (input: unknown) => {
              published = PublishReportInputSchema.parse(input);
              return { lotId, status: "incomplete", imageCount: SHIPPED_MAX_LOT_IMAGES };
            },
          },
        },
      },
    );
    let largest = 0;
    let largestWhere = "";
    for await (const event of execution.eventLogs) {
      const state = (event as { state?: { name: string; input?: unknown; output?: unknown } })
        .state;
      const payloads =
        event.type === "StateEntered"
          ? [state?.input]
          : event.type === "StateExited"
            ? [state?.output]
            : event.type === "ExecutionStarted"
              ? [(event as { input?: unknown }).input]
              : [];
      for (const payload of payloads) {
        const bytes = Buffer.byteLength(JSON.stringify(payload ?? null));
        if (bytes > largest) {
          largest = bytes;
          largestWhere = `${event.type} ${state?.name ?? ""}`;
        }
      }
    }
    await execution.result;
    // The run went the way the limit is about: every image through the Map to the report.
    const results = (published as { results: unknown[] } | undefined)?.results ?? [];
    assert.equal(results.length, SHIPPED_MAX_LOT_IMAGES);
    for (const outcome of results) {
      const parsed = ImageOutcomeSchema.parse(outcome);
      assert.equal(parsed.status === "failed" && parsed.error.name, longestErrorName);
    }
    assert.ok(
      largest < STATE_DATA_LIMIT / 2,
      `largest payload ${largest} B (${largestWhere}) under ${STATE_DATA_LIMIT / 2} B`,
    );
    // Not vacuous: the results of 1000 images are most of it.
    assert.ok(largest > 50_000, `largest payload ${largest} B (${largestWhere})`);
  });
});
