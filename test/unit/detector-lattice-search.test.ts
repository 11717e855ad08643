// The coarse-to-fine lattice search (lattice*.ts): pitch candidates and first fits on the 2 x 2 averaged map land within a coarse pixel, the full-resolution fit on the drawn lattice.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { measureLattice } from "../../endpoint/detector/lattice.ts";
import { pitchCandidates } from "../../endpoint/detector/lattice-pitch.ts";
import { gridOrientation } from "../../endpoint/detector/lattice-projections.ts";
import { refineVector } from "../../endpoint/detector/lattice-refine.ts";
import { coarseView, latticeSearch } from "../../endpoint/detector/lattice-search.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

interface Grid {
  /** Die pitch along the grid's own x and y axes, px. */
  pitch: { x: number; y: number };
  angleDeg: number;
  noise: number;
  /** Intensity added inside a die at grid coordinates (u, v); a plain bright block by default. */
  motif?: (u: number, v: number) => number;
  /** Street width, px. */
  street?: number;
}

/** A die grid turned by `angleDeg`: dark streets, a motif per die, Gaussian noise. */
function turnedGrid(size: number, grid: Grid, seed: number): FloatMap {
  const random = seededRandom(seed);
  const { pitch, angleDeg, noise } = grid;
  const street = grid.street ?? 3;
  const motif =
    grid.motif ??
    ((u: number, v: number) =>
      u > 0.3 * pitch.x && u < 0.6 * pitch.x && v > 0.25 * pitch.y && v < 0.7 * pitch.y ? 150 : 0);
  const c = Math.cos((angleDeg * Math.PI) / 180);
  const s = Math.sin((angleDeg * Math.PI) / 180);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (((x * c + y * s) % pitch.x) + pitch.x) % pitch.x;
      const v = (((-x * s + y * c) % pitch.y) + pitch.y) % pitch.y;
      const inStreet = u < street || v < street;
      data[y * size + x] = (inStreet ? 600 : 1000 + motif(u, v)) + noise * standardNormal(random);
    }
  }
  return { width: size, height: size, scale: 1, data };
}

const unitAt = (deg: number) => ({
  x: Math.cos((deg * Math.PI) / 180),
  y: Math.sin((deg * Math.PI) / 180),
});

/** Angle difference folded into [-45, 45) degrees. */
const quarterTurnApart = (a: number, b: number) => {
  const d = a - b;
  return Math.abs(d - 90 * Math.round(d / 90));
};

describe("coarse view", () => {
  it("averages 2 x 2 blocks, placed at their centres, when the shortest pitch spans 4 coarse px", () => {
    const size = 64;
    const data = Float32Array.from({ length: size * size }, (_, i) => (i % size) + 3 * (i >> 6));
    const map = { width: size, height: size, scale: 1, data };
    const region = { cx: 32, cy: 32, r: 30 };
    const coarse = coarseView(map, region, 8);
    assert.equal(coarse.factor, 2);
    assert.deepEqual(coarse.region, { cx: 15.75, cy: 15.75, r: 15 });
    // A plane averages to its value at the block centre (2i + 0.5, 2j + 0.5).
    for (const [i, j] of [
      [10, 12],
      [15, 15],
      [20, 8],
    ] as const)
      assert.equal(coarse.map.data[j * coarse.map.width + i], 2 * i + 0.5 + 3 * (2 * j + 0.5));
    // Shorter pitches are searched on the map itself.
    assert.equal(coarseView(map, region, 7.9).factor, 1);
    assert.equal(coarseView(map, region, 7.9).map, map);
  });
});

describe("coarse-to-fine search on turned grids, pitch 40-400 px", () => {
  for (const [pitch, angleDeg, noise] of [
    [40, 3, 8],
    [75, -5, 20],
    [150, 1.5, 6],
    [400, -4, 12],
  ] as const) {
    it(`pitch ${pitch} px at ${angleDeg} deg, noise ${noise}: coarse winner within a coarse pixel, then the full-resolution fit`, () => {
      const lo = 0.4 * pitch;
      const hi = 1.25 * pitch;
      const r = Math.ceil(Math.max(200, 1.3 * hi));
      const size = 2 * r + 20;
      const region = { cx: size / 2, cy: size / 2, r };
      const map = turnedGrid(size, { pitch: { x: pitch, y: pitch }, angleDeg, noise }, pitch);
      const search = latticeSearch(map, region, lo, hi);
      assert.equal(search.coarse.factor, 2, "searched on the coarse map");
      // The orientation is known to a quarter degree before the pitch search.
      const unit = unitAt(angleDeg + 0.2);
      const candidates = pitchCandidates(map, region, unit, lo, hi, search);
      assert.ok(candidates.length >= 1, `candidates ${candidates}`);
      const winner = candidates[0] as number;
      assert.ok(
        Math.abs(winner - pitch) <= search.coarse.factor,
        `coarse winner ${winner} for pitch ${pitch}`,
      );
      const fitted = refineVector(
        map,
        region,
        { x: unit.x * winner, y: unit.y * winner },
        noise,
        search,
      );
      const truth = { x: unitAt(angleDeg).x * pitch, y: unitAt(angleDeg).y * pitch };
      // The grid is drawn without antialiasing: its staircases leave the best shift a little off.
      // At 400 px (past the largest pitch a 1024 px map is searched for) only 1.5% of the fit's
      // 6000 points fall on a street, and its minimum lies within half a pixel.
      const tolerance = pitch > 150 ? 0.5 : 0.25;
      assert.ok(
        Math.hypot(fitted.v.x - truth.x, fitted.v.y - truth.y) < tolerance,
        `fitted ${JSON.stringify(fitted.v)} against the drawn ${JSON.stringify(truth)}`,
      );
      assert.ok(fitted.quality > 0.8, `quality ${fitted.quality}`);
    });
  }

  it("the notch prior's window finds the grid's angle to a tenth of a degree, disk edges off the pixel grid", () => {
    const size = 1024;
    // Disk ends between pixels: the scattered orientation points must stay on whole pixels.
    // (On maps of about 600 px, a third as many points, the error reaches half a degree,
    // which the vectors' 2-D fits absorb.)
    const region = { cx: 511.7, cy: 512.35, r: 502.45 };
    for (const angleDeg of [-1.6, 0, 0.9, 17.8]) {
      const map = turnedGrid(size, { pitch: { x: 52, y: 38 }, angleDeg, noise: 10 }, 3);
      const prior = ((angleDeg + 1.2) * Math.PI) / 180;
      const found = (gridOrientation(map, region, prior) * 180) / Math.PI;
      assert.ok(quarterTurnApart(found, angleDeg) < 0.1, `found ${found} for ${angleDeg}`);
    }
  });

  it("the quadrant scan finds grids turned by up to 5 degrees without a prior", () => {
    const size = 620;
    const region = { cx: 310, cy: 310, r: 300 };
    for (const angleDeg of [-5, -2.3, 0.6, 4.1]) {
      const map = turnedGrid(size, { pitch: { x: 44, y: 31 }, angleDeg, noise: 10 }, 7);
      const found = (gridOrientation(map, region) * 180) / Math.PI;
      assert.ok(quarterTurnApart(found, angleDeg) < 0.3, `found ${found} for ${angleDeg}`);
    }
  });
});

describe("measureLattice on a map searched coarse to fine", () => {
  const size = 1024;
  const region = { cx: 512, cy: 512, r: 490 };
  const diameter = 1000;

  it("measures a turned grid with oblong dies (aspect 1.5) to a tenth of a pixel", () => {
    const pitch = { x: 54, y: 36 };
    const map = turnedGrid(size, { pitch, angleDeg: 3, noise: 8 }, 21);
    // The notch says the grid is turned by 3 degrees (the oriented x axis at notch - 90).
    const lattice = measureLattice(map, region, diameter, 93, 8);
    assert.ok(lattice, "lattice found");
    const a = { x: unitAt(3).x * pitch.x, y: unitAt(3).y * pitch.x };
    const b = { x: -unitAt(3).y * pitch.y, y: unitAt(3).x * pitch.y };
    assert.ok(Math.hypot(lattice.a.x - a.x, lattice.a.y - a.y) < 0.15, JSON.stringify(lattice.a));
    assert.ok(Math.hypot(lattice.b.x - b.x, lattice.b.y - b.y) < 0.15, JSON.stringify(lattice.b));
    assert.ok(lattice.periodicity > 0.8, `periodicity ${lattice.periodicity}`);
  });

  it("lists a motif repeat first and the die pitch after it, as the full-resolution scan does", () => {
    // A strong motif repeating every quarter die: a quarter of the pitch matches nearly as well
    // as the pitch itself (the streets do not line up there). Which candidate wins is
    // bestVector's rule, pinned on the full-resolution path in detector-stages.test.ts.
    const motif = (u: number) => 400 * Math.sin((2 * Math.PI * (u - 1)) / 40) ** 2;
    const map = turnedGrid(
      size,
      { pitch: { x: 80, y: 80 }, angleDeg: 0, noise: 3, motif, street: 3 },
      5,
    );
    const search = latticeSearch(map, region, 15, 120);
    assert.equal(search.coarse.factor, 2);
    const candidates = pitchCandidates(map, region, { x: 1, y: 0 }, 15, 120, search);
    assert.ok(Math.abs((candidates[0] as number) - 20) < 1, `first candidate ${candidates[0]}`);
    assert.ok(
      candidates.some((c) => Math.abs(c - 80) < 1),
      `the pitch among ${candidates}`,
    );
  });

  it("finds no lattice on a smooth surface with noise and one large stain", () => {
    const random = seededRandom(9);
    const data = new Float32Array(size * size);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inStain = (x - 400) ** 2 + (y - 600) ** 2 < 150 ** 2;
        data[y * size + x] = (inStain ? 910 : 1000) + 5 * standardNormal(random);
      }
    assert.equal(
      measureLattice({ width: size, height: size, scale: 1, data }, region, diameter, 90, 5),
      null,
    );
  });
});
