// Unit tests of the lattice-line rule (classify stage) on residual maps built here: a line needs twice the seed threshold only when it keeps to a die row and repeats one pitch away, as a lattice error's residual does.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { needsLatticeLineMargin } from "../../endpoint/detector/lattice-line.ts";

import {
  classify,
  drawLine,
  lineLevel,
  pixelsAbove,
  reading,
  seedThreshold,
  size,
} from "../helpers/lattice-line-maps.ts";

describe("lines along a die axis (LATTICE_LINE)", () => {
  it("a line on one street row that repeats in the neighbouring die rows (a lattice error's residual) needs twice the seed threshold", () => {
    const residual = new Float32Array(size * size);
    // The same street edge in every die row carries the error's residual, 0.7 of the seeded line.
    for (let y = 30; y <= 290; y += 20)
      drawLine(residual, 70, y, 180, 0, y === 150 ? lineLevel : 0.7 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, "a");
    assert.ok(read.driftPx < read.toleratedDriftPx, JSON.stringify(read));
    assert.equal(needsLatticeLineMargin(read), true);
    assert.deepEqual(classify(residual, line), []);
    // Over twice the threshold it is reported all the same.
    const strong = residual.map((v) => (v >= lineLevel ? 2.2 * seedThreshold : v));
    assert.equal(classify(strong, line).length, 1);
  });

  it("a scratch 1.45 degrees off axis b (it drifts 6 px across the die columns, no repeat) goes by the ordinary threshold", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 150, 40, 240, 90 + 1.45, lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, "b");
    assert.equal(needsLatticeLineMargin(read), false, JSON.stringify(read));
    const found = classify(residual, line);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.class, "scratch");
  });

  it("a scratch exactly along axis a, whose copies one die across read its negative echo, goes by the ordinary threshold", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 70, 150, 180, 0, lineLevel);
    // One die across, the scratch is the reference of three of the four pair comparisons.
    drawLine(residual, 70, 130, 180, 0, -0.5 * lineLevel);
    drawLine(residual, 70, 170, 180, 0, -0.5 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    assert.equal(needsLatticeLineMargin(reading(residual, line)), false);
    assert.equal(classify(residual, line).length, 1);
    // In the rim ring its residual is taken against extrapolated references, with a gain its
    // copies inward do not share: not judged by repeat, it keeps the margin.
    const rimRing = new Uint8Array(size * size);
    for (const p of line) rimRing[p] = 1;
    assert.deepEqual(classify(residual, line, rimRing), []);
  });

  it("a line that crosses the rows by more than the lattice's accuracy allows is not a lattice line", () => {
    const residual = new Float32Array(size * size);
    // 5 degrees over 180 px: 16 px across the rows, against 180 x 0.5 / 20 + 2 = 6.5 px.
    for (let y = 30; y <= 290; y += 20)
      drawLine(residual, 70, y - 8, 180, 5, y === 150 ? lineLevel : 0.7 * lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, null);
    assert.ok(read.driftPx > read.toleratedDriftPx, JSON.stringify(read));
    assert.equal(needsLatticeLineMargin(read), false);
  });

  it("a darker reticle field-boundary street (a 3 x 3 field: the same line 3 pitches away, echoes 1 pitch away) needs twice the seed threshold", () => {
    const residual = new Float32Array(size * size);
    for (const y of [90, 150, 210]) {
      // Every third street row is darker; the rows one pitch from it read its echo.
      drawLine(residual, 40, y, 240, 0, y === 150 ? lineLevel : 0.8 * lineLevel);
      drawLine(residual, 40, y - 20, 240, 0, -0.5 * lineLevel);
      drawLine(residual, 40, y + 20, 240, 0, -0.5 * lineLevel);
    }
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    assert.equal(read.along, "a");
    assert.ok((read.across[0] ?? 0) < 0 && (read.across[1] ?? 0) < 0, JSON.stringify(read));
    assert.equal(needsLatticeLineMargin(read), true);
    assert.deepEqual(classify(residual, line), []);
  });

  it("a line whose neighbouring rows all lie off the analysed disk cannot be judged by repeat and keeps the margin", () => {
    const off = {
      along: "a" as const,
      driftPx: 1,
      toleratedDriftPx: 5,
      onLine: 15,
      streetOffsetPx: null,
      pastEnds: [null, null] as [null, null],
    };
    assert.equal(needsLatticeLineMargin({ ...off, across: [null, null, null, null] }), true);
    // Any row on the disk decides: a repeat there is enough, none clears the line.
    assert.equal(needsLatticeLineMargin({ ...off, across: [null, -6, null, 10] }), true);
    assert.equal(needsLatticeLineMargin({ ...off, across: [-6, null, 1, null] }), false);
  });
});
