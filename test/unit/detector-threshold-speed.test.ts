// The threshold, segment and score-tail rewrites (branch thr2) give exactly the numbers of the versions they replaced, written out here.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { selectKth } from "../../endpoint/detector/raster.ts";
import { angleSector, quadrantOf, scoreTailFactor } from "../../endpoint/detector/score-tail.ts";
import { type Blob, hysteresisBlobs, type Thresholds } from "../../endpoint/detector/segment.ts";
import { quantileOfMagnitudes, selectRanksOfMagnitudes } from "../../endpoint/detector/select.ts";
import { countOnes } from "../../endpoint/detector/stages/thresholds.ts";
import {
  classSigmaReader,
  measureSigmas,
  measureSigmasOfZones,
  type PatternAwareSigma,
  sigmaOfActivity,
} from "../../endpoint/detector/threshold.ts";
import {
  type ActivityMap,
  activityMap,
  activityReader,
  patternActivity,
} from "../../endpoint/detector/threshold-activity.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom } from "../../lib/random.ts";

/** A binned-looking map: die motifs on a lattice (quarter levels, many ties) plus noise. */
function patternMap(width: number, height: number, seed: number): FloatMap {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const motif = (x % 23 < 5 ? 40 : 0) + (y % 19 < 3 ? 25 : 0);
      data[y * width + x] = Math.round(4 * (100 + motif + 6 * (random() - 0.5))) / 4;
    }
  }
  return { width, height, scale: 2, data };
}

/** A residual-like raster: mostly exact zeros, Gaussian-ish noise, some heavy outliers, a -0 or two. */
function residualRaster(length: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const u = random();
    out[i] =
      u < 0.4
        ? 0
        : u < 0.41
          ? -0
          : u > 0.998
            ? 80 * (random() - 0.5)
            : (random() + random() + random() - 1.5) * 5;
  }
  return out;
}

/** measureSigmas as it was before (magnitudes gathered in class order, fresh arrays, a copy for the overall sigma). */
function plainMeasureSigmas(
  rasters: Float32Array[],
  floors: number[],
  map: FloatMap,
  region: { cx: number; cy: number; r: number },
  latticeA: { x: number; y: number } | null,
  mask?: Uint8Array,
  maskValue = 1,
  activity: ActivityMap | null = null,
  gain: { values: Uint8Array; unit: number } | null = null,
): Array<{ bounds: Float64Array; sigmas: Float64Array }> {
  // Each sample's magnitude, divided by its pixel's noise gain over the unit when given.
  const magnitudeOf = (raster: Float32Array, i: number) =>
    gain
      ? (gain.unit * Math.abs(raster[i] as number)) / Math.max(1, gain.values[i] as number)
      : Math.abs(raster[i] as number);
  const { width, height } = map;
  const CLASSES = DETECTION.activityClasses;
  const neighbourOffset = latticeA ? Math.round(latticeA.y) * width + Math.round(latticeA.x) : 0;
  const probe: PatternAwareSigma = {
    bounds: Float64Array.of(Number.POSITIVE_INFINITY),
    sigmas: Float64Array.of(0),
    neighbourOffset,
    map,
    activity,
  };
  const step = Math.max(1, Math.floor(region.r / 110));
  const indices: number[] = [];
  const r2 = region.r * region.r;
  for (
    let y = Math.max(1, Math.ceil(region.cy - region.r));
    y < Math.min(height - 1, region.cy + region.r);
    y += step
  ) {
    for (
      let x = Math.max(1, Math.ceil(region.cx - region.r));
      x < Math.min(width - 1, region.cx + region.r);
      x += step
    ) {
      const i = y * width + x;
      const dx = x - region.cx;
      const dy = y - region.cy;
      if (dx * dx + dy * dy < r2 && (!mask || mask[i] === maskValue)) indices.push(i);
    }
  }
  const n = indices.length;
  const classOf = new Uint8Array(n);
  let bounds = Float64Array.of(Number.POSITIVE_INFINITY);
  const classes = latticeA && n >= CLASSES * 200 ? CLASSES : 1;
  if (classes > 1) {
    const act = new Float64Array(indices).map((i) => patternActivity(probe, i));
    bounds = new Float64Array(CLASSES);
    for (let k = 0; k < CLASSES - 1; k++)
      bounds[k] = selectKth(act.slice(), n, Math.floor(((k + 1) / CLASSES) * (n - 1)));
    bounds[CLASSES - 1] = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      let k = 0;
      while (k < CLASSES - 1 && (act[j] as number) > (bounds[k] as number)) k++;
      classOf[j] = k;
    }
  }
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let j = 0; j < n; j++) byClass[classOf[j] as number]?.push(indices[j] as number);
  const needsGlobal = classes === 1 || byClass.some((c) => c.length < 100);
  return rasters.map((raster, r) => {
    const all = new Float64Array(byClass.flat()).map((i) => magnitudeOf(raster, i));
    const floor = floors[r] ?? 0;
    const global = needsGlobal
      ? Math.max(floor, quantileOfMagnitudes(all, n, 0.95) * DETECTION.q95ToSigma)
      : Number.NaN;
    const sigmas = new Float64Array(classes);
    let running = floor;
    for (let k = 0; k < classes; k++) {
      const bucket = new Float64Array(byClass[k] as number[]).map((i) => magnitudeOf(raster, i));
      const sigma =
        classes > 1 && bucket.length >= 100
          ? quantileOfMagnitudes(bucket, bucket.length, 0.95) * DETECTION.q95ToSigma
          : global;
      running = Math.max(running, classes === 1 ? global : sigma);
      sigmas[k] = running;
    }
    return { bounds, sigmas };
  });
}

const bitsOf = (values: Float64Array) =>
  Array.from(values, (v) => (Object.is(v, -0) ? "-0" : String(v)));

describe("noise sigmas per pattern-activity class (threshold.ts measureSigmas)", () => {
  const width = 360;
  const height = 330;
  const map = patternMap(width, height, 21);
  const score = residualRaster(width * height, 22);
  const residual = residualRaster(width * height, 23);
  // A ring zone of its own near the disk's rim, as the die-to-die stage marks it.
  const region = { cx: 180.4, cy: 164.7, r: 150.3 };
  const ringMask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (Math.hypot(x - region.cx, y - region.cy) > region.r - 30) ringMask[y * width + x] = 1;
  const lattice = { x: 23.2, y: 0.4 };
  const cases = [
    { label: "bare (one class)", latticeA: null, mask: undefined, zone: 1 },
    { label: "patterned, whole disk", latticeA: lattice, mask: undefined, zone: 1 },
    { label: "patterned, interior zone", latticeA: lattice, mask: ringMask, zone: 0 },
    { label: "patterned, ring zone", latticeA: lattice, mask: ringMask, zone: 1 },
    {
      label: "patterned, small disk (sparse classes)",
      latticeA: lattice,
      mask: undefined,
      zone: 1,
    },
  ];
  it("gives a one-class call the plain version's sigmas right after a call of six classes (kept arrays)", () => {
    // measureSigmas keeps its per-sample arrays between calls: the classes a patterned call
    // left there must not leak into a bare one (every sample is class 0 there).
    for (const round of [0, 1]) {
      measureSigmas([score, residual], [0.5, 0.1], map, region, lattice);
      const got = measureSigmas([score, residual], [0, 0], map, region, null);
      const want = plainMeasureSigmas([score, residual], [0, 0], map, region, null);
      for (const [r, model] of got.entries())
        assert.deepEqual(
          bitsOf(model.sigmas),
          bitsOf((want[r] as { sigmas: Float64Array }).sigmas),
          `round ${round}, raster ${r}`,
        );
    }
  });

  it("gives the same sigmas with an activity map of some rows only (the rest read through range3x3)", () => {
    const other = patternMap(width, height, 98);
    for (const rows of [
      { first: 120, end: 200 },
      { first: -50, end: 40 },
      { first: 300, end: 900 },
    ]) {
      activityMap(other);
      const partial = activityMap(map, rows);
      assert.ok(partial, "the kernel's activity map is taken");
      const got = measureSigmas(
        [score, residual],
        [0.5, 0.1],
        map,
        region,
        lattice,
        ringMask,
        0,
        partial,
      );
      const want = plainMeasureSigmas(
        [score, residual],
        [0.5, 0.1],
        map,
        region,
        lattice,
        ringMask,
        0,
        null,
      );
      for (const [r, model] of got.entries()) {
        assert.deepEqual(
          bitsOf(model.bounds),
          bitsOf((want[r] as { bounds: Float64Array }).bounds),
        );
        assert.deepEqual(
          bitsOf(model.sigmas),
          bitsOf((want[r] as { sigmas: Float64Array }).sigmas),
        );
      }
    }
  });

  for (const c of cases) {
    for (const withMap of [false, true]) {
      it(`gives the plain version's bounds and sigmas to the last bit (${c.label}${withMap ? ", activity map" : ""})`, () => {
        const activity = withMap && c.latticeA ? activityMap(map) : null;
        if (withMap && c.latticeA) assert.ok(activity, "the kernel's activity map is taken");
        const disk = c.label.includes("small") ? { cx: 100.5, cy: 90.2, r: 41.7 } : region;
        const floors = [0.5, 0.1];
        // Twice: the second call reuses the sample arrays the first one grew.
        for (let round = 0; round < 2; round++) {
          const got = measureSigmas(
            [score, residual],
            floors,
            map,
            disk,
            c.latticeA,
            c.mask,
            c.zone,
            activity,
          );
          const want = plainMeasureSigmas(
            [score, residual],
            floors,
            map,
            disk,
            c.latticeA,
            c.mask,
            c.zone,
            activity,
          );
          assert.equal(got.length, 2);
          for (const [r, model] of got.entries()) {
            assert.deepEqual(
              bitsOf(model.bounds),
              bitsOf((want[r] as { bounds: Float64Array }).bounds),
            );
            assert.deepEqual(
              bitsOf(model.sigmas),
              bitsOf((want[r] as { sigmas: Float64Array }).sigmas),
            );
          }
        }
      });
    }
  }

  it("gathers two rasters in one pass as one at a time does: with the ring's noise gains, and for one or three rasters (branch speed12)", () => {
    // The ring zone divides each sample by its pixel's gain (0 counts as 1); the pair of rasters
    // is gathered in one pass, any other count one raster at a time.
    const random = seededRandom(24);
    const gain = {
      values: Uint8Array.from({ length: width * height }, () => Math.floor(random() * 90)),
      unit: 16,
    };
    const third = residualRaster(width * height, 25);
    const activity = activityMap(map);
    // Every case through the pair's pass; one raster and three go through the single pass, whose
    // samples, slots and classes come from the same code before it: there a one-class case and
    // a masked six-class one (the small disk's label is not used here: it is the whole disk).
    const bare = cases[0] as (typeof cases)[number];
    const ring = cases.find((c) => c.label === "patterned, ring zone") as (typeof cases)[number];
    const sets: Array<[Float32Array[], Array<(typeof cases)[number]>]> = [
      [[score, residual], cases.filter((c) => !c.label.includes("small"))],
      [[residual], [bare, ring]],
      [
        [score, residual, third],
        [bare, ring],
      ],
    ];
    for (const withGain of [null, gain]) {
      for (const [rasters, casesOfSet] of sets) {
        for (const c of casesOfSet) {
          const floors = [0.5, 0.1, 0.2];
          const got = measureSigmas(
            rasters,
            floors,
            map,
            region,
            c.latticeA,
            c.mask,
            c.zone,
            activity,
            withGain,
          );
          const want = plainMeasureSigmas(
            rasters,
            floors,
            map,
            region,
            c.latticeA,
            c.mask,
            c.zone,
            activity,
            withGain,
          );
          const what = `${c.label}, ${rasters.length} rasters${withGain ? ", gains" : ""}`;
          assert.equal(got.length, rasters.length, what);
          for (const [r, model] of got.entries()) {
            const expected = want[r] as { bounds: Float64Array; sigmas: Float64Array };
            assert.deepEqual(bitsOf(model.bounds), bitsOf(expected.bounds), what);
            assert.deepEqual(bitsOf(model.sigmas), bitsOf(expected.sigmas), `${what}, raster ${r}`);
          }
        }
      }
    }
  });

  it("reads the activity and class sigma the model's functions give (activityReader, classSigmaReader)", () => {
    const [model] = measureSigmas(
      [score],
      [0],
      map,
      region,
      lattice,
      undefined,
      1,
      activityMap(map),
    );
    assert.ok(model && model.sigmas.length === DETECTION.activityClasses);
    const withoutMap: PatternAwareSigma = { ...model, activity: null };
    const other = patternMap(width, height, 99);
    // Taken just before each use: every map is a view of the same kernel memory.
    const variants: Array<() => PatternAwareSigma> = [
      () => ({ ...model, activity: activityMap(map) }),
      () => withoutMap,
      () => {
        // Rows outside the range hold another map's ranges (as in a detection, where the
        // die-to-die stage's smoothed map lies there): they must not be read.
        activityMap(other);
        return { ...model, activity: activityMap(map, { first: 90, end: 170 }) };
      },
    ];
    for (const variant of variants) {
      const m = variant();
      const activityAt = activityReader(m);
      const sigmaOf = classSigmaReader(m);
      for (let i = 0; i < width * height; i += 7) {
        const a = patternActivity(m, i);
        // The same value whether read from the map (whole or some rows) or through range3x3.
        assert.ok(Object.is(a, patternActivity(withoutMap, i)), `map against range3x3 at ${i}`);
        assert.ok(Object.is(activityAt(i), a), `activity at ${i}`);
        assert.ok(Object.is(sigmaOf(a), sigmaOfActivity(m, a)), `sigma at ${i}`);
      }
    }
    const single: PatternAwareSigma = {
      ...model,
      sigmas: Float64Array.of(2.5),
      neighbourOffset: 0,
    };
    assert.equal(activityReader(single)(5000), 0);
    assert.equal(classSigmaReader(single)(1e9), 2.5);
    // Counted classes (rising bounds) and the loop (any other bounds) give sigmaOfActivity's
    // sigma for activities on, between and past the bounds, NaN and infinities included.
    const sigmas = Float64Array.of(1, 2, 3, 4, 5, 6);
    const boundSets = [
      [1, 2, 3, 4, 5, Number.POSITIVE_INFINITY],
      [0, 0, 2, 2, 2, 9],
      [-0, 0, 0.5, 0.5, 7, 7],
      [3, 2, 1, 4, 5, 6],
      [1, Number.NaN, 3, 4, 5, 6],
      [1, 2, 3, 4, Number.NaN, 6],
      [1, 2, 3, 4, 5, Number.NaN],
    ];
    const activities = [-1, -0, 0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 1e9];
    activities.push(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
    for (const set of boundSets) {
      const m: PatternAwareSigma = { ...model, bounds: Float64Array.from(set), sigmas };
      const sigmaOf = classSigmaReader(m);
      for (const a of activities)
        assert.ok(Object.is(sigmaOf(a), sigmaOfActivity(m, a)), `bounds ${set} activity ${a}`);
    }
  });

  it("measures both zones from one walk with the two calls' models to the last bit (measureSigmasOfZones)", () => {
    // Gains as the rim ring's pixels carry them (several kinds of reference), and a mask value
    // of neither zone (2) on some pixels: it must stay out of both.
    const random = seededRandom(31);
    const gains = new Uint8Array(width * height);
    for (let i = 0; i < gains.length; i++) gains[i] = 16 + Math.floor(random() * 40);
    const mask = ringMask.slice();
    for (let i = 0; i < mask.length; i += 97) mask[i] = 2;
    const gain = { values: gains, unit: 16 };
    const activity = activityMap(map);
    const small = { cx: 100.5, cy: 90.2, r: 41.7 };
    for (const [label, latticeA, disk, act] of [
      ["patterned", lattice, region, activity],
      ["patterned, no activity map", lattice, region, null],
      ["bare", null, region, null],
      ["small disk (sparse classes)", lattice, small, activity],
    ] as const) {
      for (let round = 0; round < 2; round++) {
        const [inside, outside] = measureSigmasOfZones(
          [score, residual],
          [0.5, 0.1],
          map,
          disk,
          latticeA,
          mask,
          act,
          gain,
        );
        const wantInside = measureSigmas(
          [score, residual],
          [0.5, 0.1],
          map,
          disk,
          latticeA,
          mask,
          0,
          act,
        );
        const wantOutside = measureSigmas(
          [score, residual],
          [0.5, 0.1],
          map,
          disk,
          latticeA,
          mask,
          1,
          act,
          gain,
        );
        for (const [got, want, zone] of [
          [inside, wantInside, "interior"],
          [outside, wantOutside, "ring"],
        ] as const) {
          assert.equal(got.length, 2);
          for (const [r, model] of got.entries()) {
            const w = want[r] as PatternAwareSigma;
            const where = `${label}, ${zone}, raster ${r}, round ${round}`;
            assert.deepEqual(bitsOf(model.bounds), bitsOf(w.bounds), where);
            assert.deepEqual(bitsOf(model.sigmas), bitsOf(w.sigmas), where);
            assert.equal(model.neighbourOffset, w.neighbourOffset, where);
          }
        }
        // The ring's noise differs from the interior's here (its samples are divided by their gains).
        assert.notDeepEqual(
          bitsOf(inside[0]?.sigmas as Float64Array),
          bitsOf(outside[0]?.sigmas as Float64Array),
        );
      }
    }
  });
});

/** scoreTailFactor as it was before (the arc tangent for every sample, a fresh array per sector). */
function plainScoreTailFactor(
  score: Float32Array,
  width: number,
  region: { cx: number; cy: number; r: number },
  sigmaAt: (i: number) => number,
): number {
  const { rings, angles, step } = DETECTION.scoreTailSectors;
  const { cx, cy, r } = region;
  const buckets: number[][] = Array.from({ length: rings * angles }, () => []);
  for (let y = Math.max(1, Math.ceil(cy - r)); y <= Math.floor(cy + r); y += step) {
    for (
      let x = Math.max(1, Math.ceil(cx - r));
      x <= Math.min(width - 2, Math.floor(cx + r));
      x += step
    ) {
      const dx = x - cx;
      const dy = y - cy;
      const d2 = dx * dx + dy * dy;
      if (d2 >= r * r) continue;
      const ring = Math.min(rings - 1, Math.floor((d2 / (r * r)) * rings));
      const angle = Math.min(
        angles - 1,
        Math.floor(((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI)) * angles),
      );
      const i = y * width + x;
      const sigma = sigmaAt(i);
      buckets[ring * angles + angle]?.push(sigma > 0 ? Math.abs(score[i] as number) / sigma : 0);
    }
  }
  const tails = buckets
    .filter((b) => b.length >= 1000)
    .map((b) => quantileOfMagnitudes(Float64Array.from(b), b.length, DETECTION.pixelTailQuantile));
  if (tails.length < (rings * angles) / 2) return 1;
  tails.sort((a, b) => a - b);
  return Math.max(
    1,
    (tails[Math.floor(tails.length / 2)] as number) / DETECTION.pixelTailGaussianSigmas,
  );
}

describe("score tail per disk sector (score-tail.ts scoreTailFactor)", () => {
  it("puts every (dx, dy) in the quadrant the arc tangent formula gives, on and near the axes too", () => {
    const random = seededRandom(31);
    const special = [0, -0, 1e-300, -1e-300, 5e-324, 1e-7, -1e-7, 1e-6, 0.5, 1, 400, -400, 1e300];
    const values = [...special, ...Array.from({ length: 400 }, () => (random() - 0.5) * 900)];
    for (const dx of values)
      for (const dy of values)
        assert.equal(quadrantOf(dx, dy), angleSector(dx, dy, 4), `dx ${dx}, dy ${dy}`);
    // Near an axis at every scale: the ratio on both sides of the 1e-6 cut.
    for (let e = -12; e <= 3; e++) {
      for (const ratio of [0.5e-6, 0.999e-6, 1e-6, 1.001e-6, 2e-6]) {
        const big = 10 ** e;
        for (const [dx, dy] of [
          [big, ratio * big],
          [-big, ratio * big],
          [big, -ratio * big],
          [-big, -ratio * big],
          [ratio * big, big],
          [-ratio * big, -big],
        ] as const)
          assert.equal(quadrantOf(dx, dy), angleSector(dx, dy, 4), `dx ${dx}, dy ${dy}`);
      }
    }
  });

  // Sectors need 1000 samples each at a step of 4: a disk of r >= 290 px.
  const width = 660;
  const height = 640;
  const score = residualRaster(width * height, 41);
  const sigmaAt = (i: number) => (i % 5 === 0 ? 0 : 1 + (i % 7) * 0.3);
  for (const region of [
    { cx: 330.37, cy: 319.81, r: 310.6 },
    { cx: 330, cy: 320, r: 310 }, // centre on a sample: dx = 0 and dy = 0 columns and rows
    { cx: 300.5, cy: 280.5, r: 340.2 }, // clipped by the frame
    { cx: 50.2, cy: 60.1, r: 30.4 }, // too few samples per sector: factor 1
  ]) {
    it(`gives the plain version's factor to the last bit (centre ${region.cx}, ${region.cy}, r ${region.r})`, () => {
      const want = plainScoreTailFactor(score, width, region, sigmaAt);
      // The heavy tail is measured (not the factor of 1 that too few samples give).
      if (region.r > 300) assert.ok(want > 1.5, `factor ${want}`);
      for (let round = 0; round < 2; round++) {
        const got = scoreTailFactor(score, width, region, sigmaAt);
        assert.ok(Object.is(got, want), `round ${round}: ${got} against ${want}`);
      }
      assert.ok(height > 2 * region.r || region.r > 300 || region.r < 40);
    });
  }
});

/** hysteresisBlobs as it was before (every pixel's visited flag read first, a fresh visited map). */
function plainHysteresisBlobs(
  score: Float32Array,
  width: number,
  height: number,
  region: { cx: number; cy: number; r: number },
  thresholds: Thresholds,
): Blob[] {
  const visited = new Uint8Array(width * height);
  const blobs: Blob[] = [];
  const { cx, cy, r } = region;
  const inside = (x: number, y: number) => (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
  const alt = thresholds.pixelSeed;
  for (let y = Math.max(1, Math.ceil(cy - r)); y < Math.min(height - 1, cy + r); y++) {
    for (let x = Math.max(1, Math.ceil(cx - r)); x < Math.min(width - 1, cx + r); x++) {
      if (!inside(x, y)) continue;
      const seed = y * width + x;
      if (visited[seed]) continue;
      const sv = score[seed] as number;
      let sign: 1 | -1;
      let minPixels = 1;
      if (Math.abs(sv) >= thresholds.minHigh && Math.abs(sv) >= thresholds.high(seed)) {
        sign = sv > 0 ? 1 : -1;
      } else {
        if (!alt) continue;
        const rv = alt.residual[seed] as number;
        if (!(Math.abs(rv) >= alt.min && Math.abs(rv) >= alt.high(seed))) continue;
        sign = rv > 0 ? 1 : -1;
        minPixels = alt.minPixels;
      }
      const pixels: number[] = [seed];
      visited[seed] = 1;
      for (let next = 0; next < pixels.length; next++) {
        const p = pixels[next] as number;
        const px = p % width;
        const py = (p - px) / width;
        for (let ny = py - 1; ny <= py + 1; ny++) {
          if (ny < 0 || ny >= height) continue;
          for (let nx = px - 1; nx <= px + 1; nx++) {
            if (nx < 0 || nx >= width) continue;
            const q = ny * width + nx;
            if (visited[q]) continue;
            const sq = (score[q] as number) * sign;
            if (sq < thresholds.minLow || !inside(nx, ny) || sq < thresholds.low(q)) continue;
            visited[q] = 1;
            pixels.push(q);
          }
        }
      }
      if (pixels.length < minPixels) continue;
      blobs.push({ pixels: Int32Array.from(pixels), sign });
    }
  }
  return blobs;
}

describe("segmentation scan (segment.ts hysteresisBlobs)", () => {
  const width = 300;
  const height = 280;
  const random = seededRandom(51);
  // Noise with planted spots of both signs, some reaching only the pixel seed, some NaN.
  const score = new Float32Array(width * height);
  const residual = new Float32Array(width * height);
  for (let i = 0; i < score.length; i++) {
    score[i] = (random() - 0.5) * 3;
    residual[i] = (random() - 0.5) * 4;
  }
  for (let k = 0; k < 60; k++) {
    const x0 = Math.floor(random() * width);
    const y0 = Math.floor(random() * height);
    const sign = random() < 0.5 ? -1 : 1;
    const radius = 1 + Math.floor(random() * 4);
    for (let y = y0 - radius; y <= y0 + radius; y++)
      for (let x = x0 - radius; x <= x0 + radius; x++)
        if (x >= 0 && y >= 0 && x < width && y < height)
          score[y * width + x] = sign * (2 + 6 * random());
    if (k % 3 === 0) residual[y0 * width + x0] = sign * 20;
  }
  // Spots only the pixel seed finds: a residual spike of either sign on a score under the seed
  // threshold but over the grow threshold.
  for (let k = 0; k < 30; k++) {
    const x0 = 10 + Math.floor(random() * (width - 20));
    const y0 = 10 + Math.floor(random() * (height - 20));
    const sign = k % 2 ? -1 : 1;
    for (let y = y0 - 1; y <= y0 + 1; y++)
      for (let x = x0 - 1; x <= x0 + 1; x++) score[y * width + x] = sign * 2.5;
    residual[y0 * width + x0] = sign * 20;
  }
  score[150 * width + 150] = Number.NaN;
  residual[151 * width + 151] = Number.NaN;
  const high = (i: number) => 3 + (i % 11) * 0.2;
  const low = (i: number) => 1.2 + (i % 5) * 0.1;
  const seeds: Thresholds = {
    minHigh: 3,
    minLow: 1.2,
    high,
    low,
    pixelSeed: { residual, min: 8, high: (i) => 8 + (i % 3), minPixels: 2 },
  };
  const { pixelSeed: _alt, ...withoutPixelSeed } = seeds;
  for (const [label, thresholds] of [
    ["with the pixel seed", seeds],
    ["score seeds only", withoutPixelSeed],
  ] as Array<[string, Thresholds]>) {
    for (const region of [
      { cx: 150.3, cy: 139.6, r: 120.2 },
      { cx: 149.5, cy: 140.5, r: 400 }, // the whole frame
      { cx: 20, cy: 20, r: 0.4 },
    ]) {
      it(`finds the plain version's blobs, pixel for pixel (${label}, r ${region.r})`, () => {
        const want = plainHysteresisBlobs(score, width, height, region, thresholds);
        for (let round = 0; round < 2; round++) {
          const got = hysteresisBlobs(score, width, height, region, thresholds);
          assert.deepEqual(
            got.map((b) => [b.sign, Array.from(b.pixels)]),
            want.map((b) => [b.sign, Array.from(b.pixels)]),
          );
        }
        if (region.r > 100) assert.ok(want.length > 10, "the raster has blobs");
        // Both signs seeded by the pixel seed alone (blobs of under 3 x 3 at +-2.5 do not reach the score seed).
        if (region.r > 100 && thresholds.pixelSeed) {
          const pixelSeeded = want.filter((b) =>
            Array.from(b.pixels).every((p) => Math.abs(score[p] as number) < 3),
          );
          assert.ok(pixelSeeded.some((b) => b.sign > 0) && pixelSeeded.some((b) => b.sign < 0));
        }
      });
    }
  }
});

describe("mask counts that stop early (stages/thresholds.ts countOnes)", () => {
  it("answers 'at least n' as the full count does, and counts exactly below n", () => {
    const random = seededRandom(61);
    const mask = Uint8Array.from({ length: 50_003 }, () => (random() < 0.3 ? 1 : 0));
    const full = mask.reduce((sum, v) => sum + v, 0);
    for (const enough of [0, 1, 100, full - 1, full, full + 1, 10 ** 9]) {
      for (const view of [mask, mask.subarray(1)]) {
        const plain = view.reduce((sum, v) => sum + v, 0);
        const got = countOnes(view, enough);
        assert.equal(got >= enough, plain >= enough, `enough ${enough}`);
        if (plain < enough) assert.equal(got, plain);
      }
    }
    assert.equal(countOnes(mask), full);
  });
});

describe("exact order statistics stay what the rewrites lean on (select.ts)", () => {
  it("never reorders the values it selects from", () => {
    const values = Float64Array.from(residualRaster(40_000, 71), Math.abs);
    const copy = values.slice();
    selectRanksOfMagnitudes(values, values.length, [100, 20_000, 39_000]);
    assert.deepEqual(values, copy);
  });
});

describe("score tail reading the thresholds' sample-grid activities (measureSigmasOfZones, scoreTailFactor)", () => {
  // A disk of r 470 (the 2048 px wafer's map): the noise walk's step (r / 110) is the score
  // tail's (4), so the tail can read the activities the walk took.
  const width = 1000;
  const height = 960;
  const map = patternMap(width, height, 51);
  const score = residualRaster(width * height, 52);
  const residual = residualRaster(width * height, 53);
  const lattice = { x: 23.2, y: 1.6 };
  const random = seededRandom(54);
  const gains = new Uint8Array(width * height);
  for (let i = 0; i < gains.length; i++) gains[i] = 16 + Math.floor(random() * 40);
  const gain = { values: gains, unit: 16 };
  const ringOf = (region: { cx: number; cy: number; r: number }) => {
    const mask = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        if (Math.hypot(x - region.cx, y - region.cy) > region.r - 60) mask[y * width + x] = 1;
    for (let i = 0; i < mask.length; i += 97) mask[i] = 2;
    return mask;
  };
  for (const [label, region, withMap] of [
    ["step 4, activity map", { cx: 500.3, cy: 478.6, r: 470.2 }, true],
    ["step 4, no activity map", { cx: 499, cy: 480, r: 455 }, false],
    ["step 3 (the tail reads the map itself)", { cx: 500.3, cy: 478.6, r: 435.7 }, true],
  ] as const) {
    it(`gives the same grid activities, models and tail factor to the last bit (${label})`, () => {
      const mask = ringOf(region);
      const activity = withMap ? activityMap(map) : null;
      const [inside, outside, grid] = measureSigmasOfZones(
        [score, residual],
        [0.5, 0.1],
        map,
        region,
        lattice,
        mask,
        activity,
        gain,
      );
      const interior = inside[0] as PatternAwareSigma;
      const edge = outside[0] as PatternAwareSigma;
      // The models are the two calls' (the walk's activities stand in for sigmasOfSamples' own).
      const wantInside = measureSigmas(
        [score, residual],
        [0.5, 0.1],
        map,
        region,
        lattice,
        mask,
        0,
        activity,
      );
      const wantOutside = measureSigmas(
        [score, residual],
        [0.5, 0.1],
        map,
        region,
        lattice,
        mask,
        1,
        activity,
        gain,
      );
      for (const [got, want] of [
        [inside, wantInside],
        [outside, wantOutside],
      ] as const)
        for (const [r, model] of got.entries()) {
          assert.deepEqual(bitsOf(model.bounds), bitsOf((want[r] as PatternAwareSigma).bounds));
          assert.deepEqual(bitsOf(model.sigmas), bitsOf((want[r] as PatternAwareSigma).sigmas));
        }
      assert.ok(grid);
      // Every cell the walk sampled holds patternActivity of its pixel; the others are NaN.
      let sampled = 0;
      for (let row = 0; row < grid.rows; row++)
        for (let column = 0; column < grid.columns; column++) {
          const a = grid.activity[row * grid.columns + column] as number;
          const x: number = grid.x0 + column * grid.step;
          const y: number = grid.y0 + row * grid.step;
          const onDisk: boolean = (x - region.cx) ** 2 + (y - region.cy) ** 2 < region.r ** 2;
          assert.equal(Number.isNaN(a), !onDisk, `cell ${column}, ${row}`);
          if (!onDisk) continue;
          sampled++;
          assert.ok(
            Object.is(a, patternActivity(interior, y * width + x)),
            `cell ${column}, ${row}`,
          );
        }
      assert.ok(sampled > 20_000);
      // The zoned sigma as the thresholds build it, from an activity and from the map.
      const interiorSigma = classSigmaReader(interior);
      const edgeSigma = classSigmaReader(edge);
      const sigmaOf = (i: number, a: number) =>
        mask[i]
          ? ((gains[i] as number) / 16) * Math.max(edgeSigma(a), interiorSigma(a))
          : interiorSigma(a);
      let mapReads = 0;
      const sigmaAt = (i: number) => {
        mapReads++;
        return sigmaOf(i, patternActivity(interior, i));
      };
      // A few blobs left out, as segmentation's would be.
      const notNoise = [
        Int32Array.from(
          { length: 400 },
          (_, k) => (300 + (k % 20)) * width + 400 + Math.floor(k / 20),
        ),
      ];
      const want = scoreTailFactor(score, width, region, sigmaAt, notNoise);
      const plainReads = mapReads;
      mapReads = 0;
      const got = scoreTailFactor(score, width, region, sigmaAt, notNoise, grid, sigmaOf);
      assert.ok(want > 1.2, `factor ${want}`);
      assert.ok(Object.is(got, want), `${got} against ${want}`);
      // On a grid of the tail's step no sample reads the map; on another every one does.
      if (grid.step === DETECTION.scoreTailSectors.step) assert.equal(mapReads, 0);
      else assert.equal(mapReads, plainReads);
    });
  }
});
