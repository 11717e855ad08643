// Scoring `unusable` expectations: out-of-spec images are judged on being refused, in-spec refusals miss their defects.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { scoreWafer, summarise, type WaferEvaluation } from "../../qa/evaluate.ts";
import type { BBox, DefectClass } from "../../schemas/common.ts";

const box: BBox = { x: 10, y: 10, width: 8, height: 8 };

function wafer(
  options: Partial<WaferEvaluation> & { truth: DefectClass[]; found: boolean },
): WaferEvaluation {
  const truth = options.truth.map((c) => ({ class: c, bbox: box }));
  const reports = options.found ? truth : [];
  return {
    lot: "L",
    fileName: "f.png",
    width: 1024,
    height: 1024,
    bitDepth: 8,
    surface: "bare",
    truthDefects: truth.length,
    truthClasses: options.truth,
    reports: reports.length,
    score: scoreWafer(truth, reports),
    decodeMs: 1,
    detectMs: 1,
    expected: options.expected ?? "inspected",
    answered: options.answered ?? "inspected",
    artefacts: options.artefacts ?? [],
    ...(options.outOfSpec ? { outOfSpec: options.outOfSpec } : {}),
  };
}

describe("summarise with the quality gate", () => {
  it("keeps out-of-spec images out of the defect metrics and counts how many were refused", () => {
    const m = summarise([
      wafer({ truth: ["particle"], found: true, artefacts: ["jpeg"] }),
      wafer({
        truth: [],
        found: false,
        expected: "unusable",
        answered: "unusable",
        outOfSpec: "noise",
      }),
      wafer({
        truth: [],
        found: false,
        expected: "unusable",
        answered: "inspected",
        outOfSpec: "defocus",
      }),
    ]);
    assert.equal(m.wafers, 3);
    assert.equal(m.inSpecWafers, 1);
    assert.equal(m.recall, 1);
    assert.equal(m.outOfSpecWafers, 2);
    assert.equal(m.outOfSpecUnusable, 1);
    assert.deepEqual(m.perOutOfSpec.defocus, { wafers: 1, unusable: 0 });
  });

  it("an in-spec image reported unusable misses its defects and is a wrong wafer-level call", () => {
    const m = summarise([
      wafer({ truth: ["void", "stain"], found: false, answered: "unusable", artefacts: ["blur"] }),
      wafer({ truth: ["void"], found: true }),
    ]);
    assert.equal(m.inSpecUnusable, 1);
    assert.equal(m.recall, 1 / 3);
    assert.equal(m.waferAccuracy, 0.5);
    assert.equal(m.perArtefact.blur?.unusable, 1);
    assert.equal(m.perArtefact.blur?.recall, 0);
    assert.equal(m.perArtefact.none?.recall, 1);
  });
});
