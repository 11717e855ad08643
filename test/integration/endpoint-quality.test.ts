// The endpoint's quality gate over HTTP: out-of-spec images answer 200 `unusable` with reasons, in-spec wafers are inspected.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createModel } from "../../endpoint/models/index.ts";
import { startEndpointServer } from "../../endpoint/server.ts";
import { EndpointAnswerSchema } from "../../schemas/detection.ts";
import { TruthSchema } from "../../schemas/truth.ts";

const LOT = resolve(import.meta.dirname, "../fixtures/lot-quality");

describe("endpoint quality gate on the lot-quality fixture", () => {
  let server: Awaited<ReturnType<typeof startEndpointServer>>;
  const logLines: string[] = [];

  beforeAll(async () => {
    // The classical model in this thread: the gate and the detector run in the same runInference
    // an inference thread runs (inference-pool and endpoint-server test the threads), without a
    // thread to start and a detector to compile in it.
    server = await startEndpointServer({
      port: 0,
      model: createModel("classical"),
      log: (line) => logLines.push(line),
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const post = async (fileName: string) => {
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: await readFile(join(LOT, fileName)),
      headers: { "content-type": "image/png" },
    });
    assert.equal(response.status, 200, fileName);
    return EndpointAnswerSchema.parse(await response.json());
  };

  it("answers every out-of-spec image (noise, checkerboard, defocus, exposure) `unusable` with reasons", async () => {
    const truth = TruthSchema.parse(JSON.parse(await readFile(join(LOT, "truth.json"), "utf8")));
    const outOfSpec = truth.wafers.filter((w) => w.expected === "unusable");
    assert.deepEqual(outOfSpec.map((w) => w.outOfSpec).sort(), [
      "checkerboard",
      "defocus",
      "noise",
      "noisy",
      "overexposed",
      "underexposed",
    ]);
    // Each image once: the reasons below are read from these answers.
    const answers = new Map<string | undefined, Awaited<ReturnType<typeof post>>>();
    for (const wafer of outOfSpec) {
      const answer = await post(wafer.fileName);
      assert.equal(answer.status, "unusable", `${wafer.fileName} (${wafer.outOfSpec})`);
      assert.deepEqual(answer.defects, []);
      assert.ok(answer.quality && answer.quality.reasons.length > 0);
      answers.set(wafer.outOfSpec, answer);
    }
    const expectedMeasure: Record<string, string> = {
      defocus: "blurSigmaPx2048",
      overexposed: "saturatedFraction",
      underexposed: "blackFraction",
      noisy: "noiseSigma",
    };
    for (const [kind, measure] of Object.entries(expectedMeasure)) {
      const answer = answers.get(kind);
      assert.ok(
        answer?.quality?.reasons.some((r) => r.measure === measure),
        `${kind} names ${measure}`,
      );
    }
    assert.ok(logLines.some((line) => JSON.parse(line).unusable === true));
  });

  it("inspects the in-spec wafers with their camera artefacts and reports the quality block", async () => {
    const truth = TruthSchema.parse(JSON.parse(await readFile(join(LOT, "truth.json"), "utf8")));
    for (const wafer of truth.wafers.filter((w) => w.expected === undefined)) {
      const answer = await post(wafer.fileName);
      assert.notEqual(answer.status, "unusable", wafer.fileName);
      assert.ok(answer.quality, "quality block");
      assert.deepEqual(answer.quality.reasons, []);
      if (wafer.artefacts?.includes("hot_pixels")) assert.ok(answer.quality.hotPixelsRemoved > 0);
    }
  });
});
