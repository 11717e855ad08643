// Unit tests of the street sampling-phase rule on a line grouped from fragments (lattice-line.ts meanPastEnd, folded): a street row whose leftover clears the seed only at some die phases is still read past its ends, so it is dropped; fragments that end are still a defect.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { isStreetPhaseLine } from "../../endpoint/detector/lattice-line.ts";
import {
  classify,
  drawLine,
  lattice,
  lineLevel,
  pixelsAbove,
  reading,
  size,
} from "../helpers/lattice-line-maps.ts";

/**
 * Row y = 160 (a street centre, dies of 20 px): `row` along x = 30..290, and 3 px fragments every
 * pitch from x = 140 to 220 that reach the line level (82 px: shorter than the spec's longest
 * scratch at this map's scale): only they clear the seed, so the group is five pieces a die apart, as the pixel seed leaves a street row whose leftover peaks at one
 * die phase (SYN-7066-1/wafer-010, docs/detector-recall.md round 25).
 */
function fragmentedRow(row: number): { residual: Float32Array; line: Int32Array } {
  const residual = new Float32Array(size * size);
  if (row !== 0) drawLine(residual, 30, 160, 260, 0, row);
  for (let x = 140; x <= 220; x += 20) drawLine(residual, x, 160, 2, 0, lineLevel - row);
  return { residual, line: pixelsAbove(residual, lineLevel) };
}

describe("a weak street-centre line grouped from fragments a die apart", () => {
  it("whose row runs on past its ends at 0.7 of its level is read past the ends (each fragment moved to the pitch beyond the end) and dropped as the street's phase", () => {
    const { residual, line } = fragmentedRow(0.7 * lineLevel);
    assert.equal(line.length, 30);
    const read = reading(residual, line);
    assert.equal(read.along, "a");
    // One pitch's move takes only the last fragment (6 px) past either end: too few to read.
    // Moved by the least whole number of pitches, all 30 land there, at their own die phase.
    for (const past of read.pastEnds)
      assert.ok(past !== null && Math.abs(past - 0.7 * lineLevel) < 0.01, JSON.stringify(read));
    assert.equal(isStreetPhaseLine(read, lattice), true);
    assert.deepEqual(classify(residual, line), []);
  });

  it("that ends (a broken scratch along the street, nothing past its ends) is still a defect", () => {
    const { residual, line } = fragmentedRow(0);
    const read = reading(residual, line);
    for (const past of read.pastEnds) assert.ok(past !== null && Math.abs(past) < 0.01);
    assert.equal(isStreetPhaseLine(read, lattice), false);
    assert.equal(classify(residual, line).length, 1);
  });
});
