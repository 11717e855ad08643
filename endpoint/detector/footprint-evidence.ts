// One-signed die-to-die evidence summed over a defect-sized box, judged against what misregistration can leave there.
//
// The per-pixel allowance (die-to-die.ts) forgives share x the references' 2x2 range at every
// pixel: on small dies and motif detail that reaches 9-17% of the level and forgives real
// particles, voids and scratches (docs/detector-recall.md, round 8). It ignores shape. Inside
// the rim ring each pair average cancels a lattice error to first order; what the allowance
// forgives is a second difference of the reference (the bilinear samples' blur, the test die's
// sampling phase): opposite signs on the two sides of a motif edge or line, zero on flat
// ground. Summed over a box, a second difference telescopes to the reference's steps where the
// box's boundary crosses it: edges inside the box cancel. A particle, void or scratch has one
// sign over its footprint: its sum grows with the area it covers. Where that sum clears both
// what the blur can leave there and the measured noise of such sums, in at least three of the
// four directions (the residual's own rule: a defect differs along three directions), the box's
// pixels get their difference back without the per-pixel allowance; the box's bound is taken
// off evenly instead.
//
// Not called by detect() yet (branch allow3): its hook, in stages/die-to-die.ts between
// dieToDieResidual and levelDies on the comparison's smoothed map, costs about 10 ms of CPU per
// patterned wafer in JavaScript (a quarter of the stage) for no recall measured on the tuning
// sets: docs/detector-recall.md round 9 gives the hook, its numbers and what would change that.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, selectKth } from "./raster.ts";
import { FOOTPRINT } from "./thresholds.ts";

/** What the comparison ran on, as dieToDieResidual saw it. */
export interface FootprintInput {
  /** The smoothed map the residual compared (the die-to-die stage's comparison buffer). */
  map: FloatMap;
  /** The four comparison directions a, b, a+b, a-b (map px), as the residual uses them. */
  dirs: readonly Vector[];
  /** Per direction, the share of a one-pixel step forgiven per pixel (pairMisregistrationShare). */
  shares: ArrayLike<number>;
  region: DiskRegion;
  /** 1 where some reference is extrapolated (rim ring): the box statistic runs where none is. */
  edgeMask: Uint8Array;
}

export interface FootprintEvidence {
  /** Boxes whose evidence cleared the bound and the noise (their pixels were rewritten). */
  boxes: number;
  /** Pixels whose residual grew. */
  pixels: number;
  /** Per direction, the measured noise sigma of a box sum of that direction's difference. */
  sigmas: number[];
}

interface Shift {
  offset: number;
  fx: number;
  fy: number;
}

function shiftOf(x: number, y: number, width: number): Shift {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  return { offset: iy * width + ix, fx: x - ix, fy: y - iy };
}

function bilinear(data: Float32Array, width: number, j: number, fx: number, fy: number): number {
  const p00 = data[j] as number;
  const top = p00 + ((data[j + 1] as number) - p00) * fx;
  const p01 = data[j + width] as number;
  return top + (p01 + ((data[j + width + 1] as number) - p01) * fx - top) * fy;
}

/**
 * Box sums of `data` (side `side`, the box of pixel p starting `half` px up and left of it),
 * over rows [y0, y1] and columns [x0, x1]; other values are left as they were. Sums are carried
 * in doubles (a running float32 sum would drift along a row). The caller keeps the box inside
 * the frame.
 */
export function boxSums(
  data: Float32Array,
  width: number,
  side: number,
  rows: { y0: number; y1: number; x0: number; x1: number },
  into: Float32Array,
  columnSums: Float64Array,
): void {
  const half = Math.floor(side / 2);
  const { y0, y1, x0, x1 } = rows;
  const c0 = x0 - half;
  const c1 = x1 - half + side - 1;
  if (y0 > y1 || x0 > x1) return;
  columnSums.fill(0, c0, c1 + 1);
  // Column sums over the box's rows, kept as a running window down the rows.
  for (let y = y0 - half; y < y0 - half + side; y++) {
    const base = y * width;
    for (let x = c0; x <= c1; x++)
      columnSums[x] = (columnSums[x] as number) + (data[base + x] as number);
  }
  for (let y = y0; y <= y1; y++) {
    if (y > y0) {
      const leaving = (y - half - 1) * width;
      const entering = (y - half + side - 1) * width;
      for (let x = c0; x <= c1; x++)
        columnSums[x] =
          (columnSums[x] as number) -
          (data[leaving + x] as number) +
          (data[entering + x] as number);
    }
    let sum = 0;
    for (let x = c0; x < c0 + side; x++) sum += columnSums[x] as number;
    const base = y * width;
    into[base + x0] = sum;
    for (let x = x0 + 1; x <= x1; x++) {
      sum += (columnSums[x - half + side - 1] as number) - (columnSums[x - half - 1] as number);
      into[base + x] = sum;
    }
  }
}

/** The box sums, kept between detections (a fresh 4 MB array per wafer costs page faults). */
let kept = new Float32Array(0);
let keptColumns = new Float64Array(0);

/**
 * S = B(p) - (B(p + d) + B(p - d)) / 2 from the box sums B: B's bilinear samples are the box
 * sums of the map's bilinear samples (both are linear), so this is the box sum of the pixel
 * differences the residual compares along d, before any allowance.
 */
function boxDifference(
  sums: Float32Array,
  width: number,
  p: number,
  plus: number,
  fxPlus: number,
  fyPlus: number,
  minus: number,
  fxMinus: number,
  fyMinus: number,
): number {
  const j = p + plus;
  const a00 = sums[j] as number;
  const aTop = a00 + ((sums[j + 1] as number) - a00) * fxPlus;
  const a01 = sums[j + width] as number;
  const aBottom = a01 + ((sums[j + width + 1] as number) - a01) * fxPlus;
  const i = p + minus;
  const b00 = sums[i] as number;
  const bTop = b00 + ((sums[i + 1] as number) - b00) * fxMinus;
  const b01 = sums[i + width] as number;
  const bBottom = b01 + ((sums[i + width + 1] as number) - b01) * fxMinus;
  return (
    (sums[p] as number) -
    0.5 * (aTop + (aBottom - aTop) * fyPlus + bTop + (bBottom - bTop) * fyMinus)
  );
}

/**
 * Finds boxes of one-signed die-to-die evidence the per-pixel allowance forgave and writes
 * their pixels' differences, less the box's misregistration bound, into `residual` (before
 * the dies are levelled). Runs only where every reference is a pair average (edgeMask 0).
 */
export function restoreFootprintEvidence(
  input: FootprintInput,
  residual: Float32Array,
): FootprintEvidence {
  const { map, dirs, shares, region, edgeMask } = input;
  const { width, height, data } = map;
  const side = FOOTPRINT.boxMapPx;
  const half = Math.floor(side / 2);
  const stride = FOOTPRINT.strideMapPx;
  const { cx, cy, r } = region;
  const none: FootprintEvidence = { boxes: 0, pixels: 0, sigmas: [0, 0, 0, 0] };
  // Shifts interleaved +d, -d per direction, as the residual's tables.
  const shifts: Shift[] = [];
  for (const d of dirs)
    for (const sign of [1, -1]) shifts.push(shiftOf(sign * d.x, sign * d.y, width));
  const offsets = Int32Array.from(shifts, (s) => s.offset);
  const fxs = Float64Array.from(shifts, (s) => s.fx);
  const fys = Float64Array.from(shifts, (s) => s.fy);
  // Candidate centres keep their box, its one-pixel rim and every reference of those inside
  // the frame, with a pixel for the bilinear sample's right and lower neighbours.
  let reachX = 0;
  let reachY = 0;
  for (const d of dirs) {
    reachX = Math.max(reachX, Math.ceil(Math.abs(d.x)));
    reachY = Math.max(reachY, Math.ceil(Math.abs(d.y)));
  }
  const marginLow = half + RIM;
  const marginHigh = side - half - 1 + RIM;
  const patchSide = side + 2 * RIM;
  const toCorner = (half + RIM) * (width + 1);
  const xMin = Math.max(reachX + marginLow + 1, Math.ceil(cx - r));
  const xMax = Math.min(width - 2 - reachX - marginHigh - 1, Math.floor(cx + r));
  const yMin = Math.max(reachY + marginLow + 1, Math.ceil(cy - r));
  const yMax = Math.min(height - 2 - reachY - marginHigh - 1, Math.floor(cy + r));
  if (xMin > xMax || yMin > yMax) return none;
  if (kept.length < width * height) kept = new Float32Array(width * height);
  if (keptColumns.length < width) keptColumns = new Float64Array(width);
  const sums = kept;
  boxSums(
    data,
    width,
    side,
    {
      y0: yMin - reachY - 1,
      y1: yMax + reachY + 1,
      x0: xMin - reachX - 1,
      x1: xMax + reachX + 1,
    },
    sums,
    keptColumns,
  );
  const o0 = offsets[0] as number;
  const o1 = offsets[1] as number;
  const o2 = offsets[2] as number;
  const o3 = offsets[3] as number;
  const o4 = offsets[4] as number;
  const o5 = offsets[5] as number;
  const o6 = offsets[6] as number;
  const o7 = offsets[7] as number;
  const fx0 = fxs[0] as number;
  const fx1 = fxs[1] as number;
  const fx2 = fxs[2] as number;
  const fx3 = fxs[3] as number;
  const fx4 = fxs[4] as number;
  const fx5 = fxs[5] as number;
  const fx6 = fxs[6] as number;
  const fx7 = fxs[7] as number;
  const fy0 = fys[0] as number;
  const fy1 = fys[1] as number;
  const fy2 = fys[2] as number;
  const fy3 = fys[3] as number;
  const fy4 = fys[4] as number;
  const fy5 = fys[5] as number;
  const fy6 = fys[6] as number;
  const fy7 = fys[7] as number;
  const r2 = r * r;
  // Inside the disk and clear of the rim ring, so the box and its rim compare with pairs: the
  // pair-reference region is convex (an intersection of shifted disks), so its corners decide.
  const interior = (x: number, y: number): boolean => {
    const left = x - marginLow;
    const right = x + marginHigh;
    const top = y - marginLow;
    const bottom = y + marginHigh;
    return (
      (left - cx) ** 2 + (top - cy) ** 2 <= r2 &&
      (right - cx) ** 2 + (top - cy) ** 2 <= r2 &&
      (left - cx) ** 2 + (bottom - cy) ** 2 <= r2 &&
      (right - cx) ** 2 + (bottom - cy) ** 2 <= r2 &&
      edgeMask[top * width + left] === 0 &&
      edgeMask[top * width + right] === 0 &&
      edgeMask[bottom * width + left] === 0 &&
      edgeMask[bottom * width + right] === 0
    );
  };

  // Noise of each direction's box sum, measured on this wafer (correlated noise, JPEG and
  // die-specific detail included) on a sparse grid of interior boxes: the median |S_k| of the
  // flattest third of them (by the step bound of their own pixels), where misregistration puts
  // least into a box sum. On a dense pattern the flattest boxes still hold some: the estimate
  // then errs high, never below the noise.
  const sampleStep = stride * FOOTPRINT.noiseSampleEvery;
  const capacity =
    (Math.floor((xMax - xMin) / sampleStep) + 1) * (Math.floor((yMax - yMin) / sampleStep) + 1);
  const samples = [0, 1, 2, 3].map(() => new Float64Array(capacity));
  const [q0, q1, q2, q3] = samples as [Float64Array, Float64Array, Float64Array, Float64Array];
  const steps = new Float64Array(capacity);
  const own = new Float64Array(patchSide * patchSide);
  let n = 0;
  for (let y = yMin; y <= yMax; y += sampleStep)
    for (let x = xMin; x <= xMax; x += sampleStep) {
      if (!interior(x, y)) continue;
      const p = y * width + x;
      q0[n] = Math.abs(boxDifference(sums, width, p, o0, fx0, fy0, o1, fx1, fy1));
      q1[n] = Math.abs(boxDifference(sums, width, p, o2, fx2, fy2, o3, fx3, fy3));
      q2[n] = Math.abs(boxDifference(sums, width, p, o4, fx4, fy4, o5, fx5, fy5));
      q3[n] = Math.abs(boxDifference(sums, width, p, o6, fx6, fy6, o7, fx7, fy7));
      valuePatch(data, width, p - toCorner, patchSide, own);
      steps[n] = stepBound(own, 0, patchSide);
      n++;
    }
  if (n < FOOTPRINT.minNoiseSamples) return none;
  const flatLimit = selectKth(steps.slice(0, n), n, Math.floor(n * FOOTPRINT.flatShare));
  let flat = 0;
  for (let j = 0; j < n; j++) {
    if ((steps[j] as number) > flatLimit) continue;
    q0[flat] = q0[j] as number;
    q1[flat] = q1[j] as number;
    q2[flat] = q2[j] as number;
    q3[flat] = q3[j] as number;
    flat++;
  }
  const sigmas = samples.map((s) => selectKth(s, flat, Math.floor(flat / 2)) / MEDIAN_ABS_TO_SIGMA);
  if (!sigmas.every((s) => s > 0)) return { ...none, sigmas };
  const z = FOOTPRINT.evidenceSigmas;
  const s0 = sigmas[0] as number;
  const s1 = sigmas[1] as number;
  const s2 = sigmas[2] as number;
  const s3 = sigmas[3] as number;
  const t0 = z * s0;
  const t1 = z * s1;

  const patch = new Float64Array(4 * patchSide * patchSide);
  const bounds = new Float64Array(4);
  const signed = new Float64Array(4);
  const differences = new Float64Array(4);
  let boxes = 0;
  let pixels = 0;
  for (let y = yMin; y <= yMax; y += stride) {
    const dy = y - cy;
    const span = Math.sqrt(Math.max(0, r2 - dy * dy));
    // Grid columns fixed across rows (xMin + a multiple of the stride).
    const first = Math.max(xMin, Math.ceil(cx - span));
    const from = xMin + Math.ceil((first - xMin) / stride) * stride;
    const to = Math.min(xMax, Math.floor(cx + span));
    for (let x = from; x <= to; x += stride) {
      const p = y * width + x;
      // Three of four directions must clear: at least one of the first two does.
      const b0 = boxDifference(sums, width, p, o0, fx0, fy0, o1, fx1, fy1);
      const b1 = boxDifference(sums, width, p, o2, fx2, fy2, o3, fx3, fy3);
      if (b0 < t0 && b0 > -t0 && b1 < t1 && b1 > -t1) continue;
      const b2 = boxDifference(sums, width, p, o4, fx4, fy4, o5, fx5, fy5);
      const b3 = boxDifference(sums, width, p, o6, fx6, fy6, o7, fx7, fy7);
      const sign = Math.sign(b0 / s0 + b1 / s1 + b2 / s2 + b3 / s3);
      differences[0] = sign * b0;
      differences[1] = sign * b1;
      differences[2] = sign * b2;
      differences[3] = sign * b3;
      for (let k = 0; k < 4; k++) signed[k] = (differences[k] as number) / (sigmas[k] as number);
      if (secondSmallest(signed) < z || !interior(x, y)) continue;
      // The bound needs the references themselves over the box and its rim.
      referencePatch(data, width, p - toCorner, patchSide, offsets, fxs, fys, patch);
      for (let k = 0; k < 4; k++) {
        bounds[k] = 0.5 * (shares[k] as number) * stepBound(patch, k * patchSide ** 2, patchSide);
        signed[k] = ((differences[k] as number) - (bounds[k] as number)) / (sigmas[k] as number);
      }
      if (secondSmallest(signed) < z) continue;
      boxes++;
      pixels += writeBox(data, width, p - half * (width + 1), side, patch, bounds, sign, residual);
    }
  }
  return { boxes, pixels, sigmas };
}

/** Median |x| of a unit Gaussian. */
const MEDIAN_ABS_TO_SIGMA = 0.6745;

/** The 2nd smallest of four values. */
function secondSmallest(v: Float64Array): number {
  const m0 = v[0] as number;
  const m1 = v[1] as number;
  const m2 = v[2] as number;
  const m3 = v[3] as number;
  return Math.min(
    Math.max(Math.min(m0, m1), Math.min(m2, m3)),
    Math.min(Math.max(m0, m1), Math.max(m2, m3)),
  );
}

/** The map's values over an n x n patch whose top-left pixel is `corner`. */
function valuePatch(
  data: Float32Array,
  width: number,
  corner: number,
  n: number,
  patch: Float64Array,
): void {
  for (let row = 0; row < n; row++)
    for (let col = 0; col < n; col++)
      patch[row * n + col] = data[corner + row * width + col] as number;
}

/**
 * Each direction's pair-average reference over an n x n patch whose top-left pixel is `corner`,
 * into patch[k * n * n + row * n + column].
 */
function referencePatch(
  data: Float32Array,
  width: number,
  corner: number,
  n: number,
  offsets: Int32Array,
  fxs: Float64Array,
  fys: Float64Array,
  patch: Float64Array,
): void {
  for (let k = 0; k < 4; k++) {
    const plus = 2 * k;
    const minus = plus + 1;
    for (let row = 0; row < n; row++)
      for (let col = 0; col < n; col++) {
        const q = corner + row * width + col;
        patch[k * n * n + row * n + col] =
          0.5 *
          (bilinear(
            data,
            width,
            q + (offsets[plus] as number),
            fxs[plus] as number,
            fys[plus] as number,
          ) +
            bilinear(
              data,
              width,
              q + (offsets[minus] as number),
              fxs[minus] as number,
              fys[minus] as number,
            ));
      }
  }
}

/** Pixels of rim around the box that the bound reads (stepBound). */
const RIM = 2;

/**
 * How much the per-pixel allowance's error can put into the box sum, per unit share. Inside
 * the rim ring the pair average cancels a lattice error to first order (die-to-die.ts
 * pairMisregistrationShare): what the share forgives is the bilinear samples' blur and the
 * test die's own sampling phase, a second difference of the reference R (at most share x a
 * one-pixel step per pixel). A second difference sums along a row to the difference of the
 * steps at the box's two sides, sum_x (R(x + 1) - 2 R(x) + R(x - 1)) = (R(x1 + 1) - R(x1)) -
 * (R(x0) - R(x0 - 1)): steps inside the box cancel. A reference sampled a fraction of a pixel
 * away moves the box's boundary into the pixel beside it (the box sums are interpolated
 * between whole-pixel boxes), so the steps on either side of each boundary pixel count too:
 * three steps per side, per row and per column, half the share each (the blur is half the
 * variance times the second difference). `patch` holds R over the box and a RIM-pixel rim,
 * n x n from `at`.
 */
export function stepBound(patch: Float64Array, at: number, n: number): number {
  const first = RIM;
  const last = n - 1 - RIM;
  let bound = 0;
  for (let i = first; i <= last; i++) {
    const row = at + i * n;
    for (let c = first - 2; c <= first; c++)
      bound += Math.abs((patch[row + c + 1] as number) - (patch[row + c] as number));
    for (let c = last - 1; c <= last + 1; c++)
      bound += Math.abs((patch[row + c + 1] as number) - (patch[row + c] as number));
    for (let r = first - 2; r <= first; r++)
      bound += Math.abs(
        (patch[at + (r + 1) * n + i] as number) - (patch[at + r * n + i] as number),
      );
    for (let r = last - 1; r <= last + 1; r++)
      bound += Math.abs(
        (patch[at + (r + 1) * n + i] as number) - (patch[at + r * n + i] as number),
      );
  }
  return bound;
}

/**
 * The box's pixels get, per direction, their signed difference less the box's bound spread
 * evenly over it; the 2nd smallest of the four (the residual's rule), where it exceeds what
 * the pixel holds. Returns how many pixels grew.
 */
function writeBox(
  data: Float32Array,
  width: number,
  corner: number,
  side: number,
  patch: Float64Array,
  bounds: Float64Array,
  sign: number,
  residual: Float32Array,
): number {
  const n = side + 2 * RIM;
  const area = side * side;
  const excess = new Float64Array(4);
  let grew = 0;
  for (let row = 0; row < side; row++)
    for (let col = 0; col < side; col++) {
      const q = corner + row * width + col;
      const v = data[q] as number;
      for (let k = 0; k < 4; k++)
        excess[k] =
          sign * (v - (patch[k * n * n + (row + RIM) * n + col + RIM] as number)) -
          (bounds[k] as number) / area;
      const value = secondSmallest(excess);
      if (value > Math.abs(residual[q] as number)) {
        residual[q] = sign * value;
        grew++;
      }
    }
  return grew;
}
