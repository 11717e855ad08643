// Unit tests of the evaluation rules: box matching, fragments, false alarms, metrics and CLI flags.
import assert from "node:assert/strict";
import { test } from "vitest";
import {
  boxesMatch,
  iou,
  parseEvaluateArgs,
  scoreWafer,
  summarise,
  type WaferEvaluation,
} from "../../qa/evaluate.ts";
import type { BBox, DefectClass } from "../../schemas/common.ts";

const box = (x: number, y: number, width: number, height: number): BBox => ({
  x,
  y,
  width,
  height,
});
const d = (cls: DefectClass, b: BBox) => ({ class: cls, bbox: b });

test("iou of identical, disjoint and half-overlapping boxes", () => {
  assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
  assert.equal(iou(box(0, 0, 10, 10), box(20, 20, 5, 5)), 0);
  assert.ok(Math.abs(iou(box(0, 0, 10, 10), box(5, 0, 10, 10)) - 50 / 150) < 1e-12);
});

test("a box matches at IoU >= 0.1 or when one holds the other's centre", () => {
  // IoU 0.1 exactly: 10x10 boxes overlapping on 100*2/11 px would be fiddly; use a containment-free case.
  assert.equal(boxesMatch(box(0, 0, 100, 10), box(85, 0, 100, 10)), false); // IoU 15/185
  assert.equal(boxesMatch(box(0, 0, 100, 10), box(80, 0, 100, 10)), true); // IoU 20/180
  // A small report inside a large true stain: IoU tiny, centre contained.
  assert.equal(boxesMatch(box(0, 0, 300, 300), box(140, 140, 6, 6)), true);
  // A huge report around a small particle: the report holds the truth's centre.
  assert.equal(boxesMatch(box(140, 140, 6, 6), box(0, 0, 300, 300)), true);
  assert.equal(boxesMatch(box(0, 0, 10, 10), box(30, 30, 10, 10)), false);
});

test("fragments of one true defect count once and are not false alarms", () => {
  const truth = [d("scratch", box(100, 100, 200, 20))];
  const reports = [d("scratch", box(100, 100, 90, 20)), d("scratch", box(210, 100, 90, 20))];
  const s = scoreWafer(truth, reports);
  assert.equal(s.found, 1);
  assert.equal(s.missed, 0);
  assert.equal(s.falseAlarms, 0);
  assert.equal(s.classCorrect, 1);
});

test("unmatched reports are false alarms; class is judged on the best-overlapping report", () => {
  const truth = [d("void", box(10, 10, 40, 40)), d("particle", box(500, 500, 8, 8))];
  const reports = [
    d("stain", box(0, 0, 100, 100)),
    d("void", box(12, 12, 38, 38)),
    d("particle", box(900, 900, 8, 8)),
  ];
  const s = scoreWafer(truth, reports);
  assert.equal(s.found, 1);
  assert.equal(s.missed, 1);
  assert.equal(s.falseAlarms, 1);
  assert.equal(s.classCorrect, 1);
  assert.deepEqual(s.confusion, [["void", "void"]]);
});

function evaluation(
  truthClasses: DefectClass[],
  reports: Array<{ class: DefectClass; bbox: BBox }>,
  truthBoxes: BBox[],
): WaferEvaluation {
  const truth = truthClasses.map((c, i) => d(c, truthBoxes[i] as BBox));
  return {
    lot: "L",
    fileName: "f.png",
    width: 1024,
    height: 1024,
    bitDepth: 8,
    surface: "bare",
    truthDefects: truth.length,
    truthClasses,
    reports: reports.length,
    score: scoreWafer(truth, reports),
    decodeMs: 1,
    detectMs: 2,
  };
}

test("summarise computes recall, precision, wafer accuracy and clean-wafer false alarms", () => {
  const wafers = [
    evaluation(["particle"], [d("particle", box(0, 0, 5, 5))], [box(0, 0, 5, 5)]),
    evaluation(
      ["void", "stain"],
      [d("stain", box(100, 100, 50, 50))],
      [box(100, 100, 50, 50), box(600, 600, 90, 90)],
    ),
    evaluation([], [d("particle", box(5, 5, 4, 4))], []),
    evaluation([], [], []),
  ];
  const m = summarise(wafers);
  assert.equal(m.truthDefects, 3);
  assert.equal(m.found, 2);
  assert.ok(Math.abs(m.recall - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.precision - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.classAccuracy - 1 / 2) < 1e-12);
  assert.equal(m.waferAccuracy, 3 / 4);
  assert.equal(m.falseAlarmsPerCleanWafer, 0.5);
  assert.equal(m.perClassRecall.stain?.recall, 0);
  assert.equal(m.perClassRecall.void?.found, 1);
  assert.equal(m.confusion.void?.stain, 1);
});

test("evaluate arguments: thresholds parsed, bad values named", () => {
  const args = parseEvaluateArgs([
    "lots",
    "--json",
    "--min-recall",
    "0.97",
    "--min-wafer-accuracy",
    "0.99",
  ]);
  assert.equal(args.dir, "lots");
  assert.equal(args.json, true);
  assert.deepEqual(args.minimums, { recall: 0.97, waferAccuracy: 0.99 });
  assert.throws(
    () => parseEvaluateArgs(["lots", "--min-recall", "high"]),
    /--min-recall needs a number/,
  );
  assert.throws(() => parseEvaluateArgs(["--json"]), /missing the directory/);
  assert.throws(() => parseEvaluateArgs(["a", "--frobnicate"]), /unknown option '--frobnicate'/);
});
