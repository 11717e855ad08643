// Unit tests of the street sampling-phase rule (lattice-line.ts isStreetPhaseLine) on residual maps built here, and a real scratch along a street centre on a wafer built here: a weak line on a street's centre that runs on past its ends is the street's sampling phase, a scratch that ends is a defect.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { detect } from "../../endpoint/detector/index.ts";
import { isStreetPhaseLine } from "../../endpoint/detector/lattice-line.ts";
import { gatedDetect } from "../../endpoint/quality/index.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

import {
  classify,
  drawLine,
  lattice,
  lineLevel,
  pixelsAbove,
  reading,
  seedThreshold,
  size,
} from "../helpers/lattice-line-maps.ts";

/** A street row's leftover: level `line` on x0..x1 of row y (2 px wide), `beyond` on the rest of x = 30..290. */
function streetRow(y: number, x0: number, x1: number, line: number, beyond: number): Float32Array {
  const residual = new Float32Array(size * size);
  drawLine(residual, 30, y, x0 - 30 - 1, 0, beyond);
  drawLine(residual, x0, y, x1 - x0, 0, line);
  drawLine(residual, x1 + 1, y, 290 - x1 - 1, 0, beyond);
  return residual;
}

describe("a weak line on a street's centre (STREET_PHASE)", () => {
  // Street centre lines lie at y = 160 + 20 k (street phase 0 from the disk centre); drawLine's
  // 2 px line from y covers rows y and y + 1, so its centre lies half a pixel off the street's.
  it("that runs on past its ends at 0.7 of its level (the same street in every die of the row) is the street's sampling phase, not a defect", () => {
    const residual = streetRow(160, 120, 200, lineLevel, 0.7 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, "a");
    assert.ok(Math.abs((read.streetOffsetPx ?? 9) - 0.5) < 0.01, JSON.stringify(read));
    assert.ok((read.pastEnds[0] ?? 0) > 0.6 * read.onLine, JSON.stringify(read.pastEnds));
    assert.equal(isStreetPhaseLine(read, lattice), true);
    assert.deepEqual(classify(residual, line), []);
  });

  it("that runs on past one end only (the leftover fades the other way, or the disk ends) is the street's phase too", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 120, 160, 80, 0, lineLevel);
    drawLine(residual, 201, 160, 80, 0, 0.6 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    assert.deepEqual(classify(residual, line), []);
  });

  it("that ends (a scratch along the street) is a defect", () => {
    const residual = streetRow(160, 120, 200, lineLevel, 0);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(isStreetPhaseLine(read, lattice), false);
    assert.equal(classify(residual, line).length, 1);
  });

  it("that ends in a faint leftover under half its level (a scratch on a street that carries a little) is a defect", () => {
    const residual = streetRow(160, 120, 200, lineLevel, 0.3 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    assert.equal(classify(residual, line).length, 1);
  });

  it("running on past its ends inside a die, off the street centre (5 px from it), is judged by the other rules, not as a street's phase", () => {
    const residual = streetRow(165, 120, 200, lineLevel, 0.7 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.ok(Math.abs((read.streetOffsetPx ?? 0) - 5.5) < 0.01, JSON.stringify(read));
    assert.equal(isStreetPhaseLine(read, lattice), false);
    assert.equal(classify(residual, line).length, 1);
  });

  it("over twice the seed threshold it is reported all the same (as LATTICE_LINE's margin)", () => {
    const residual = streetRow(160, 120, 200, 2.2 * seedThreshold, 0.7 * 2.2 * seedThreshold);
    const line = pixelsAbove(residual, 2.2 * seedThreshold);
    assert.equal(classify(residual, line).length, 1);
  });

  it("along the other axis (a vertical street), the same", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 140, 30, 89, 90, 0.7 * lineLevel);
    drawLine(residual, 140, 120, 80, 90, lineLevel);
    drawLine(residual, 140, 201, 89, 90, 0.7 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, "b");
    assert.equal(isStreetPhaseLine(read, lattice), true, JSON.stringify(read));
    assert.deepEqual(classify(residual, line), []);
  });
});

// A 1024 px 16-bit patterned wafer: dies of 61.37 px (every die's streets at another sub-pixel
// phase), streets 6 px wide at 22000, dies at 31000, noise 260 codes; sampled by pixel area.
function streetWafer(scratch: { y: number; x0: number; x1: number; contrast: number }): GrayImage {
  const side = 1024;
  const pitch = 61.37;
  const random = seededRandom(7);
  const data = new Uint16Array(side * side);
  const level = (x: number, y: number) => {
    const u = x - pitch * Math.floor(x / pitch);
    const w = y - pitch * Math.floor(y / pitch);
    let v = u < 6 || w < 6 ? 22000 : 31000;
    // The scratch: 2 px wide along the row, added to whatever lies under it.
    if (Math.abs(y - scratch.y) < 1 && x >= scratch.x0 && x < scratch.x1) v += scratch.contrast;
    return v;
  };
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      let v = 4000;
      if (Math.hypot(x + 0.5 - 512, y + 0.5 - 512) < 460) {
        v = 0;
        for (let j = 0; j < 4; j++)
          for (let i = 0; i < 4; i++) v += level(x + (i + 0.5) / 4, y + (j + 0.5) / 4);
        v /= 16;
      }
      data[y * side + x] = Math.max(
        0,
        Math.min(65535, Math.round(v + 260 * standardNormal(random))),
      );
    }
  return { width: side, height: side, bitDepth: 16, data };
}

describe("a real scratch along a street's centre on a wafer built here", () => {
  it("is found: it ends, so past its ends the street reads only the noise", async () => {
    // Row 8 of dies: the street's centre at 8 x 61.37 + 3 px.
    const y = 8 * 61.37 + 3;
    const scratch = { y, x0: 360, x1: 560, contrast: -3000 };
    const result = await gatedDetect(streetWafer(scratch), {}, detect);
    assert.equal(result.status, "inspected");
    const found = result.defects.filter(
      (d) => d.bbox.y <= y + 4 && d.bbox.y + d.bbox.height >= y - 4 && d.bbox.width > 60,
    );
    assert.equal(found.length >= 1, true, JSON.stringify(result.defects));
    assert.equal(found[0]?.class, "scratch");
  });
});
