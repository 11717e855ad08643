// Unit tests of the reticle field's template (reticle-field.ts) on a small raster built here: a 2 x 2 field with darker boundary streets and per-die levels.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { findReticleField } from "../../endpoint/detector/reticle-field.ts";
import { hysteresisBlobs } from "../../endpoint/detector/segment.ts";
import { dieToDie } from "../../endpoint/detector/stages/die-to-die.ts";
import type { Noise } from "../../endpoint/detector/stages/noise.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import { detectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const size = 480;
const region: DiskRegion = { cx: 240, cy: 240, r: 222 };
// Dies 32.4 px apart (not whole pixels: each die samples the pattern at its own phase), streets
// 4 px wide at 75% of the die level; every other street along each axis is a field boundary,
// 3% darker (the spec's most), so the field is 2 x 2 dies, each die at its own level (the
// spec's +-0.75%).
const pitch = 32.4;
const street = 4;
const dieLevel = 1000;
const gains = [0.0075, -0.0075, -0.005, 0.006];
const noiseSigma = 4;

/** Die index and whether the pixel lies in the street at the start of that die. */
function cell(v: number): { index: number; inStreet: boolean } {
  const index = Math.floor(v / pitch);
  return { index, inStreet: v - index * pitch < street };
}

function reticleWafer(
  particles: Array<{ x: number; y: number; contrast: number }>,
  seed: number,
  /** false: the same dies and streets with no field (no boundary darkening, no die levels). */
  withField = true,
): FloatMap {
  // The pattern at a point of the wafer (px): die, street or field-boundary street.
  const levelAt = (px: number, py: number): number => {
    const u = cell(px);
    const v = cell(py);
    if (u.inStreet || v.inStreet) {
      // The street at the start of an even die is a field boundary (crossings included).
      const boundary = (u.inStreet && u.index % 2 === 0) || (v.inStreet && v.index % 2 === 0);
      return 0.75 * dieLevel * (boundary && withField ? 0.97 : 1);
    }
    const du = px - u.index * pitch;
    const dv = py - v.index * pitch;
    const motif = du > 10 && du < 18 && dv > 12 && dv < 24 ? 150 : 0;
    const gain = withField ? (gains[(u.index % 2) + 2 * (v.index % 2)] as number) : 0;
    return (dieLevel + motif) * (1 + gain);
  };
  const random = seededRandom(seed);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // A camera pixel integrates its area (4 x 4 points): edges fall between pixels.
      let sum = 0;
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) sum += levelAt(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4);
      data[y * size + x] = sum / 16 + noiseSigma * standardNormal(random);
    }
  }
  for (const { x, y, contrast } of particles)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) data[(y + dy) * size + x + dx] += contrast;
  return { width: size, height: size, scale: 1, data };
}

// A field-centre crossing: the crossing of the streets at the start of odd dies (both interior).
const crossing = (k: number) => Math.round((2 * k + 1) * pitch + street / 2 - 0.5);
const centreCrossings: Array<[number, number]> = [];
for (let i = 0; i < 8; i++)
  for (let j = 0; j < 8; j++) {
    const x = crossing(i);
    const y = crossing(j);
    if (Math.hypot(x - region.cx, y - region.cy) < region.r - 2 * pitch)
      centreCrossings.push([x, y]);
  }

const lattice: Lattice = {
  a: { x: pitch, y: 0 },
  b: { x: 0, y: pitch },
  // A street centre line at x = street / 2, measured from the disk centre along each axis.
  streetPhase: {
    a: (((street / 2 - region.cx) % pitch) + pitch) % pitch,
    b: (((street / 2 - region.cy) % pitch) + pitch) % pitch,
  },
  periodicity: 0.99,
};

/** The stages from die to die through seeding, as detect() runs them on a patterned wafer. */
function seeded(map: FloatMap) {
  const wafer = {
    analysis: region,
    circle: { cx: region.cx, cy: region.cy, r: region.r + 10 },
  } as unknown as WaferPlace;
  const noise: Noise = { sigmaMap: noiseSigma, level: dieLevel };
  const compared = dieToDie(map, wafer, noise, lattice);
  const thresholds = detectionThresholds(
    map,
    wafer,
    noise,
    compared.residual,
    lattice,
    compared.edgeMask,
    compared.comparisonSigma,
    compared.edgeGain,
  );
  const blobs = hysteresisBlobs(thresholds.score, size, size, region, thresholds.seeds);
  const centres = blobs.map((blob) => {
    let sx = 0;
    let sy = 0;
    for (const i of blob.pixels) {
      sx += i % size;
      sy += Math.floor(i / size);
    }
    return { x: sx / blob.pixels.length, y: sy / blob.pixels.length };
  });
  return { compared, thresholds, centres };
}

describe("reticle field: the field's own pattern taken off the die-to-die residual", () => {
  const inDie = { x: 251, y: 233 };
  const [atCrossingX, atCrossingY] = centreCrossings[Math.floor(centreCrossings.length / 2)] as [
    number,
    number,
  ];
  const particles = [
    { x: inDie.x, y: inDie.y, contrast: 30 },
    { x: atCrossingX, y: atCrossingY, contrast: 14 },
  ];
  const near = (c: { x: number; y: number }, x: number, y: number) =>
    Math.hypot(c.x - x, c.y - y) < 4;

  it("finds the 2 x 2 field and takes its crossings and die levels off: both particles seeded, no crossing seeded", () => {
    const { centres, compared } = seeded(reticleWafer(particles, 18));
    // The rim ring (references extrapolated: another pattern, thresholds of its own) is not
    // templated: seeds are counted in the interior.
    const interior = centres.filter(
      (c) => compared.edgeMask[Math.round(c.y) * size + Math.round(c.x)] === 0,
    );
    for (const p of particles)
      assert.ok(
        interior.some((c) => near(c, p.x, p.y)),
        `particle at (${p.x}, ${p.y}) not seeded; seeds at ${JSON.stringify(interior)}`,
      );
    const falseCrossings = centreCrossings.filter(
      ([x, y]) => !(x === atCrossingX && y === atCrossingY) && centres.some((c) => near(c, x, y)),
    );
    assert.deepEqual(falseCrossings, [], "field-centre crossings seeded");
    assert.ok(interior.length <= particles.length, `seeds ${JSON.stringify(interior)}`);
  });

  it("reads the field's period from the residual, and no field on the same wafer without one", () => {
    const map = reticleWafer([], 19);
    const wafer = {
      analysis: region,
      circle: { cx: region.cx, cy: region.cy, r: region.r + 10 },
    } as unknown as WaferPlace;
    const { compared } = seeded(map);
    assert.deepEqual(
      compared.reticleField && [compared.reticleField.p, compared.reticleField.q],
      [2, 2],
    );
    // The same dies without the field: the residual is left as it is (no field found).
    const plain = reticleWafer([], 19, false);
    const noise: Noise = { sigmaMap: noiseSigma, level: dieLevel };
    const withoutField = dieToDie(plain, wafer, noise, lattice);
    assert.equal(withoutField.reticleField, null);
    assert.equal(
      findReticleField(
        withoutField.residual,
        size,
        lattice,
        region,
        withoutField.edgeMask,
        withoutField.comparisonSigma,
      ),
      null,
    );
  });
});
