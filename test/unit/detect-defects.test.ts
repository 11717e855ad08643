// The detect function's own logic: lot metadata as custom attributes, boxes mapped back to original pixels.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { customAttributes, toOriginalPixels } from "../../functions/detect-defects/core.ts";
import type { InvocationResponse } from "../../schemas/detection.ts";

const response: InvocationResponse = {
  model: { name: "m", version: "1" },
  wafer: {
    imageWidth: 2048,
    imageHeight: 2048,
    centerPx: { x: 1024, y: 1020 },
    radiusPx: 900,
    diameterMm: 300,
    mmPerPx: 300 / 1800,
    notchAngleDeg: 90,
    notchSource: "detected",
    surface: "patterned",
    diePitchPx: { x: 100, y: 120 },
    noiseSigma: 0.01,
    waferLevel: 0.5,
  },
  defects: [
    {
      class: "particle",
      score: 0.8,
      bbox: { x: 101, y: 203, width: 5, height: 7 },
      centroidPx: { x: 103.5, y: 206.5 },
      areaPx: 30,
      waferMm: { x: -10, y: 20 },
      die: { row: -3, col: 1 },
    },
  ],
};

describe("toOriginalPixels", () => {
  it("scales boxes, centroids, areas and wafer geometry back up, covering the defect", () => {
    const { wafer, defects } = toOriginalPixels(response, 0.5, { width: 4096, height: 4096 });
    assert.deepEqual(defects[0]?.bbox, { x: 202, y: 406, width: 10, height: 14 });
    assert.deepEqual(defects[0]?.centroidPx, { x: 207, y: 413 });
    assert.equal(defects[0]?.areaPx, 120);
    assert.deepEqual(defects[0]?.waferMm, { x: -10, y: 20 });
    assert.equal(wafer.radiusPx, 1800);
    assert.equal(wafer.mmPerPx, 300 / 3600);
    assert.deepEqual(wafer.diePitchPx, { x: 200, y: 240 });
    assert.equal(wafer.imageWidth, 4096);
  });
  it("clamps boxes to the original frame", () => {
    const [first] = response.defects;
    assert.ok(first);
    const edge = {
      ...response,
      defects: [{ ...first, bbox: { x: 2040, y: 0, width: 8, height: 8 } }],
    };
    const [mapped] = toOriginalPixels(edge, 0.6, { width: 3413, height: 3413 }).defects;
    assert.ok(mapped && mapped.bbox.x + mapped.bbox.width <= 3413);
  });
});

describe("customAttributes", () => {
  it("passes notch, diameter and die pitch when the lot gives them", () => {
    assert.equal(
      customAttributes({ notchAngleDeg: 90, waferDiameterMm: 200, diePitchMm: { x: 10, y: 12.5 } }),
      "notch_angle_deg=90;wafer_diameter_mm=200;die_pitch_mm=10x12.5",
    );
    assert.equal(customAttributes({ diePitchMm: 8 }), "die_pitch_mm=8");
  });
  it("sends nothing when the lot gives nothing", () => {
    assert.equal(customAttributes({ product: "X" }), undefined);
  });
});
