// Single-pixel sensor faults judged where the die pattern has cancelled: a lone spike with none of the spread a real spot has.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import type { Lattice, Vector } from "./lattice.ts";
import type { FloatMap } from "./raster.ts";
import type { Blob } from "./segment.ts";
import { DETECTION, SENSOR_FAULT, SPEC } from "./thresholds.ts";

/*
 * The quality gate measures the optics' blur on the wafer rim; the detection of the same pixels
 * reads it here (keyed weakly by the pixel array, like the gate's working map in
 * stages/input.ts). A detection without the gate in front has no measure and takes no optical
 * blur at all: the least spread a real spot can have, so it never judges more faults than the
 * measure would let it.
 */
let rimBlurs = new WeakMap<object, number>();

/** Hands the gate's rim blur (Gaussian sigma, px of this image; null: not measured) to the detection of `image`. */
export function handOverRimBlur(image: GrayImage, sigmaPx: number | null): void {
  rimBlurs = new WeakMap();
  if (sigmaPx !== null && Number.isFinite(sigmaPx) && sigmaPx > 0)
    rimBlurs.set(image.data, sigmaPx);
}

/** The rim blur the gate measured on exactly these pixels, or null. */
export function takeRimBlur(image: GrayImage): number | null {
  return rimBlurs.get(image.data) ?? null;
}

/**
 * The optics' own blur (Gaussian sigma, image px) from the gate's rim reading: the measure reads
 * SENSOR_FAULT.rimBlurSelfPx on a rim with no optical blur, deducted in quadrature.
 */
export function opticalBlurPx(rimBlurPx: number | null): number {
  if (rimBlurPx === null || !(rimBlurPx > 0)) return 0;
  return Math.sqrt(Math.max(0, rimBlurPx ** 2 - SENSOR_FAULT.rimBlurSelfPx ** 2));
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Share of a point at `v` (map px) blurred by `sigma` (map px) that lands in the map pixel row [j - 0.5, j + 0.5). */
function pointShare(j: number, v: number, sigma: number): number {
  if (sigma <= 1e-9) return v >= j - 0.5 && v < j + 0.5 ? 1 : 0;
  return normalCdf((j + 0.5 - v) / sigma) - normalCdf((j - 0.5 - v) / sigma);
}

/** psi' = Phi: the integral of the normal CDF, psi(t) = t Phi(t) + phi(t). */
function cdfIntegral(t: number): number {
  return t * normalCdf(t) + Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
}

/**
 * Length of the uniform segment [a, b] (map px) blurred by `sigma` that lands in the map pixel
 * column [i - 0.5, i + 0.5): exact (the blurred segment's profile integrates in closed form).
 */
function segmentShare(i: number, a: number, b: number, sigma: number): number {
  const x0 = i - 0.5;
  const x1 = i + 0.5;
  if (sigma <= 1e-9) return Math.max(0, Math.min(b, x1) - Math.max(a, x0));
  const profile = (x: number) =>
    sigma * (cdfIntegral((x - a) / sigma) - cdfIntegral((x - b) / sigma));
  return profile(x1) - profile(x0);
}

const spreadCache = new Map<string, number>();
/** Half-width (map px) of the window the spot's map pixels are summed over. */
const SPOT_WINDOW = 3;
/** The disk is cut into this many horizontal strips, each integrated exactly along x. */
const DISK_STRIPS = 128;

/**
 * The least spread of a real spot: a uniform disk `diameterPx` across (image px), blurred by a
 * Gaussian of `blurPx` (image px), averaged over map pixels of `scale` image px; the 8 neighbours
 * of its brightest map pixel summed, over that pixel. The least over the disk's sub-pixel
 * positions is centred on a pixel (off centre, more of it falls on neighbours); a quarter pixel
 * off both axes is taken too, as a check. A uniform disk is the most compact spot of its size,
 * so any real spot of that size spreads at least this much. Cached per (size, blur, scale).
 */
export function smallestSpotSpread(diameterPx: number, blurPx: number, scale: number): number {
  const key = `${diameterPx.toFixed(3)} ${blurPx.toFixed(3)} ${scale}`;
  const kept = spreadCache.get(key);
  if (kept !== undefined) return kept;
  const radius = diameterPx / scale / 2;
  const sigma = blurPx / scale;
  const side = 2 * SPOT_WINDOW + 1;
  const mass = new Float64Array(side * side);
  const xs = new Float64Array(side);
  const strip = (2 * radius) / DISK_STRIPS;
  let least = Number.POSITIVE_INFINITY;
  for (const offset of [0, 0.25]) {
    const ox = offset;
    const oy = offset;
    mass.fill(0);
    for (let s = 0; s < DISK_STRIPS; s++) {
      const v = -radius + (s + 0.5) * strip;
      const half = Math.sqrt(Math.max(0, radius * radius - v * v));
      for (let k = 0; k < side; k++)
        xs[k] = strip * segmentShare(k - SPOT_WINDOW, ox - half, ox + half, sigma);
      for (let y = 0; y < side; y++) {
        const share = pointShare(y - SPOT_WINDOW, oy + v, sigma);
        if (share === 0) continue;
        for (let x = 0; x < side; x++)
          mass[y * side + x] = (mass[y * side + x] as number) + (xs[x] as number) * share;
      }
    }
    let peak = SPOT_WINDOW * side + SPOT_WINDOW;
    for (let k = 0; k < mass.length; k++)
      if ((mass[k] as number) > (mass[peak] as number)) peak = k;
    const px = peak % side;
    const py = Math.floor(peak / side);
    let around = 0;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        if (dx === 0 && dy === 0) continue;
        const x = px + dx;
        const y = py + dy;
        if (x >= 0 && y >= 0 && x < side && y < side) around += mass[y * side + x] as number;
      }
    least = Math.min(least, around / (mass[peak] as number));
  }
  spreadCache.set(key, least);
  return least;
}

/** What the judgement reads about one wafer (sensorFaultJudge builds it). */
export interface SensorFaultJudge {
  work: FloatMap;
  /** The four comparison directions (map px): a, b, a + b, a - b. */
  directions: Vector[];
  residual: Float32Array;
  edgeMask: Uint8Array | null;
  /** Noise sigma of one unsmoothed pair difference (map units). */
  pairSigma: number;
  /** A fault's least spike on the map (the gate's definition, averaged over a map pixel). */
  spikeFloor: number;
  /** The least 8-neighbour spread of the spec's smallest particle on this map (smallestSpotSpread; computed when first asked). */
  spotSpread: () => number;
}

/**
 * The judgement's inputs for one wafer. `sigmaMap` is the working map's noise sigma,
 * `comparisonSigma` the die-to-die comparison's (on the smoothed map, measured die to die: it
 * holds correlated noise and JPEG error that the map's own estimate misses), `rimBlurPx` the
 * gate's rim blur in image px (null: none measured, then no optical blur is assumed).
 */
export function sensorFaultJudge(
  image: GrayImage,
  work: FloatMap,
  lattice: Lattice,
  residual: Float32Array,
  edgeMask: Uint8Array | null,
  sigmaMap: number,
  comparisonSigma: number | null,
  rimBlurPx: number | null,
): SensorFaultJudge {
  const { a, b } = lattice;
  const scale = work.scale;
  // The smoothed comparison's sigma over its white-noise gain: the unsmoothed map's sigma as the
  // comparison measured it (larger than the map's own for correlated noise: the safe side).
  const unsmoothed = Math.max(sigmaMap, (comparisonSigma ?? 0) / DETECTION.binomialNoiseGain);
  // A pixel minus the mean of two bilinear references: variance at most 1 + 1/2 of the pixel's.
  const pairSigma = unsmoothed * Math.sqrt(1.5);
  const imageSigma = sigmaMap * scale;
  const spikeFloor =
    Math.max(SENSOR_FAULT.spikeSigmas * imageSigma, SENSOR_FAULT.spikeMinStep * fullScale(image)) /
    (scale * scale);
  const shorter = Math.min(image.width, image.height);
  const diameterPx = (SPEC.particlePx[0] * shorter) / 2048;
  return {
    work,
    directions: [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }],
    residual,
    edgeMask,
    pairSigma,
    spikeFloor,
    // The blur rounded down to a step of BLUR_STEP_PX: never overstated, and the spread is
    // computed once per step and image size (about a ms) instead of once per wafer.
    spotSpread: () =>
      smallestSpotSpread(
        diameterPx,
        Math.floor(opticalBlurPx(rimBlurPx) / BLUR_STEP_PX) * BLUR_STEP_PX,
        scale,
      ),
  };
}

/** Bilinear sample of the map at (x, y); (x + 1, y + 1) must lie inside it. */
export function bilinear(map: FloatMap, x: number, y: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const { data, width } = map;
  const i = iy * width + ix;
  const top = (data[i] as number) + ((data[i + 1] as number) - (data[i] as number)) * fx;
  const bottom =
    (data[i + width] as number) +
    ((data[i + width + 1] as number) - (data[i + width] as number)) * fx;
  return top + (bottom - top) * fy;
}

/** The optics' blur is taken in steps of this many image px (rounded down). */
const BLUR_STEP_PX = 0.05;

/** The median of values[at .. at + 3]: their sum less the largest and the smallest, halved. */
function medianOfFour(values: Float64Array, at: number): number {
  const a = values[at] as number;
  const b = values[at + 1] as number;
  const c = values[at + 2] as number;
  const d = values[at + 3] as number;
  return 0.5 * (a + b + c + d - Math.max(a, b, c, d) - Math.min(a, b, c, d));
}

function largestOfFour(values: Float64Array, at: number): number {
  return Math.max(
    values[at] as number,
    values[at + 1] as number,
    values[at + 2] as number,
    values[at + 3] as number,
  );
}

/** Window (map px either side of the residual's peak) whose pair differences are read. */
const WINDOW = 2;

/**
 * Is this group one sensor fault? Judged on the unsmoothed working map against the same four
 * pair references the die-to-die comparison uses (the pattern cancels there; the comparison's
 * smoothing and misregistration allowance would blur or cut the very shape asked about):
 * - a point: every pixel of the group near its peak (SENSOR_FAULT.maxReachMapPx), all of it
 *   away from the rim ring (references there are extrapolated);
 * - a spike: the median of the four pair differences at the peak pixel reaches the gate's fault
 *   size (12 sigma and 10% of full scale at full resolution, averaged over a map pixel);
 * - no spread: summed over the 8 neighbours, the most spot-like of the four pair differences
 *   (the largest in the spike's sign: a real spot shows in all four, pattern residue differs
 *   between them) stays under half the least spread of a real spot (smallestSpotSpread), and
 *   that midpoint is SENSOR_FAULT.noiseSigmas noise sigmas clear of both.
 */
export function isSensorFault(group: Blob, judge: SensorFaultJudge): boolean {
  const { work, residual, edgeMask, directions } = judge;
  const { width, height } = work;
  const sign = group.sign;
  let top = -1;
  let topValue = Number.NEGATIVE_INFINITY;
  for (const i of group.pixels) {
    const v = sign * (residual[i] as number);
    if (v > topValue) {
      topValue = v;
      top = i;
    }
  }
  if (top < 0) return false;
  const tx = top % width;
  const ty = Math.floor(top / width);
  for (const i of group.pixels) {
    const reach = Math.max(Math.abs((i % width) - tx), Math.abs(Math.floor(i / width) - ty));
    if (reach > SENSOR_FAULT.maxReachMapPx) return false;
  }
  // Every reference of the window inside the map with a pixel to spare (bilinear reads x + 1).
  let reachX = 0;
  let reachY = 0;
  for (const d of directions) {
    reachX = Math.max(reachX, Math.abs(d.x));
    reachY = Math.max(reachY, Math.abs(d.y));
  }
  const margin = WINDOW + 1;
  if (
    tx - margin - reachX < 0 ||
    ty - margin - reachY < 0 ||
    tx + margin + reachX + 1 >= width ||
    ty + margin + reachY + 1 >= height
  )
    return false;
  const side = 2 * WINDOW + 1;
  // Per window pixel: the four pair differences in the spike's sign.
  const pairs = new Float64Array(side * side * 4);
  for (let wy = 0; wy < side; wy++)
    for (let wx = 0; wx < side; wx++) {
      const x = tx + wx - WINDOW;
      const y = ty + wy - WINDOW;
      const i = y * width + x;
      if (edgeMask && edgeMask[i] === 1) return false;
      const v = work.data[i] as number;
      for (let k = 0; k < 4; k++) {
        const d = directions[k] as Vector;
        const ref = 0.5 * (bilinear(work, x + d.x, y + d.y) + bilinear(work, x - d.x, y - d.y));
        pairs[(wy * side + wx) * 4 + k] = sign * (v - ref);
      }
    }
  // The spike's pixel: the largest median in the central 3 x 3 (the residual's peak is smoothed).
  let centre = -1;
  let spike = Number.NEGATIVE_INFINITY;
  for (let wy = WINDOW - 1; wy <= WINDOW + 1; wy++)
    for (let wx = WINDOW - 1; wx <= WINDOW + 1; wx++) {
      const median = medianOfFour(pairs, (wy * side + wx) * 4);
      if (median > spike) {
        spike = median;
        centre = wy * side + wx;
      }
    }
  if (spike < judge.spikeFloor) return false;
  const cx = centre % side;
  const cy = Math.floor(centre / side);
  let spread = 0;
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      if (dx === 0 && dy === 0) continue;
      spread += largestOfFour(pairs, ((cy + dy) * side + cx + dx) * 4);
    }
  const midpoint = SENSOR_FAULT.spreadShare * judge.spotSpread() * spike;
  if (midpoint < SENSOR_FAULT.noiseSigmas * Math.sqrt(8) * judge.pairSigma) return false;
  return spread < midpoint;
}

/** The groups that are not sensor faults, and how many were. */
export function dropSensorFaults(
  groups: Blob[],
  judge: SensorFaultJudge,
): { groups: Blob[]; removed: number } {
  const kept = groups.filter((group) => !isSensorFault(group, judge));
  return { groups: kept, removed: groups.length - kept.length };
}
