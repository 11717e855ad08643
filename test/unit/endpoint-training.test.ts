// Unit tests of how the second-stage classifier is trained: labels from truth matching, seeded and learning training.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { forwardClassifier, STAGE_CLASSES } from "../../endpoint/models/classifier-graph.ts";
import { FEATURE_COUNT } from "../../endpoint/models/features.ts";
import { seededRandom } from "../../lib/random.ts";
import {
  compareDecisions,
  crossValidate,
  labelFor,
  type Sample,
  trainClassifier,
} from "../../scripts/build-onnx-model.ts";

describe("labelFor", () => {
  const truth = [
    { class: "scratch" as const, bbox: { x: 100, y: 100, width: 200, height: 6 } },
    { class: "void" as const, bbox: { x: 400, y: 400, width: 30, height: 30 } },
  ];

  it("labels a report with the class of the true defect it overlaps best", () => {
    assert.equal(labelFor({ bbox: { x: 402, y: 398, width: 30, height: 31 } }, truth), "void");
  });

  it("counts centre containment as a match, as the spec's rule does", () => {
    // A fragment inside the scratch's box: IoU far below 0.1, centre inside.
    assert.equal(labelFor({ bbox: { x: 150, y: 101, width: 10, height: 3 } }, truth), "scratch");
  });

  it("calls a report that matches nothing a false alarm", () => {
    assert.equal(
      labelFor({ bbox: { x: 700, y: 700, width: 10, height: 10 } }, truth),
      "false_alarm",
    );
    assert.equal(labelFor({ bbox: { x: 700, y: 700, width: 10, height: 10 } }, []), "false_alarm");
  });
});

/** Two informative features decide the class; the rest is noise. */
function toySamples(count: number, seed: number): Sample[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const label = i % STAGE_CLASSES.length;
    const features = Float32Array.from({ length: FEATURE_COUNT }, () => random() - 0.5);
    features[0] = Math.cos((2 * Math.PI * label) / STAGE_CLASSES.length) * 3 + (random() - 0.5);
    features[1] = Math.sin((2 * Math.PI * label) / STAGE_CLASSES.length) * 3 + (random() - 0.5);
    return { features, label, detectorClass: "unknown", wafer: i };
  });
}

describe("trainClassifier", () => {
  const options = { hidden: 8, epochs: 150, learningRate: 0.03, l2: 1e-4, seed: 5 };

  it("gives the same weights for the same seed and data", () => {
    const samples = toySamples(120, 1);
    assert.deepEqual(trainClassifier(samples, options), trainClassifier(samples, options));
  });

  it("learns a separable problem well enough to classify unseen samples", () => {
    const weights = trainClassifier(toySamples(300, 2), options);
    const unseen = toySamples(120, 3);
    const correct = unseen.filter((s) => {
      const p = forwardClassifier(weights, s.features);
      return p.indexOf(Math.max(...p)) === s.label;
    }).length;
    assert.ok(correct / unseen.length > 0.9, `accuracy ${correct / unseen.length}`);
  });

  it("cross-validates by wafer and reports how the stage compares with the detector", () => {
    const samples = toySamples(300, 2);
    const predictions = crossValidate(samples, options, 3);
    assert.equal(predictions.length, samples.length);
    const report = compareDecisions(predictions, { dropFalseAlarmAt: 0.5, relabelAt: 0.5 });
    assert.equal(report.realDetections + report.falseAlarms, samples.length);
    // The toy detector always says "unknown", so it is never right and the stage does all the work.
    assert.equal(report.detectorClassAccuracy, 0);
    assert.ok(report.stageClassAccuracy > 0.85, `stage ${report.stageClassAccuracy}`);
    assert.ok(report.falseAlarmsDropped / report.falseAlarms > 0.85);
  });
});
