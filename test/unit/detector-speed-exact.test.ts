// The detector's faster code (die-to-die, noise, smoothing, illumination fit) gives exactly the numbers of the plain versions written out here: speed work must not move a detection.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { fitSmoothBackground, solveLinear } from "../../endpoint/detector/background.ts";
import { dieToDieResidual } from "../../endpoint/detector/die-to-die.ts";
import { pairMisregistrationShare } from "../../endpoint/detector/die-to-die-allowance.ts";
import { estimateDieDifferenceNoise, estimateNoiseSigma } from "../../endpoint/detector/noise.ts";
import { binomialBlur3, quantileInPlace } from "../../endpoint/detector/raster.ts";
import { quantileOfMagnitudes } from "../../endpoint/detector/select.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

interface Region {
  cx: number;
  cy: number;
  r: number;
}
interface Vec {
  x: number;
  y: number;
}

/**
 * The die-difference noise estimate as first written (closures, lists, a per-sample rounding
 * of every reference): the reference the tabled version must match to the last bit.
 */
function plainDieDifferenceNoise(
  data: Float32Array,
  width: number,
  height: number,
  region: Region,
  a: Vec,
  b: Vec,
  maxSamples = 100_000,
): number {
  const lag = DETECTION.dieDifferenceLagPx;
  const step = Math.max(1, Math.round(Math.sqrt((Math.PI * region.r * region.r) / maxSamples)));
  const reach = Math.hypot(a.x, a.y) + Math.hypot(b.x, b.y) + 2 + lag;
  const inner = region.r - reach;
  if (inner <= 4) return 0;
  /** The nearest pixel to (x, y), then `shift` columns on. */
  const sample = (x: number, y: number, shift = 0): number =>
    data[Math.round(y) * width + Math.round(x) + shift] as number;
  const localRange = (x: number, y: number, shift: number): number => {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const v = sample(x + dx, y + dy, shift);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return hi - lo;
  };
  const pairDifference = (x: number, y: number, shift: number): number =>
    (data[y * width + x + shift] as number) -
    0.5 * (sample(x + a.x, y + a.y, shift) + sample(x - a.x, y - a.y, shift));
  const diffs: number[] = [];
  const ranges: number[] = [];
  for (let y = Math.ceil(region.cy - inner); y <= region.cy + inner; y += step) {
    if (y < 2 || y >= height - 2) continue;
    for (let x = Math.ceil(region.cx - inner); x <= region.cx + inner; x += step) {
      if (x < 2 || x >= width - 2 - lag) continue;
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 > inner * inner) continue;
      diffs.push(pairDifference(x, y, 0) - pairDifference(x, y, lag));
      const rangeAt = (shift: number) =>
        Math.min(localRange(x + b.x, y + b.y, shift), localRange(x - b.x, y - b.y, shift));
      ranges.push(Math.max(rangeAt(0), rangeAt(lag)));
    }
  }
  const n = diffs.length;
  if (n < 64) return 0;
  const abs = new Float64Array(diffs).map(Math.abs);
  const gain = Math.sqrt(1.5) * Math.SQRT2;
  const first = (1.4826 * quantileInPlace(abs, n, 0.5)) / gain;
  const gate = 5 * first;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((ranges[i] as number) <= gate) abs[m++] = Math.abs(diffs[i] as number);
  }
  if (m < 0.2 * n) return first;
  return (1.4826 * quantileInPlace(abs, m, 0.5)) / gain;
}

/**
 * A die grid with a sharp motif (so the gate matters), a level gradient, a few bright spots and
 * Gaussian noise; integer-valued when `integer` (ties in the medians, as 8-bit data has).
 */
function patternedRaster(
  width: number,
  height: number,
  a: Vec,
  b: Vec,
  seed: number,
  integer: boolean,
): Float32Array {
  const random = seededRandom(seed);
  const det = a.x * b.y - a.y * b.x;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (x * b.y - y * b.x) / det;
      const t = (a.x * y - a.y * x) / det;
      const u = s - Math.floor(s);
      const v = t - Math.floor(t);
      const motif = u > 0.3 && u < 0.6 && v > 0.2 && v < 0.7 ? 180 : u < 0.08 || v < 0.08 ? -90 : 0;
      const noise = 6 * standardNormal(random);
      const value = 900 + 0.2 * x - 0.1 * y + motif + noise + (random() < 0.001 ? 400 : 0);
      data[y * width + x] = integer ? Math.round(value) : value;
    }
  }
  return data;
}

/** Lattice vectors with fractions of every kind, including exact halves (rounding ties). */
const LATTICES: Array<{ a: Vec; b: Vec }> = [
  { a: { x: 24, y: 0 }, b: { x: 0, y: 24 } },
  { a: { x: 23.5, y: 0.5 }, b: { x: -0.5, y: 19.5 } },
  { a: { x: -46.75, y: 12.72 }, b: { x: 11.17, y: 41.29 } },
  { a: { x: 31.337, y: -2.5 }, b: { x: 1.4999999, y: 27.0000001 } },
];

describe("die-difference noise estimate", () => {
  const regions: Region[] = [
    { cx: 200, cy: 190, r: 180 },
    { cx: 199.5, cy: 201.25, r: 187.3 },
    // A disk touching the frame's edges.
    { cx: 205, cy: 197, r: 196 },
  ];
  // Each lattice once, integer data (ties in the medians) on two of them and float on the other
  // two: the shift tables depend on the lattice only, the medians' ties on the data only.
  for (const [k, lattice] of LATTICES.entries()) {
    for (const integer of [k % 2 === 1]) {
      it(`matches the plain version exactly (lattice ${k}, ${integer ? "integer" : "float"} data)`, () => {
        const width = 410;
        const height = 395;
        const data = patternedRaster(width, height, lattice.a, lattice.b, 31 + k, integer);
        for (const region of regions) {
          for (const maxSamples of [100_000, 7_000]) {
            const expected = plainDieDifferenceNoise(
              data,
              width,
              height,
              region,
              lattice.a,
              lattice.b,
              maxSamples,
            );
            const actual = estimateDieDifferenceNoise(
              data,
              width,
              height,
              region,
              lattice.a,
              lattice.b,
              maxSamples,
            );
            assert.ok(expected > 0, "the plain version measured a sigma");
            assert.ok(Object.is(actual, expected), `${actual} vs ${expected}`);
          }
        }
      });
    }
  }

  it("returns 0 where the disk leaves no room for the references", () => {
    const data = new Float32Array(100 * 100);
    const region = { cx: 50, cy: 50, r: 30 };
    assert.equal(
      estimateDieDifferenceNoise(data, 100, 100, region, { x: 14, y: 0 }, { x: 0, y: 14 }),
      0,
    );
  });
});

/** Bilinear sample with the top-left pixel j, in the arithmetic order of the detector. */
function bilinear(data: Float32Array, width: number, j: number, fx: number, fy: number): number {
  const p00 = data[j] as number;
  const top = p00 + ((data[j + 1] as number) - p00) * fx;
  const p01 = data[j + width] as number;
  const bottom = p01 + ((data[j + width + 1] as number) - p01) * fx;
  return top + (bottom - top) * fy;
}

/** max - min of the 2x2 cell with top-left pixel j, as float32 (a stored map of it was). */
function cellRange(data: Float32Array, width: number, j: number): number {
  const values = [data[j], data[j + 1], data[j + width], data[j + width + 1]] as number[];
  return Math.fround(Math.max(...values) - Math.min(...values));
}

/**
 * The die-to-die residual pixel by pixel, straight from its definition: for each pixel, which
 * of the 8 neighbour samples (and the 8 two dies away) lie on the wafer; all 8 -> pair
 * averages in the interior's arithmetic order, else the rim's pair / extrapolation / single
 * reference. The fast version (runs, carried columns, a ring of cell ranges) must match it.
 */
function plainDieToDieResidual(
  data: Float32Array,
  width: number,
  height: number,
  a: Vec,
  b: Vec,
  region: Region,
  waferRadius: number,
  noiseSigma: number,
): { out: Float32Array; edgeMask: Uint8Array } {
  const share = DETECTION.misregistrationShare;
  const out = new Float32Array(width * height);
  const edgeMask = new Uint8Array(width * height);
  const dirs = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  const pairShares = dirs.map(pairMisregistrationShare);
  // A two-die extrapolation: the larger blur share f(1 - f) (per axis) of its two samples, at
  // d and 2d, plus half the sampling-phase share, capped at the fixed share.
  const blur = (x: number, y: number) =>
    (x - Math.floor(x)) * (1 - (x - Math.floor(x))) +
    (y - Math.floor(y)) * (1 - (y - Math.floor(y)));
  const extrapolationShares = dirs.map((d) =>
    Math.min(
      share,
      Math.max(blur(d.x, d.y), blur(2 * d.x, 2 * d.y)) + DETECTION.samplingPhaseShare / 2,
    ),
  );
  const shifts: Array<{ sx: number; sy: number }> = [];
  for (const d of dirs) {
    shifts.push({ sx: d.x, sy: d.y }, { sx: -d.x, sy: -d.y });
  }
  const validR = waferRadius - 1.5;
  const validR2 = validR * validR;
  const { cx, cy, r } = region;
  /** Index, fractions and whether the sample at (x, y) + times * shift lies on the wafer. */
  const tap = (x: number, y: number, k: number, times: 1 | 2) => {
    const sx = times * (shifts[k] as { sx: number }).sx;
    const sy = times * (shifts[k] as { sy: number }).sy;
    const ix = Math.floor(sx);
    const iy = Math.floor(sy);
    const qy = y + sy;
    const oy = qy - cy;
    const h2 = validR2 - oy * oy;
    let ok = !(h2 <= 0 || qy < 0 || qy >= height - 1);
    if (ok) {
      const h = Math.sqrt(h2);
      const lower = Math.max(Math.ceil(cx - h - sx + 1e-9), Math.ceil(-sx));
      const upper = Math.min(Math.floor(cx + h - sx - 1e-9), Math.floor(width - 2 - sx));
      ok = x >= lower && x <= upper;
    }
    return { j: y * width + x + iy * width + ix, fx: sx - ix, fy: sy - iy, ok };
  };
  for (let y = Math.max(0, Math.ceil(cy - r)); y <= Math.min(height - 1, Math.floor(cy + r)); y++) {
    const half = Math.sqrt(Math.max(0, r * r - (y - cy) * (y - cy)));
    for (
      let x = Math.max(0, Math.ceil(cx - half));
      x <= Math.min(width - 1, Math.floor(cx + half));
      x++
    ) {
      const i = y * width + x;
      const v = data[i] as number;
      const one = shifts.map((_, k) => tap(x, y, k, 1));
      if (one.every((t) => t.ok)) {
        const e: number[] = [];
        for (let d = 0; d < 4; d++) {
          const p = one[2 * d] as ReturnType<typeof tap>;
          const m = one[2 * d + 1] as ReturnType<typeof tap>;
          const aTop =
            (data[p.j] as number) + ((data[p.j + 1] as number) - (data[p.j] as number)) * p.fx;
          const aBottom =
            (data[p.j + width] as number) +
            ((data[p.j + width + 1] as number) - (data[p.j + width] as number)) * p.fx;
          const bTop =
            (data[m.j] as number) + ((data[m.j + 1] as number) - (data[m.j] as number)) * m.fx;
          const bBottom =
            (data[m.j + width] as number) +
            ((data[m.j + width + 1] as number) - (data[m.j + width] as number)) * m.fx;
          const ref = 0.5 * (aTop + (aBottom - aTop) * p.fy + bTop + (bBottom - bTop) * m.fy);
          const allowance = Math.max(
            0,
            (pairShares[d] as number) *
              Math.max(cellRange(data, width, p.j), cellRange(data, width, m.j)) -
              noiseSigma,
          );
          const diff = v - ref;
          e.push(diff - Math.min(Math.max(diff, -allowance), allowance));
        }
        const [m0, m1, m2, m3] = e.map(Math.abs) as [number, number, number, number];
        const second = Math.min(
          Math.max(Math.min(m0, m1), Math.min(m2, m3)),
          Math.min(Math.max(m0, m1), Math.max(m2, m3)),
        );
        out[i] =
          Math.sign((e[0] as number) + (e[1] as number) + (e[2] as number) + (e[3] as number)) *
          second;
        continue;
      }
      edgeMask[i] = 1;
      // The rim ring (die-to-die-rim-ring.ts rimRingDirections): where pairs are left on the
      // wafer, the pairs and the first direction with a two-die extrapolation (else the first
      // with a single die); with no pair, every direction.
      const kinds = [0, 2, 4, 6].map((k) => {
        const plus = one[k] as ReturnType<typeof tap>;
        const minus = one[k + 1] as ReturnType<typeof tap>;
        if (plus.ok && minus.ok) return "pair";
        if (!plus.ok && !minus.ok) return "none";
        return tap(x, y, plus.ok ? k : k + 1, 2).ok ? "extrapolated" : "single";
      });
      const pairCount = kinds.filter((kind) => kind === "pair").length;
      const other = [kinds.indexOf("extrapolated"), kinds.indexOf("single")].find((d) => d >= 0);
      const kept = kinds.map((kind, d) => pairCount <= 1 || kind === "pair" || d === other);
      // Two pairs and a one-sided veto: the smallest of the three.
      const veto = pairCount === 2 && other !== undefined;
      let best = Number.POSITIVE_INFINITY;
      let bestSigned = 0;
      let second = Number.POSITIVE_INFINITY;
      let secondSigned = 0;
      let pairBest = Number.POSITIVE_INFINITY;
      let pairBestSigned = 0;
      let oneSided = { diff: 0, allowance: 0 };
      let n = 0;
      for (let k = 0; k < 8; k += 2) {
        if (!kept[k / 2]) continue;
        const plus = one[k] as ReturnType<typeof tap>;
        const minus = one[k + 1] as ReturnType<typeof tap>;
        let ref: number;
        let spread: number;
        // A pair forgives its direction's share, as inside; a two-die extrapolation its own,
        // a single die the fixed one.
        let kindShare: number = share;
        if (plus.ok && minus.ok) {
          kindShare = pairShares[k / 2] as number;
          ref =
            0.5 *
            (bilinear(data, width, plus.j, plus.fx, plus.fy) +
              bilinear(data, width, minus.j, minus.fx, minus.fy));
          spread = Math.max(cellRange(data, width, plus.j), cellRange(data, width, minus.j));
        } else if (plus.ok || minus.ok) {
          const slot = plus.ok ? k : k + 1;
          const near = one[slot] as ReturnType<typeof tap>;
          const far = tap(x, y, slot, 2);
          const nearValue = bilinear(data, width, near.j, near.fx, near.fy);
          if (far.ok) {
            ref = 2 * nearValue - bilinear(data, width, far.j, far.fx, far.fy);
            spread = 2 * cellRange(data, width, near.j) + cellRange(data, width, far.j);
            // ... where two or more pairs decide with it; else the fixed one.
            if (pairCount >= 2) kindShare = extrapolationShares[k / 2] as number;
          } else {
            ref = nearValue;
            spread = cellRange(data, width, near.j);
          }
        } else {
          continue;
        }
        const allowance = Math.max(0, kindShare * spread - noiseSigma);
        const diff = v - ref;
        const e = diff > allowance ? diff - allowance : diff < -allowance ? diff + allowance : 0;
        n++;
        const mag = Math.abs(e);
        if (plus.ok && minus.ok) {
          if (mag < pairBest) {
            pairBest = mag;
            pairBestSigned = e;
          }
        } else oneSided = { diff, allowance };
        if (mag < best) {
          second = best;
          secondSigned = bestSigned;
          best = mag;
          bestSigned = e;
        } else if (mag < second) {
          second = mag;
          secondSigned = e;
        }
      }
      // The veto abstains where its one-sided comparison allows both 0 and the pairs' value.
      if (
        veto &&
        Math.abs(oneSided.diff) <= oneSided.allowance &&
        Math.abs(oneSided.diff - pairBestSigned) <= oneSided.allowance
      )
        bestSigned = pairBestSigned;
      out[i] = n === 0 ? 0 : n >= 3 && !veto ? secondSigned : bestSigned;
    }
  }
  return { out, edgeMask };
}

const sameBits = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );

describe("die-to-die residual", () => {
  for (const [k, lattice] of LATTICES.entries()) {
    it(`matches the pixel-by-pixel definition bit for bit (lattice ${k})`, () => {
      const width = 300;
      const height = 290;
      const data = patternedRaster(width, height, lattice.a, lattice.b, 70 + k, k % 2 === 1);
      const region = { cx: 151.3, cy: 143.8, r: 135 };
      const expected = plainDieToDieResidual(
        data,
        width,
        height,
        lattice.a,
        lattice.b,
        region,
        139.5,
        4,
      );
      const out = new Float32Array(width * height).fill(7);
      const edgeMask = new Uint8Array(width * height).fill(3);
      dieToDieResidual(
        { width, height, scale: 1, data },
        lattice.a,
        lattice.b,
        region,
        139.5,
        4,
        out,
        edgeMask,
      );
      let interior = 0;
      for (const m of expected.edgeMask) interior += m === 0 ? 1 : 0;
      assert.ok(interior > 0.3 * width * height, `${interior} interior pixels`);
      assert.ok(sameBits(out, expected.out), "residual differs from the definition");
      assert.ok(sameBits(edgeMask, expected.edgeMask), "edge mask differs");
    });
  }
});

describe("binomial smoothing", () => {
  /** [1 2 1] x [1 2 1] / 16 per pixel with replicated edges, rows first, through float32 rows. */
  function plainBinomial(src: Float32Array, width: number, height: number): Float32Array {
    const rows = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const l = src[y * width + Math.max(0, x - 1)] as number;
        const r = src[y * width + Math.min(width - 1, x + 1)] as number;
        rows[y * width + x] = 0.25 * (l + r) + 0.5 * (src[y * width + x] as number);
      }
    }
    const out = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const u = rows[Math.max(0, y - 1) * width + x] as number;
        const d = rows[Math.min(height - 1, y + 1) * width + x] as number;
        out[y * width + x] = 0.25 * (u + d) + 0.5 * (rows[y * width + x] as number);
      }
    }
    return out;
  }

  for (const [width, height] of [
    [1, 1],
    [1, 5],
    [2, 3],
    [5, 1],
    [37, 29],
  ] as const) {
    it(`matches the per-pixel formula bit for bit on ${width} x ${height}`, () => {
      const random = seededRandom(width * 100 + height);
      const src = Float32Array.from({ length: width * height }, () => 1000 * random() - 300);
      const out = new Float32Array(width * height);
      binomialBlur3(src, width, height, out);
      assert.ok(sameBits(out, plainBinomial(src, width, height)));
    });
  }
});

/** The sensor-noise estimate as first written (a separate |Laplacian| array, quickselect). */
function plainNoiseSigma(
  data: Float32Array,
  width: number,
  height: number,
  region: Region,
  maxSamples = 200_000,
): number {
  const rows: number[] = [];
  const y0 = Math.max(1, Math.ceil(region.cy - region.r));
  const y1 = Math.min(height - 2, Math.floor(region.cy + region.r));
  const approxPixels = Math.PI * region.r * region.r;
  const rowStride = Math.max(1, Math.round(approxPixels / maxSamples));
  for (let y = y0; y <= y1; y += rowStride) rows.push(y);
  const lap = new Float32Array(Math.ceil(approxPixels / rowStride) + width * 2);
  const grad = new Float32Array(lap.length);
  let n = 0;
  for (const y of rows) {
    const dy = y - region.cy;
    const half = Math.sqrt(Math.max(0, region.r * region.r - dy * dy));
    const xa = Math.max(1, Math.ceil(region.cx - half));
    const xb = Math.min(width - 2, Math.floor(region.cx + half));
    for (let x = xa; x <= xb && n < lap.length; x++) {
      const i = y * width + x;
      const c = data[i] as number;
      const l = data[i - 1] as number;
      const r = data[i + 1] as number;
      const u = data[i - width] as number;
      const d = data[i + width] as number;
      lap[n] = c - 0.25 * (l + r + u + d);
      grad[n] = Math.max(Math.abs(r - l), Math.abs(d - u));
      n++;
    }
  }
  if (n < 16) return 0;
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(lap[i] as number);
  const first = (1.4826 * quantileInPlace(abs, n, 0.5)) / Math.sqrt(1.25);
  // sqrt(2)*sigma is the spread of a central difference; 3 of those passes 99.7% of noise.
  const gate = 3 * Math.SQRT2 * first;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((grad[i] as number) <= gate) abs[m++] = Math.abs(lap[i] as number);
  }
  if (m < n * 0.2) return first;
  return (1.4826 * quantileInPlace(abs, m, 0.5)) / Math.sqrt(1.25);
}

describe("sensor noise estimate", () => {
  for (const [k, lattice] of LATTICES.entries()) {
    it(`matches the plain version exactly (lattice ${k})`, () => {
      const width = 410;
      const height = 395;
      const data = patternedRaster(width, height, lattice.a, lattice.b, 50 + k, k % 2 === 0);
      for (const region of [
        { cx: 200, cy: 190, r: 180 },
        { cx: 205, cy: 197, r: 196 },
      ]) {
        for (const maxSamples of [200_000, 30_000]) {
          const expected = plainNoiseSigma(data, width, height, region, maxSamples);
          const actual = estimateNoiseSigma(data, width, height, region, maxSamples);
          assert.ok(expected > 0);
          assert.ok(Object.is(actual, expected), `${actual} vs ${expected}`);
        }
      }
    });
  }
});

describe("quantileOfMagnitudes (select.ts) on noise-like samples", () => {
  const cases: Array<[string, number]> = [
    ["continuous", 0],
    ["integers with many ties", 1],
    ["zeros and tiny values", 2],
  ];
  for (const [label, kind] of cases) {
    for (const wide of [false, true]) {
      it(`equals quantileInPlace (${label}, ${wide ? "float64" : "float32"})`, () => {
        const random = seededRandom(kind * 10 + (wide ? 1 : 0));
        for (const count of [1, 7, 4095, 16_384, 50_000]) {
          const values = (wide ? new Float64Array(count + 5) : new Float32Array(count + 5)).map(
            () => {
              if (kind === 0) return -Math.log(1 - random()) * 3.7;
              if (kind === 1) return Math.floor(random() * 12);
              return random() < 0.6 ? 0 : random() * 1e-30;
            },
          );
          for (const q of [0, 0.05, 0.5, 0.95, 1]) {
            const before = values.slice();
            const expected = quantileInPlace(values.slice(), count, q);
            const actual = quantileOfMagnitudes(values, count, q);
            assert.ok(
              Object.is(actual, expected),
              `${count} values, q ${q}: ${actual} vs ${expected}`,
            );
            assert.ok(sameBits(values, before), "the values are left in place");
          }
        }
      });
    }
  }

  it("returns NaN for no values", () => {
    assert.ok(Number.isNaN(quantileOfMagnitudes(new Float32Array(3), 0, 0.5)));
  });
});

function plainTerms(degree: number): Array<[number, number]> {
  const terms: Array<[number, number]> = [];
  for (let total = 0; total <= degree; total++) {
    for (let j = 0; j <= total; j++) terms.push([total - j, j]);
  }
  return terms;
}

/** The illumination fit as first written (a power per block and term): the reference. */
function plainSmoothBackground(
  map: { width: number; height: number; data: Float32Array },
  region: Region,
  noiseSigma: number,
  degree = 4,
): { degree: number; region: Region; coefficients: Float64Array; terms: Array<[number, number]> } {
  const block = Math.max(2, Math.round(region.r / 24));
  const us: number[] = [];
  const vs: number[] = [];
  const values: number[] = [];
  for (
    let by = Math.floor((region.cy - region.r) / block);
    by * block < region.cy + region.r;
    by++
  ) {
    for (
      let bx = Math.floor((region.cx - region.r) / block);
      bx * block < region.cx + region.r;
      bx++
    ) {
      const x0 = bx * block;
      const y0 = by * block;
      const mx = x0 + block / 2 - 0.5;
      const my = y0 + block / 2 - 0.5;
      if (x0 < 0 || y0 < 0 || x0 + block > map.width || y0 + block > map.height) continue;
      if (Math.hypot(mx - region.cx, my - region.cy) > region.r - block * 0.75) continue;
      let sum = 0;
      for (let y = y0; y < y0 + block; y++) {
        for (let x = x0; x < x0 + block; x++) sum += map.data[y * map.width + x] as number;
      }
      us.push((mx - region.cx) / region.r);
      vs.push((my - region.cy) / region.r);
      values.push(sum / (block * block));
    }
  }
  const terms = plainTerms(degree);
  const m = terms.length;
  const count = values.length;
  const basis = new Float64Array(count * m);
  for (let i = 0; i < count; i++) {
    const u = us[i] as number;
    const v = vs[i] as number;
    terms.forEach(([p, q], t) => {
      basis[i * m + t] = u ** p * v ** q;
    });
  }
  const weights = new Float64Array(count).fill(1);
  let coefficients: Float64Array = new Float64Array(m);
  const residuals = new Float64Array(count);
  // The block mean's own noise floor keeps the biweight from rejecting honest blocks.
  const floor = (3 * noiseSigma) / block;
  for (let iteration = 0; iteration < 8; iteration++) {
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    for (let i = 0; i < count; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      const row = i * m;
      const value = values[i] as number;
      for (let r = 0; r < m; r++) {
        const br = (basis[row + r] as number) * w;
        b[r] = (b[r] as number) + br * value;
        for (let c = r; c < m; c++)
          a[r * m + c] = (a[r * m + c] as number) + br * (basis[row + c] as number);
      }
    }
    for (let r = 0; r < m; r++) for (let c = 0; c < r; c++) a[r * m + c] = a[c * m + r] as number;
    const solved = solveLinear(a, b, m);
    if (!solved) break;
    coefficients = solved;
    for (let i = 0; i < count; i++) {
      let model = 0;
      for (let t = 0; t < m; t++)
        model += (basis[i * m + t] as number) * (coefficients[t] as number);
      residuals[i] = (values[i] as number) - model;
    }
    const sorted = new Float64Array(residuals).map(Math.abs).sort();
    const scale = Math.max(floor, 1.4826 * (sorted[Math.floor(count / 2)] ?? 0));
    const c = 4.685 * scale;
    for (let i = 0; i < count; i++) {
      const z = (residuals[i] as number) / c;
      weights[i] = Math.abs(z) < 1 ? (1 - z * z) ** 2 : 0;
    }
  }
  return { degree, region, coefficients, terms };
}

describe("smooth illumination fit", () => {
  it("gives the plain version's coefficients to the last bit", () => {
    const width = 410;
    const height = 395;
    const random = seededRandom(91);
    const data = Float32Array.from({ length: width * height }, (_, i) => {
      const x = i % width;
      const y = Math.floor(i / width);
      const vignette = 900 - 0.004 * ((x - 205) ** 2 + (y - 197) ** 2);
      const stain = Math.hypot(x - 120, y - 240) < 30 ? -150 : 0;
      return vignette + stain + 5 * (random() - 0.5);
    });
    const map = { width, height, scale: 1, data };
    for (const region of [
      { cx: 205, cy: 197, r: 190 },
      { cx: 201.5, cy: 195.25, r: 160.7 },
    ]) {
      for (const degree of [2, 4]) {
        const expected = plainSmoothBackground(map, region, 3, degree).coefficients;
        const actual = fitSmoothBackground(map, region, 3, degree).coefficients;
        assert.ok(sameBits(actual, expected), `degree ${degree}: ${actual} vs ${expected}`);
      }
    }
  });
});

/** A lit disk with a tilt, a stain and a void, Gaussian noise, on a dark chuck. */
function wafer(
  width: number,
  height: number,
  disk: Region,
  seed: number,
  whole = false,
): { width: number; height: number; scale: number; data: Float32Array } {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - disk.cx) ** 2 + (y - disk.cy) ** 2 < disk.r ** 2;
      const stain = (x - disk.cx - 0.4 * disk.r) ** 2 + (y - disk.cy) ** 2 < (0.15 * disk.r) ** 2;
      const hole = (x - disk.cx) ** 2 + (y - disk.cy + 0.5 * disk.r) ** 2 < (0.06 * disk.r) ** 2;
      const level = 150 + 20 * ((x - disk.cx) / disk.r) - 12 * ((y - disk.cy) / disk.r) ** 2;
      const value = inside
        ? level + (stain ? 15 : 0) - (hole ? 60 : 0) + 3 * standardNormal(random)
        : 20;
      // Binned 8-bit levels are quarters; float maps are not.
      data[y * width + x] = whole ? Math.round(4 * value) / 4 : value;
    }
  }
  return { width, height, scale: 2, data };
}

// Branch thr3's rewrite (normal equations in registers, a select for the median) on disks cut
// by the frame, 2 px blocks and binned 8-bit quarters, against the same first-written fit.
describe("smooth illumination fit, thr3's cases", () => {
  const cases: Array<[string, number, number, Region, boolean]> = [
    ["centred disk, quarters", 420, 400, { cx: 210.3, cy: 199.6, r: 180.2 }, true],
    ["disk cut by the frame", 300, 260, { cx: 140.5, cy: 150.2, r: 150.7 }, false],
    ["small disk, 2 px blocks", 120, 110, { cx: 60.1, cy: 55.4, r: 40.3 }, false],
    ["off-centre disk", 500, 500, { cx: 260.8, cy: 230.1, r: 210.9 }, true],
  ];
  for (const [name, width, height, disk, whole] of cases) {
    it(`gives the plain version's coefficients to the last bit: ${name}`, () => {
      for (const [seed, degree, sigma] of [
        [1, 4, 3],
        [2, 2, 0],
        [3, 4, 40],
      ] as const) {
        const map = wafer(width, height, disk, seed, whole);
        const got = fitSmoothBackground(map, disk, sigma, degree).coefficients;
        const want = plainSmoothBackground(map, disk, sigma, degree).coefficients;
        assert.equal(got.length, want.length);
        for (let t = 0; t < want.length; t++)
          assert.ok(Object.is(got[t], want[t]), `seed ${seed} term ${t}: ${got[t]} vs ${want[t]}`);
      }
    });
  }
});
