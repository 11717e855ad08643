// Smooth illumination model of a bare wafer: a robust low-order 2-D polynomial over the disk.

import { normalEquationsKernel } from "./frame-passes.ts";
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, selectKth } from "./raster.ts";

export interface SmoothBackground {
  degree: number;
  region: DiskRegion;
  /** Coefficients of u^i v^j (u, v = offset from the centre / radius), in `terms` order. */
  coefficients: Float64Array;
  terms: Array<[number, number]>;
}

function polynomialTerms(degree: number): Array<[number, number]> {
  const terms: Array<[number, number]> = [];
  for (let total = 0; total <= degree; total++) {
    for (let j = 0; j <= total; j++) terms.push([total - j, j]);
  }
  return terms;
}

/** Solves the symmetric system A x = b in place (Gaussian elimination, partial pivoting). */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array | null {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let row = col + 1; row < n; row++) {
      if (Math.abs(a[row * n + col] as number) > Math.abs(a[pivot * n + col] as number))
        pivot = row;
    }
    const p = a[pivot * n + col] as number;
    if (Math.abs(p) < 1e-12) return null;
    if (pivot !== col) {
      for (let k = 0; k < n; k++) {
        const t = a[col * n + k] as number;
        a[col * n + k] = a[pivot * n + k] as number;
        a[pivot * n + k] = t;
      }
      const t = b[col] as number;
      b[col] = b[pivot] as number;
      b[pivot] = t;
    }
    for (let row = col + 1; row < n; row++) {
      const f = (a[row * n + col] as number) / p;
      if (f === 0) continue;
      for (let k = col; k < n; k++)
        a[row * n + k] = (a[row * n + k] as number) - f * (a[col * n + k] as number);
      b[row] = (b[row] as number) - f * (b[col] as number);
    }
  }
  const x = new Float64Array(n);
  for (let row = n - 1; row >= 0; row--) {
    let s = b[row] as number;
    for (let k = row + 1; k < n; k++) s -= (a[row * n + k] as number) * (x[k] as number);
    x[row] = s / (a[row * n + row] as number);
  }
  return x;
}

/**
 * Each kept block's sum (block x block pixels from column starts[k], row y0) into
 * sums[at + k]: row by row, left to right, from +0, as a plain loop per block adds them, so the
 * same doubles. Four blocks' sums run side by side: one chain of additions waits on each add,
 * four independent chains do not wait on each other.
 */
function blockRowSums(
  data: Float32Array,
  width: number,
  y0: number,
  block: number,
  starts: Int32Array,
  kept: number,
  sums: Float64Array,
  at: number,
): void {
  let k = 0;
  for (; k + 3 < kept; k += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let y = y0; y < y0 + block; y++) {
      const p0 = y * width + (starts[k] as number);
      const p1 = y * width + (starts[k + 1] as number);
      const p2 = y * width + (starts[k + 2] as number);
      const p3 = y * width + (starts[k + 3] as number);
      for (let x = 0; x < block; x++) {
        s0 += data[p0 + x] as number;
        s1 += data[p1 + x] as number;
        s2 += data[p2 + x] as number;
        s3 += data[p3 + x] as number;
      }
    }
    sums[at + k] = s0;
    sums[at + k + 1] = s1;
    sums[at + k + 2] = s2;
    sums[at + k + 3] = s3;
  }
  for (; k < kept; k++) {
    let sum = 0;
    for (let y = y0; y < y0 + block; y++) {
      const p = y * width + (starts[k] as number);
      for (let x = 0; x < block; x++) sum += data[p + x] as number;
    }
    sums[at + k] = sum;
  }
}

/**
 * Fits the polynomial to block means with Tukey-biweight reweighting, so that stains and
 * voids (a few % of the blocks) do not pull the illumination model towards themselves.
 */
export function fitSmoothBackground(
  map: FloatMap,
  region: DiskRegion,
  noiseSigma: number,
  degree = 4,
): SmoothBackground {
  const { data, width, height } = map;
  const block = Math.max(2, Math.round(region.r / 24));
  const byFirst = Math.floor((region.cy - region.r) / block);
  const bxFirst = Math.floor((region.cx - region.r) / block);
  // Blocks whose corner lies before the disk's far edge, as the loops below walk them.
  const blockRows = Math.max(0, Math.ceil((region.cy + region.r) / block) - byFirst);
  const blockColumns = Math.max(0, Math.ceil((region.cx + region.r) / block) - bxFirst);
  const capacity = blockRows * blockColumns;
  const us = new Float64Array(capacity);
  const vs = new Float64Array(capacity);
  const values = new Float64Array(capacity);
  // The blocks of one block row that are kept (inside the frame and the disk), by left column.
  const starts = new Int32Array(Math.max(0, blockColumns));
  let count = 0;
  for (let by = byFirst; by * block < region.cy + region.r; by++) {
    const y0 = by * block;
    const my = y0 + block / 2 - 0.5;
    let kept = 0;
    for (let bx = bxFirst; bx * block < region.cx + region.r; bx++) {
      const x0 = bx * block;
      const mx = x0 + block / 2 - 0.5;
      if (x0 < 0 || y0 < 0 || x0 + block > width || y0 + block > height) continue;
      if (Math.hypot(mx - region.cx, my - region.cy) > region.r - block * 0.75) continue;
      starts[kept++] = x0;
      us[count + kept - 1] = (mx - region.cx) / region.r;
      vs[count + kept - 1] = (my - region.cy) / region.r;
    }
    blockRowSums(data, width, y0, block, starts, kept, values, count);
    for (let k = count; k < count + kept; k++) values[k] = (values[k] as number) / (block * block);
    count += kept;
  }
  const terms = polynomialTerms(degree);
  const m = terms.length;
  // The basis by term: column t holds u^p v^q of every block (the normal equations below
  // stream two columns at a time).
  const basis = new Float64Array(m * count);
  // Blocks of one column share u, of one row v: each power is taken once per distinct value
  // (the same u ** p as per block, so the same basis to the last bit).
  const powers = new Map<number, Float64Array>();
  const powersOf = (w: number): Float64Array => {
    let table = powers.get(w);
    if (!table) {
      table = new Float64Array(degree + 1);
      for (let p = 0; p <= degree; p++) table[p] = w ** p;
      powers.set(w, table);
    }
    return table;
  };
  for (let i = 0; i < count; i++) {
    const pu = powersOf(us[i] as number);
    const pv = powersOf(vs[i] as number);
    for (let t = 0; t < m; t++) {
      const [p, q] = terms[t] as [number, number];
      basis[t * count + i] = (pu[p] as number) * (pv[q] as number);
    }
  }
  // The WebAssembly kernel (frame.wat normalSums) takes the sums below, the same bits.
  const columns = m + 1;
  const kernelSums = normalEquationsKernel(count, m);
  if (kernelSums) {
    for (let i = 0; i < count; i++) {
      for (let t = 0; t < m; t++)
        kernelSums.basis[i * columns + t] = basis[t * count + i] as number;
      kernelSums.basis[i * columns + m] = values[i] as number;
    }
  }
  const weights = kernelSums ? kernelSums.weights : new Float64Array(count);
  weights.fill(1);
  let coefficients: Float64Array = new Float64Array(m);
  const residuals = new Float64Array(count);
  const magnitudes = new Float64Array(count);
  // Per term, the weighted blocks' (weight not 0) basis and basis x weight, in block order
  // (for the JavaScript sums only).
  const room = kernelSums ? 0 : count;
  const kept = new Float64Array(m * room);
  const weighted = new Float64Array(m * room);
  const keptValues = new Float64Array(room);
  // The block mean's own noise floor keeps the biweight from rejecting honest blocks.
  const floor = (3 * noiseSigma) / block;
  for (let iteration = 0; iteration < 8; iteration++) {
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    if (kernelSums) {
      const sums = kernelSums.sums();
      for (let r = 0; r < m; r++) {
        for (let c = r; c < m; c++) a[r * m + c] = sums[r * columns + c] as number;
        b[r] = sums[r * columns + m] as number;
      }
    } else normalSums(a, b);
    for (let r = 0; r < m; r++) for (let c = 0; c < r; c++) a[r * m + c] = a[c * m + r] as number;
    const solved = solveLinear(a, b, m);
    if (!solved) break;
    coefficients = solved;
    // Each block's model is summed term by term from +0 (the same additions in the same order
    // as one block at a time), a term for all blocks per pass: the blocks' sums do not wait on
    // each other.
    residuals.fill(0);
    for (let t = 0; t < m; t++) {
      const c = coefficients[t] as number;
      const column = t * count;
      for (let i = 0; i < count; i++)
        residuals[i] = (residuals[i] as number) + (basis[column + i] as number) * c;
    }
    let sawNaN = false;
    for (let i = 0; i < count; i++) {
      const residual = (values[i] as number) - (residuals[i] as number);
      residuals[i] = residual;
      magnitudes[i] = Math.abs(residual);
      if (Number.isNaN(residual)) sawNaN = true;
    }
    // The median |residual| (the middle of them sorted): selected, not sorted; a NaN sorts.
    const middle = Math.floor(count / 2);
    const median =
      count === 0
        ? 0
        : sawNaN
          ? (magnitudes.sort()[middle] as number)
          : selectKth(magnitudes, count, middle);
    const scale = Math.max(floor, 1.4826 * median);
    const c = 4.685 * scale;
    for (let i = 0; i < count; i++) {
      const z = (residuals[i] as number) / c;
      weights[i] = Math.abs(z) < 1 ? (1 - z * z) ** 2 : 0;
    }
  }
  return { degree, region, coefficients, terms };

  /** The upper triangle of a and all of b (JavaScript, where the kernel is not available). */
  function normalSums(a: Float64Array, b: Float64Array): void {
    let n = 0;
    for (let i = 0; i < count; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      for (let t = 0; t < m; t++) {
        const value = basis[t * count + i] as number;
        kept[t * count + n] = value;
        weighted[t * count + n] = value * w;
      }
      keptValues[n] = values[i] as number;
      n++;
    }
    // a[r][c] and b[r] summed over the weighted blocks in block order, each term the product
    // (basis_r x w) x basis_c as before: the same sums to the last bit. Four sums run side by
    // side (each its own chain of additions in that order), since one chain waits on each add.
    for (let r = 0; r < m; r++) {
      const wr = r * count;
      let sumB = 0;
      for (let j = 0; j < n; j++) sumB += (weighted[wr + j] as number) * (keptValues[j] as number);
      b[r] = sumB;
      let c = r;
      for (; c + 3 < m; c += 4) {
        const c0 = c * count;
        const c1 = c0 + count;
        const c2 = c1 + count;
        const c3 = c2 + count;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let j = 0; j < n; j++) {
          const x = weighted[wr + j] as number;
          s0 += x * (kept[c0 + j] as number);
          s1 += x * (kept[c1 + j] as number);
          s2 += x * (kept[c2 + j] as number);
          s3 += x * (kept[c3 + j] as number);
        }
        a[r * m + c] = s0;
        a[r * m + c + 1] = s1;
        a[r * m + c + 2] = s2;
        a[r * m + c + 3] = s3;
      }
      for (; c < m; c++) {
        const bc = c * count;
        let sum = 0;
        for (let j = 0; j < n; j++) sum += (weighted[wr + j] as number) * (kept[bc + j] as number);
        a[r * m + c] = sum;
      }
    }
  }
}

/** Per-row polynomial in u: evaluating a whole row then costs one Horner chain per pixel. */
export function backgroundRowCoefficients(
  bg: SmoothBackground,
  y: number,
  out: Float64Array,
): void {
  const v = (y - bg.region.cy) / bg.region.r;
  out.fill(0);
  bg.terms.forEach(([p, q], t) => {
    out[p] = (out[p] as number) + (bg.coefficients[t] as number) * v ** q;
  });
}

/**
 * Median over blocks of the disk of the share of pixels standing more than `limit` out of the
 * smooth model. A die pattern covers every block; one large stain or void covers a few, so a
 * bare wafer with a big defect does not pay for the lattice search.
 */
export function structuredBlockShare(
  work: FloatMap,
  background: SmoothBackground,
  region: DiskRegion,
  limit: number,
  blocksPerSide: number,
): number {
  const { width, height } = work;
  const step = Math.max(1, Math.floor(region.r / 100));
  const blocks = blocksPerSide * blocksPerSide;
  const totals = new Float64Array(blocks);
  const outs = new Float64Array(blocks);
  const blockSide = (2 * region.r) / blocksPerSide;
  const x0 = region.cx - region.r;
  const y0 = region.cy - region.r;
  const yEnd = Math.min(height, region.cy + region.r);
  const xEnd = Math.min(width, region.cx + region.r);
  const row = new Float64Array(background.degree + 1);
  const { cx, cy, r } = region;
  const r2 = r ** 2;
  const degree = background.degree;
  const data = work.data;
  for (let y = Math.max(0, Math.ceil(cy - r)); y < yEnd; y += step) {
    backgroundRowCoefficients(background, y, row);
    const by = Math.min(blocksPerSide - 1, Math.floor((y - y0) / blockSide));
    const dy2 = (y - cy) ** 2;
    // A row's samples go a block at a time: each block's counts are kept in locals and added
    // once per run, so no count waits on the previous sample's store to the same block, and
    // the outlier test is counted without a branch (a NaN is not counted, as before). Whole
    // numbers: the same counts as adding one at a time.
    let runBlock = -1;
    let runTotal = 0;
    let runOut = 0;
    for (let x = Math.max(0, Math.ceil(cx - r)); x < xEnd; x += step) {
      if ((x - cx) ** 2 + dy2 >= r2) continue;
      const b = by * blocksPerSide + Math.min(blocksPerSide - 1, Math.floor((x - x0) / blockSide));
      if (b !== runBlock) {
        if (runBlock >= 0) {
          totals[runBlock] = (totals[runBlock] as number) + runTotal;
          outs[runBlock] = (outs[runBlock] as number) + runOut;
        }
        runBlock = b;
        runTotal = 0;
        runOut = 0;
      }
      runTotal++;
      const u = (x - cx) / r;
      let model = 0;
      for (let p = degree; p >= 0; p--) model = model * u + (row[p] as number);
      runOut += +(Math.abs((data[y * width + x] as number) - model) > limit);
    }
    if (runBlock >= 0) {
      totals[runBlock] = (totals[runBlock] as number) + runTotal;
      outs[runBlock] = (outs[runBlock] as number) + runOut;
    }
  }
  // Blocks mostly off the disk (corners) say little: only those with a fair sample count.
  // (Loops over the typed arrays: the same shares, in ascending order, as mapping and sorting
  // an array of them; no value is NaN or -0 here, so the numeric sorts agree.)
  let most = Number.NEGATIVE_INFINITY;
  for (let b = 0; b < blocks; b++) most = Math.max(most, totals[b] as number);
  const fair = 0.5 * most;
  const shares = new Float64Array(blocks);
  let kept = 0;
  for (let b = 0; b < blocks; b++) {
    const t = totals[b] as number;
    if (t >= fair && t > 0) shares[kept++] = (outs[b] as number) / t;
  }
  const sorted = shares.subarray(0, kept).sort();
  return kept > 0 ? (sorted[Math.floor(kept / 2)] as number) : 0;
}

/** residual = map - background inside the disk, 0 elsewhere. */
export function subtractBackground(map: FloatMap, bg: SmoothBackground, out: Float32Array): void {
  const row = new Float64Array(bg.degree + 1);
  const { cx, cy, r } = bg.region;
  out.fill(0);
  for (
    let y = Math.max(0, Math.floor(cy - r));
    y <= Math.min(map.height - 1, Math.ceil(cy + r));
    y++
  ) {
    backgroundRowCoefficients(bg, y, row);
    const dy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - dy * dy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(map.width - 1, Math.floor(cx + half));
    for (let x = x0; x <= x1; x++) {
      const u = (x - cx) / r;
      let model = 0;
      for (let p = bg.degree; p >= 0; p--) model = model * u + (row[p] as number);
      const i = y * map.width + x;
      out[i] = (map.data[i] as number) - model;
    }
  }
}
