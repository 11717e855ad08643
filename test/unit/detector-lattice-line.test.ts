// Unit tests of the lattice-line rule (classify stage) on residual maps built here: a line needs twice the seed threshold only when it keeps to a die row and repeats one pitch away, as a lattice error's residual does.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { FeatureContext } from "../../endpoint/detector/blob-features.ts";
import { measureBlob } from "../../endpoint/detector/blob-features.ts";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import { needsLatticeLineMargin, readLatticeLine } from "../../endpoint/detector/lattice-line.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { classifyGroups } from "../../endpoint/detector/stages/defects.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import type { DetectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import type { GrayImage } from "../../lib/gray-image.ts";

// A 320 x 320 map at full resolution (scale 1), dies of 20 x 20 px, the disk 150 px in radius.
// The seed threshold is 10 everywhere; a line at 15 has strength 1.5: over the ordinary
// threshold, under the doubled one.
const size = 320;
const lattice: Lattice = {
  a: { x: 20, y: 0 },
  b: { x: 0, y: 20 },
  streetPhase: { a: 0, b: 0 },
  periodicity: 1,
};
const analysis: DiskRegion = { cx: 160, cy: 160, r: 150 };
const seedThreshold = 10;
const lineLevel = 15;

/** Draws a line 2 px wide from (x0, y0), `length` px at `deg` from +x, adding `level` to each pixel it covers. */
function drawLine(
  map: Float32Array,
  x0: number,
  y0: number,
  length: number,
  deg: number,
  level: number,
): void {
  const ux = Math.cos((deg * Math.PI) / 180);
  const uy = Math.sin((deg * Math.PI) / 180);
  const covered = new Set<number>();
  for (let t = 0; t <= length; t += 0.25)
    for (const across of [-0.5, 0.5]) {
      const x = Math.round(x0 + t * ux - across * uy);
      const y = Math.round(y0 + t * uy + across * ux);
      covered.add(y * size + x);
    }
  for (const p of covered) map[p] = (map[p] as number) + level;
}

function pixelsAbove(map: Float32Array, floor: number): Int32Array {
  const out: number[] = [];
  for (let p = 0; p < map.length; p++) if ((map[p] as number) >= floor) out.push(p);
  return Int32Array.from(out);
}

/** The classify stage on one bright group (the line's pixels) over the given residual. */
function classify(residual: Float32Array, pixels: Int32Array, edgeMask: Uint8Array | null = null) {
  const ctx: FeatureContext = {
    mapWidth: size,
    mapHeight: size,
    mapScale: 1,
    residual,
    score: residual,
  };
  const work: FloatMap = {
    width: size,
    height: size,
    scale: 1,
    data: new Float32Array(size * size).fill(100),
  };
  const wafer = {
    circle: { cx: 160, cy: 160, r: 160 },
    rim: { chips: [] },
    frame: { cx: 160, cy: 160, radiusPx: 160, diameterMm: 300, notchAngleDeg: 90 },
    mmPerPx: 300 / 320,
    exclusionPx: 3.2,
    analysis,
    sizeScale: size / 2048,
    toMap: (v: number) => v,
    waferLevel: 100,
    chuckLevel: 20,
  } as unknown as WaferPlace;
  const thresholds = {
    score: residual,
    highAt: () => seedThreshold,
    scoreTail: 1,
  } as unknown as DetectionThresholds;
  const image: GrayImage = {
    width: size,
    height: size,
    bitDepth: 8,
    data: new Uint8Array(size * size),
  };
  return classifyGroups(
    { groups: [{ pixels, sign: 1 }], ctx, edgeMask },
    image,
    work,
    wafer,
    lattice,
    thresholds,
  );
}

function reading(residual: Float32Array, pixels: Int32Array) {
  const ctx: FeatureContext = {
    mapWidth: size,
    mapHeight: size,
    mapScale: 1,
    residual,
    score: residual,
  };
  return readLatticeLine({
    features: measureBlob(pixels, 1, ctx, false),
    pixels,
    sign: 1,
    lattice,
    residual,
    mapWidth: size,
    mapHeight: size,
    analysis,
    edgeMask: null,
  });
}

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
