// The quality bench's miss listing names each missed defect, false alarm and wrong wafer verdict of in-spec wafers.
import { describe, expect, it } from "vitest";
import { missLines, waferVerdictWrong } from "../../bench/misses.ts";
import { scoreWafer, type WaferEvaluation } from "../../qa/evaluate.ts";
import type { BBox } from "../../schemas/common.ts";
import type { TruthDefect } from "../../schemas/truth.ts";

const bbox = (x: number, y: number, size = 10): BBox => ({ x, y, width: size, height: size });
const defect = (cls: TruthDefect["class"], x: number, y: number): TruthDefect => ({
  class: cls,
  bbox: bbox(x, y),
  centroidPx: { x: x + 5, y: y + 5 },
  waferMm: { x: 0, y: 0 },
  die: null,
  contrast: -0.05,
});

function wafer(
  fileName: string,
  truth: TruthDefect[],
  reports: Array<{ class: TruthDefect["class"]; bbox: BBox }>,
  extra: Partial<WaferEvaluation> = {},
) {
  const evaluation: WaferEvaluation = {
    lot: "/tmp/run/lots/SYN-1-0",
    fileName,
    width: 1024,
    height: 1024,
    bitDepth: 16,
    surface: "patterned",
    truthDefects: truth.length,
    truthClasses: truth.map((d) => d.class),
    reports: reports.length,
    score: scoreWafer(truth, reports),
    decodeMs: 1,
    detectMs: 1,
    expected: "inspected",
    answered: "inspected",
    artefacts: ["blur"],
    ...extra,
  };
  return {
    evaluation,
    truth: { defects: truth, diePitchPx: { x: 90, y: 80 }, noiseSigma: 2 },
    reports,
  };
}

describe("missLines", () => {
  it("names the missed defect and the false alarm with their boxes, and flags a clean wafer reported dirty", () => {
    const found = defect("scratch", 100, 100);
    const missed = defect("particle", 500, 600);
    const lines = missLines([
      wafer("wafer-001.png", [found, missed], [{ class: "scratch", bbox: bbox(102, 101) }]),
      wafer("wafer-002.png", [], [{ class: "void", bbox: bbox(300, 40) }]),
    ]);
    expect(lines).toEqual([
      "SYN-1-0/wafer-001.png: 1024 px, 16 bit, patterned (pitch 90x80), noise 2, blur; 2 true, 1 reported",
      "  missed particle at (500, 600) 10x10, contrast -5.0% of full scale",
      "SYN-1-0/wafer-002.png: 1024 px, 16 bit, patterned (pitch 90x80), noise 2, blur; 0 true, 1 reported; WAFER VERDICT WRONG",
      "  false alarm void at (300, 40) 10x10",
    ]);
  });

  it("flags a wafer whose only defect is missed, and leaves out right wafers and out-of-spec images", () => {
    const lines = missLines([
      wafer("wafer-003.png", [defect("scratch", 10, 10)], []),
      wafer("wafer-004.png", [defect("void", 10, 10)], [{ class: "stain", bbox: bbox(12, 12) }]),
      wafer("wafer-005.png", [], [], { expected: "unusable", answered: "inspected" }),
    ]);
    expect(lines).toEqual([
      "SYN-1-0/wafer-003.png: 1024 px, 16 bit, patterned (pitch 90x80), noise 2, blur; 1 true, 0 reported; WAFER VERDICT WRONG",
      "  missed scratch at (10, 10) 10x10, contrast -5.0% of full scale",
    ]);
  });

  it("counts an in-spec wafer the gate refused as a wrong verdict, with the gate's reasons", () => {
    const refused = wafer("wafer-006.png", [], [], {
      answered: "unusable",
      reasons: ["noise sigma 40 is above 20"],
    });
    expect(waferVerdictWrong(refused.evaluation)).toBe(true);
    expect(missLines([refused])).toEqual([
      "SYN-1-0/wafer-006.png: 1024 px, 16 bit, patterned (pitch 90x80), noise 2, blur; 0 true, 0 reported; WAFER VERDICT WRONG; refused: noise sigma 40 is above 20",
    ]);
  });
});
