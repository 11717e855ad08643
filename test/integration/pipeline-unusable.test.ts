// Through the embedded stack: an image the quality gate refuses is reported `unusable` with its reasons, and the lot is not clean.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { replayLots } from "../../cli/replay.ts";
import type { LocalStack } from "../../local/stack.ts";
import type { Report } from "../../schemas/report.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-quality");
/** A clean in-spec wafer (frame clip, out of round, vignetting), pure noise, a defocused wafer. */
const IMAGES = ["wafer-003.png", "wafer-005.png", "wafer-007.png"];

describe("pipeline: unusable images", () => {
  let stack: LocalStack;
  let report: Report;
  let lotDir: string;

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), "waferflow-unusable-"));
    lotDir = join(root, "QUALITY-UNUSABLE-1");
    mkdirSync(lotDir);
    for (const image of IMAGES) copyFileSync(join(FIXTURE, image), join(lotDir, image));
    writeFileSync(
      join(lotDir, "lot.json"),
      JSON.stringify({ lotId: "QUALITY-UNUSABLE-1", waferDiameterMm: 300 }),
    );
    stack = sharedStack();
    const [outcome] = await replayLots([lotDir], { stack, timeoutMs: 300_000, log: () => {} });
    assert.ok(
      outcome?.ending?.kind === "report",
      `lot reported: ${outcome?.problem ?? "no ending"}`,
    );
    report = outcome.ending.report;
  });
  afterAll(async () => {
    if (lotDir) rmSync(resolve(lotDir, ".."), { recursive: true, force: true });
  });

  it("reports the noise frame and the defocused wafer as unusable, with the measured reasons", () => {
    for (const fileName of ["wafer-005.png", "wafer-007.png"]) {
      const image = report.images.find((i) => i.fileName === fileName);
      assert.ok(image, `${fileName} in the report`);
      assert.equal(image.status, "unusable", fileName);
      assert.deepEqual(image.defects, []);
      assert.ok(image.quality && image.quality.reasons.length > 0, `${fileName} has reasons`);
    }
    const defocused = report.images.find((i) => i.fileName === "wafer-007.png");
    assert.ok(defocused?.quality?.reasons.some((r) => r.measure === "blurSigmaPx2048"));
  });

  it("inspects the in-spec wafer, and does not call the lot clean", () => {
    const inSpec = report.images.find((i) => i.fileName === "wafer-003.png");
    assert.equal(inSpec?.status, "clean");
    assert.ok(inSpec?.quality, "the inspected wafer carries its quality block");
    assert.equal(report.counts.unusable, 2);
    assert.equal(report.counts.clean, 1);
    assert.equal(report.status, "incomplete");
  });
});
