// Measuring the sensor noise sigma of one image, robust to die patterns and defects.
import { noiseSamplesKernel } from "./frame-passes.ts";
import { comparisonMapScratch } from "./kernel.ts";
import { gatedQuantileOfMagnitudes, quantileOfMagnitudes } from "./select.ts";
import { DETECTION, DIE_DIFFERENCE_SECOND_READING } from "./thresholds.ts";

export interface DiskRegion {
  cx: number;
  cy: number;
  r: number;
}

/** MAD to sigma for a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;
/** Var(p - mean of 4 neighbours) = (1 + 4/16) sigma^2 for white noise. */
export const LAPLACIAN_GAIN = Math.sqrt(1.25);

/**
 * Noise sigma (in the raster's units) from the MAD of a 5-point Laplacian over the disk.
 * Pattern edges are the enemy of this estimate, so a second pass keeps only pixels whose
 * central differences are small: those differences are statistically independent of the
 * Laplacian for white noise, so gating on them does not bias the estimate.
 */
export function estimateNoiseSigma(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  maxSamples = 200_000,
  /**
   * Room for the two sample arrays (twice their length, floats), else new ones: detect lends a
   * map-sized buffer whose own use starts later, so these 1-2 MB are no fresh allocation
   * alive (or awaiting collection) at detect's peak.
   */
  scratch?: Float32Array,
): number {
  const rows: number[] = [];
  const y0 = Math.max(1, Math.ceil(region.cy - region.r));
  const y1 = Math.min(height - 2, Math.floor(region.cy + region.r));
  const approxPixels = Math.PI * region.r * region.r;
  const rowStride = Math.max(1, Math.round(approxPixels / maxSamples));
  for (let y = y0; y <= y1; y += rowStride) rows.push(y);
  // |Laplacian| (only its size is used) and the largest central difference of each sample.
  const length = Math.ceil(approxPixels / rowStride) + width * 2;
  const roomy = scratch !== undefined && scratch.length >= 2 * length;
  const lap = roomy ? scratch.subarray(0, length) : new Float32Array(length);
  const grad = roomy ? scratch.subarray(length, 2 * length) : new Float32Array(length);
  // Each sample row's pixels: the disk's chord, up to the arrays' room.
  const sampleRows = Int32Array.from(rows);
  const starts = new Int32Array(rows.length);
  const counts = new Int32Array(rows.length);
  let n = 0;
  for (let k = 0; k < rows.length; k++) {
    const dy = (sampleRows[k] as number) - region.cy;
    const half = Math.sqrt(Math.max(0, region.r * region.r - dy * dy));
    const xa = Math.max(1, Math.ceil(region.cx - half));
    const xb = Math.min(width - 2, Math.floor(region.cx + half));
    const count = Math.max(0, Math.min(xb - xa + 1, lap.length - n));
    starts[k] = xa;
    counts[k] = count;
    n += count;
  }
  // The WebAssembly kernel (frame.wat) gives the loop's float32 values, two pixels a step.
  if (!noiseSamplesKernel(data, width, sampleRows, starts, counts, lap, grad)) {
    let at = 0;
    for (let k = 0; k < rows.length; k++) {
      const rowStart = (sampleRows[k] as number) * width;
      const xa = starts[k] as number;
      const xEnd = xa + (counts[k] as number);
      for (let x = xa; x < xEnd; x++) {
        const i = rowStart + x;
        const c = data[i] as number;
        const l = data[i - 1] as number;
        const r = data[i + 1] as number;
        const u = data[i - width] as number;
        const d = data[i + width] as number;
        lap[at] = Math.abs(c - 0.25 * (l + r + u + d));
        grad[at] = Math.max(Math.abs(r - l), Math.abs(d - u));
        at++;
      }
    }
  }
  if (n < 16) return 0;
  const first = (MAD_TO_SIGMA * quantileOfMagnitudes(lap, n, 0.5)) / LAPLACIAN_GAIN;
  // sqrt(2)*sigma is the spread of a central difference; 3 of those passes 99.7% of noise.
  const gate = 3 * Math.SQRT2 * first;
  // The passing samples' median in one pass over the two arrays (select.ts), where moving them
  // to the front first took a pass of its own; the same median, or null and the path below.
  const gated = gatedQuantileOfMagnitudes(lap, grad, n, gate, 0.5, n * 0.2);
  if (gated) {
    if (gated.passing < n * 0.2) return first;
    return (MAD_TO_SIGMA * gated.quantile) / LAPLACIAN_GAIN;
  }
  // The passing samples, moved to the front in place (m <= i: nothing is overwritten unread).
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((grad[i] as number) <= gate) lap[m++] = lap[i] as number;
  }
  if (m < n * 0.2) return first;
  return (MAD_TO_SIGMA * quantileOfMagnitudes(lap, m, 0.5)) / LAPLACIAN_GAIN;
}

/** Var(p - mean of two independent samples) = (1 + 1/2) sigma^2. */
export const PAIR_DIFFERENCE_GAIN = Math.sqrt(1.5);

/** One die-difference reading: its sigma (0: too few samples) and whether its gate passed enough samples. */
interface DieDifferenceReading {
  sigma: number;
  gated: boolean;
}

const UNMEASURED: DieDifferenceReading = { sigma: 0, gated: false };

/**
 * Noise sigma of `data` as the die-to-die comparison sees it (dieDifferenceNoiseAlong below,
 * pair differences along a). Where too few samples pass its gate (dies so fine that motif
 * detail reaches every sample's 3x3 range), the ungated reading adds the pattern's die-to-die
 * residue to the noise, so it is an upper bound only; the same reading along b (pairs one
 * die pitch apart along b, the gate in the dies along a) is another upper bound of the same noise,
 * and the lower of the two is the tighter one (docs/detector-recall.md round 24: along b it read
 * 1.09-1.42x the truth on 7066's finest dies where along a read 1.32-2.34x). Wafers whose
 * gate passes along a are measured along a only, as before.
 */
export function estimateDieDifferenceNoise(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  a: { x: number; y: number },
  b: { x: number; y: number },
  maxSamples = 100_000,
  /** A buffer lent for the samples' differences (read as doubles where it has room), else new. */
  scratch?: Float32Array,
): number {
  const alongA = dieDifferenceNoiseAlong(data, width, height, region, a, b, maxSamples, scratch);
  if (alongA.gated || alongA.sigma <= 0) return alongA.sigma;
  // The second reading only has to tell whether b reads lower: a share of the grid does.
  const alongB = dieDifferenceNoiseAlong(
    data,
    width,
    height,
    region,
    b,
    a,
    Math.round(maxSamples * DIE_DIFFERENCE_SECOND_READING.gridShare),
    scratch,
  );
  return alongB.sigma > 0 ? Math.min(alongA.sigma, alongB.sigma) : alongA.sigma;
}

/**
 * Noise sigma of `data` as the die-to-die comparison sees it: from the MAD of
 * D(p) - D(q), where D(p) = p - (p(+a) + p(-a)) / 2 is the pair difference one die pitch apart
 * along a, and q lies DETECTION.dieDifferenceLagPx further along x in the same dies. The
 * pattern cancels in D, and a level that a whole die holds against its neighbours (dies of one
 * reticle field differ by up to +-0.75%, several noise sigmas: the spec allows it, it is not
 * noise, and the per-die levelling removes it from the residual) cancels in D(p) - D(q). The
 * noise of samples a pitch or the lag apart is independent whatever its spatial correlation
 * (correlated sensor noise, blur, JPEG smoothing), so this measures the per-pixel sigma of the
 * map the comparison runs on, which a neighbour-pixel Laplacian underestimates when noise is
 * correlated. References are taken at the nearest pixel, so each carries the full sigma.
 * Pixels near pattern edges (where misregistration adds to the difference) are left out by a
 * gate on the local range in the dies along b, at p and at q, which shares no sample with the
 * difference and so does not bias it.
 */
function dieDifferenceNoiseAlong(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  a: { x: number; y: number },
  b: { x: number; y: number },
  maxSamples = 100_000,
  /** A buffer lent for the samples' differences (read as doubles where it has room), else new. */
  scratch?: Float32Array,
): DieDifferenceReading {
  const lag = DETECTION.dieDifferenceLagPx;
  const step = Math.max(1, Math.round(Math.sqrt((Math.PI * region.r * region.r) / maxSamples)));
  const reach = Math.hypot(a.x, a.y) + Math.hypot(b.x, b.y) + 2 + lag;
  const inner = region.r - reach;
  if (inner <= 4) return UNMEASURED;
  const { cx, cy } = region;
  // The grid's sampled columns and rows, each with the nearest pixels of its references
  // (nearest-pixel samples: a bilinear one averages noise away and would understate sigma).
  // Tabled once per column and per row, so the loop over the grid only adds and reads; q's
  // references are p's moved by the lag (an integer), so the same tables serve both.
  const columns = sampleTaps(
    Math.ceil(cx - inner),
    cx + inner,
    step,
    2,
    width - 2 - lag,
    a.x,
    b.x,
    1,
  );
  const rows = sampleTaps(Math.ceil(cy - inner), cy + inner, step, 2, height - 2, a.y, b.y, width);
  const capacity = columns.count * rows.count;
  if (capacity < 64) return UNMEASURED;
  // |D(p) - D(q)| of each sample, in grid order.
  const roomy =
    scratch !== undefined && scratch.byteOffset % 8 === 0 && scratch.length >= 2 * capacity;
  const absDiffs = roomy
    ? new Float64Array(scratch.buffer, scratch.byteOffset, capacity)
    : new Float64Array(capacity);
  const innerSquared = inner * inner;
  // Each row's samples inside the disk, as the column span [firstColumn, lastColumn]: found
  // once with the same test both passes used per sample ((x - cx)^2 + dy, rounded, grows with
  // |x - cx|, so the passing columns are contiguous), so neither pass tests or branches per sample.
  const firstColumn = new Int32Array(rows.count);
  const lastColumn = new Int32Array(rows.count);
  for (let r = 0; r < rows.count; r++) {
    const dy = ((rows.at[r] as number) - cy) ** 2;
    let lo = 0;
    while (lo < columns.count && ((columns.at[lo] as number) - cx) ** 2 + dy > innerSquared) lo++;
    let hi = columns.count - 1;
    while (hi >= lo && ((columns.at[hi] as number) - cx) ** 2 + dy > innerSquared) hi--;
    firstColumn[r] = lo;
    lastColumn[r] = hi;
  }
  const gain = PAIR_DIFFERENCE_GAIN * Math.SQRT2;
  const inKernel = dieDifferenceNoiseInKernel(
    data,
    width,
    height,
    lag,
    { rows, columns, firstColumn, lastColumn, capacity },
    gain,
  );
  if (inKernel !== null) return inKernel;
  let n = 0;
  for (let r = 0; r < rows.count; r++) {
    const y = rows.at[r] as number;
    const rowBase = y * width;
    const rowPlusA = rows.plusA[r] as number;
    const rowMinusA = rows.minusA[r] as number;
    const last = lastColumn[r] as number;
    for (let c = firstColumn[r] as number; c <= last; c++) {
      const x = columns.at[c] as number;
      const plus = rowPlusA + (columns.plusA[c] as number);
      const minus = rowMinusA + (columns.minusA[c] as number);
      const atP =
        (data[rowBase + x] as number) - 0.5 * ((data[plus] as number) + (data[minus] as number));
      const atQ =
        (data[rowBase + x + lag] as number) -
        0.5 * ((data[plus + lag] as number) + (data[minus + lag] as number));
      absDiffs[n++] = Math.abs(atP - atQ);
    }
  }
  if (n < 64) return UNMEASURED;
  const first = (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, n, 0.5)) / gain;
  // A 3x3 range of pure noise stays under about 5 sigma (the largest minus the smallest of 9).
  // A sample passes when, at p and at q, the smaller of the two ranges (dies at +b and -b) is
  // within the gate: the one at +b first, the one at -b only when that fails (the same samples
  // pass). Passing samples move to the front in place (m <= i: nothing is overwritten unread).
  const gate = 5 * first;
  // The +b range, asked of every sample at p and of most at q, from column profiles: per row of
  // samples, the max and the min of each pixel column over its three +b rows, so a 3x3 range is
  // the max of three column maxima minus the min of three column minima (the same nine pixels,
  // so the same max and min) and p and q (and neighbouring samples) share columns instead of
  // each reading its nine pixels. Column terms grow with the column and with k, so a row's
  // samples span [plusB of its first sample's k = -1, plusB of its last's k = 1 + lag].
  const lowShift = Math.min(0, lag);
  const highShift = Math.max(0, lag);
  const profileMax = new Float32Array(width + highShift - lowShift);
  const profileMin = new Float32Array(profileMax.length);
  let m = 0;
  let i = 0;
  for (let r = 0; r < rows.count; r++) {
    const rb = 3 * r;
    const firstSample = firstColumn[r] as number;
    const last = lastColumn[r] as number;
    if (firstSample > last) continue;
    const spanStart = (columns.plusB[3 * firstSample] as number) + lowShift;
    const spanEnd = (columns.plusB[3 * last + 2] as number) + highShift;
    const top = rows.plusB[rb] as number;
    const middle = rows.plusB[rb + 1] as number;
    const bottom = rows.plusB[rb + 2] as number;
    // Comparisons, not Math.max / Math.min (10-15% of the function): they differ only in the
    // sign of a zero max or min, which leaves every range's comparison with the gate as it was,
    // and in dropping a NaN, so a row whose pixels hold one (its sum is NaN; so is a row with
    // both infinities, harmlessly) is redone with Math.max / Math.min, which keep it.
    let sum = 0;
    for (let x = spanStart; x <= spanEnd; x++) {
      const t = data[top + x] as number;
      const u = data[middle + x] as number;
      const v = data[bottom + x] as number;
      sum += t + u + v;
      // biome-ignore lint/complexity/useMathMinMax: a comparison here is the point (see above)
      const high = t > u ? t : u;
      // biome-ignore lint/complexity/useMathMinMax: a comparison here is the point (see above)
      const low = t > u ? u : t;
      // biome-ignore lint/complexity/useMathMinMax: a comparison here is the point (see above)
      profileMax[x - spanStart] = high > v ? high : v;
      // biome-ignore lint/complexity/useMathMinMax: a comparison here is the point (see above)
      profileMin[x - spanStart] = low < v ? low : v;
    }
    if (Number.isNaN(sum)) {
      for (let x = spanStart; x <= spanEnd; x++) {
        const t = data[top + x] as number;
        const u = data[middle + x] as number;
        const v = data[bottom + x] as number;
        profileMax[x - spanStart] = Math.max(t, u, v);
        profileMin[x - spanStart] = Math.min(t, u, v);
      }
    }
    for (let c = firstSample; c <= last; c++) {
      const cb = 3 * c;
      const c0 = (columns.plusB[cb] as number) - spanStart;
      const c1 = (columns.plusB[cb + 1] as number) - spanStart;
      const c2 = (columns.plusB[cb + 2] as number) - spanStart;
      const passesAtP =
        profileRange(profileMax, profileMin, c0, c1, c2) <= gate ||
        range3x3(data, rows.minusB, rb, columns.minusB, cb, 0) <= gate;
      if (
        passesAtP &&
        (profileRange(profileMax, profileMin, c0 + lag, c1 + lag, c2 + lag) <= gate ||
          range3x3(data, rows.minusB, rb, columns.minusB, cb, lag) <= gate)
      ) {
        absDiffs[m++] = absDiffs[i] as number;
      }
      i++;
    }
  }
  if (m < 0.2 * n) return { sigma: first, gated: false };
  return { sigma: (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, m, 0.5)) / gain, gated: true };
}

type SampleTaps = ReturnType<typeof sampleTaps>;

/**
 * estimateDieDifferenceNoise's two passes in the WebAssembly SIMD kernels (die-to-die.wat
 * `dieDifferences`, `dieDifferenceGate`), when `data` is the smoothed map in the kernels' memory
 * (the die-to-die stage's): the same differences in the same order, the same gate, so the same
 * sigma. The grid's tables go into the residual's ring region (free until the residual runs),
 * followed by the differences and one row's column profiles. Null (the JavaScript path then
 * runs) when the kernels are off or absent, the map is elsewhere, the scratch is too small, or
 * a difference is NaN.
 */
function dieDifferenceNoiseInKernel(
  data: Float32Array,
  width: number,
  height: number,
  lag: number,
  grid: {
    rows: SampleTaps;
    columns: SampleTaps;
    firstColumn: Int32Array;
    lastColumn: Int32Array;
    capacity: number;
  },
  gain: number,
): DieDifferenceReading | null {
  const { rows, columns, firstColumn, lastColumn, capacity } = grid;
  if (lag < 0) return null;
  if (!gridReadsInsideMap(grid, width, height, lag)) return null;
  const memory = comparisonMapScratch(data, width, height);
  if (!memory) return null;
  const { kernel, buffer, scratchOffset, scratchBytes } = memory;
  // Records of 11 (rows) and 9 (columns) int32 terms, laid out as die-to-die.wat reads them.
  const rowsPtr = scratchOffset;
  const columnsPtr = rowsPtr + 44 * rows.count;
  const diffsPtr = Math.ceil((columnsPtr + 36 * columns.count) / 16) * 16;
  const profilePtr = Math.ceil((diffsPtr + 8 * capacity) / 16) * 16;
  // A row's profile spans at most width + lag + 3 columns; the kernel writes up to 3 past it.
  const profileLength = Math.ceil((width + lag + 8) / 4) * 4;
  if (profilePtr + 8 * profileLength > scratchOffset + scratchBytes) return null;
  const rowRecords = new Int32Array(buffer, rowsPtr, 11 * rows.count);
  for (let r = 0; r < rows.count; r++) {
    const o = 11 * r;
    rowRecords[o] = (rows.at[r] as number) * width;
    rowRecords[o + 1] = rows.plusA[r] as number;
    rowRecords[o + 2] = rows.minusA[r] as number;
    for (let k = 0; k < 3; k++) {
      rowRecords[o + 3 + k] = rows.plusB[3 * r + k] as number;
      rowRecords[o + 6 + k] = rows.minusB[3 * r + k] as number;
    }
    rowRecords[o + 9] = firstColumn[r] as number;
    rowRecords[o + 10] = lastColumn[r] as number;
  }
  const columnRecords = new Int32Array(buffer, columnsPtr, 9 * columns.count);
  for (let c = 0; c < columns.count; c++) {
    const o = 9 * c;
    columnRecords[o] = columns.at[c] as number;
    columnRecords[o + 1] = columns.plusA[c] as number;
    columnRecords[o + 2] = columns.minusA[c] as number;
    for (let k = 0; k < 3; k++) {
      columnRecords[o + 3 + k] = columns.plusB[3 * c + k] as number;
      columnRecords[o + 6 + k] = columns.minusB[3 * c + k] as number;
    }
  }
  const dataPtr = data.byteOffset;
  const n = kernel.dieDifferences(dataPtr, lag, rowsPtr, rows.count, columnsPtr, diffsPtr);
  if (n < 0) return null;
  if (n < 64) return UNMEASURED;
  const absDiffs = new Float64Array(buffer, diffsPtr, capacity);
  const first = (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, n, 0.5)) / gain;
  const m = kernel.dieDifferenceGate(
    dataPtr,
    lag,
    rowsPtr,
    rows.count,
    columnsPtr,
    diffsPtr,
    profilePtr,
    profileLength,
    5 * first,
  );
  if (m < 0.2 * n) return { sigma: first, gated: false };
  return { sigma: (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, m, 0.5)) / gain, gated: true };
}

/**
 * Whether every pixel the two passes read lies in the map (index 0 to width x height - 1). Where one
 * does not (a disk past the map's edge), the JavaScript reads undefined, a NaN in its sums and
 * ranges, and the kernels would read other memory, so they must not run. Every column term
 * grows with the column, so a row's reads span its first sample's smallest terms to its last's
 * largest (plus the lag); the +b rows' profile spans the same columns.
 */
function gridReadsInsideMap(
  grid: { rows: SampleTaps; columns: SampleTaps; firstColumn: Int32Array; lastColumn: Int32Array },
  width: number,
  height: number,
  lag: number,
): boolean {
  const { rows, columns, firstColumn, lastColumn } = grid;
  const size = width * height;
  const inside = (rowTerm: number, low: number, high: number) =>
    rowTerm + low >= 0 && rowTerm + high + lag < size;
  for (let r = 0; r < rows.count; r++) {
    const first = firstColumn[r] as number;
    const last = lastColumn[r] as number;
    if (first > last) continue;
    if (
      !inside(
        (rows.at[r] as number) * width,
        columns.at[first] as number,
        columns.at[last] as number,
      )
    )
      return false;
    if (
      !inside(
        rows.plusA[r] as number,
        columns.plusA[first] as number,
        columns.plusA[last] as number,
      )
    )
      return false;
    if (
      !inside(
        rows.minusA[r] as number,
        columns.minusA[first] as number,
        columns.minusA[last] as number,
      )
    )
      return false;
    // The row's first and last columns bound every tap of the 3x3 gate along b.
    const plusLow = columns.plusB[3 * first] as number;
    const plusHigh = columns.plusB[3 * last + 2] as number;
    const minusLow = columns.minusB[3 * first] as number;
    const minusHigh = columns.minusB[3 * last + 2] as number;
    for (let k = 0; k < 3; k++) {
      if (!inside(rows.plusB[3 * r + k] as number, plusLow, plusHigh)) return false;
      if (!inside(rows.minusB[3 * r + k] as number, minusLow, minusHigh)) return false;
    }
  }
  return true;
}

/**
 * Along one axis of the sampling grid (coordinates from, from + step, ... up to `to`, those in
 * [lowest, below) kept): each coordinate and the nearest-pixel index terms of its references,
 * times `unit` (1 for columns, the row width for rows). `plusA`/`minusA` are round(p +- da);
 * `plusB`/`minusB` hold, three per coordinate, round((p +- db) + k) for k = -1, 0, 1, the 3x3
 * neighbourhood of the gate's range, rounded exactly as a per-pixel lookup of p +- db would.
 */
function sampleTaps(
  from: number,
  to: number,
  step: number,
  lowest: number,
  below: number,
  da: number,
  db: number,
  unit: number,
): {
  count: number;
  at: Int32Array;
  plusA: Int32Array;
  minusA: Int32Array;
  plusB: Int32Array;
  minusB: Int32Array;
} {
  let count = 0;
  for (let p = from; p <= to; p += step) if (p >= lowest && p < below) count++;
  const at = new Int32Array(count);
  const plusA = new Int32Array(count);
  const minusA = new Int32Array(count);
  const plusB = new Int32Array(3 * count);
  const minusB = new Int32Array(3 * count);
  let i = 0;
  for (let p = from; p <= to; p += step) {
    if (p < lowest || p >= below) continue;
    at[i] = p;
    plusA[i] = Math.round(p + da) * unit;
    minusA[i] = Math.round(p - da) * unit;
    const centrePlus = p + db;
    const centreMinus = p - db;
    for (let k = -1; k <= 1; k++) {
      plusB[3 * i + k + 1] = Math.round(centrePlus + k) * unit;
      minusB[3 * i + k + 1] = Math.round(centreMinus + k) * unit;
    }
    i++;
  }
  return { count, at, plusA, minusA, plusB, minusB };
}

/** max of profileMax at c0, c1, c2 minus min of profileMin there: a 3x3 range from column profiles. */
function profileRange(
  profileMax: Float32Array,
  profileMin: Float32Array,
  c0: number,
  c1: number,
  c2: number,
): number {
  const hi = Math.max(profileMax[c0] as number, profileMax[c1] as number, profileMax[c2] as number);
  const lo = Math.min(profileMin[c0] as number, profileMin[c1] as number, profileMin[c2] as number);
  return hi - lo;
}

/**
 * max - min of the 9 pixels at rowTerms[rb..rb+2] x (columnTerms[cb..cb+2] + shift) (index terms).
 * Math.max / Math.min, not ifs: on noisy data the branches of a running max mispredict often
 * and cost most of the sampling. Same max and min as comparing one by one (pixels are finite).
 */
function range3x3(
  data: Float32Array,
  rowTerms: Int32Array,
  rb: number,
  columnTerms: Int32Array,
  cb: number,
  shift: number,
): number {
  const c0 = (columnTerms[cb] as number) + shift;
  const c1 = (columnTerms[cb + 1] as number) + shift;
  const c2 = (columnTerms[cb + 2] as number) + shift;
  const r0 = rowTerms[rb] as number;
  const r1 = rowTerms[rb + 1] as number;
  const r2 = rowTerms[rb + 2] as number;
  const a0 = data[r0 + c0] as number;
  const a1 = data[r0 + c1] as number;
  const a2 = data[r0 + c2] as number;
  const b0 = data[r1 + c0] as number;
  const b1 = data[r1 + c1] as number;
  const b2 = data[r1 + c2] as number;
  const d0 = data[r2 + c0] as number;
  const d1 = data[r2 + c1] as number;
  const d2 = data[r2 + c2] as number;
  const hi = Math.max(Math.max(a0, a1, a2), Math.max(b0, b1, b2), Math.max(d0, d1, d2));
  const lo = Math.min(Math.min(a0, a1, a2), Math.min(b0, b1, b2), Math.min(d0, d1, d2));
  return hi - lo;
}
