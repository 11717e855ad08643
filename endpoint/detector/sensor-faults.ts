// Single-pixel sensor faults judged where the die pattern has cancelled: a lone spike with none of the spread a real spot has.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import type { Lattice, Vector } from "./lattice.ts";
import type { FloatMap } from "./raster.ts";
import type { Blob } from "./segment.ts";
import { DETECTION, FAULT_SPREAD, SENSOR_FAULT, SPEC } from "./thresholds.ts";

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

/*
 * The pixels the gate replaced as hot or dead (image indices), handed over the same way: where
 * one was replaced, the image holds the gate's estimate from its neighbours, not an observation.
 */
let repairs = new WeakMap<object, readonly number[]>();

/** Hands the gate's repaired pixels (indices into `image`) to the detection of `image`. */
export function handOverRepairs(image: GrayImage, repaired: readonly number[]): void {
  repairs = new WeakMap();
  if (repaired.length > 0) repairs.set(image.data, repaired);
}

/** The pixels the gate repaired in exactly these pixels (none without the gate in front). */
export function takeRepairs(image: GrayImage): readonly number[] {
  return repairs.get(image.data) ?? [];
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

/** Half-width (map px) of the window the spot's map pixels are summed over. */
const SPOT_WINDOW = 3;
/** The disk is cut into this many horizontal strips, each integrated exactly along x. */
const DISK_STRIPS = 128;
/** Sub-pixel steps (map px) of the spot's position, per axis: 0 to half a pixel (the disk's mirror symmetry gives the rest). */
const SPOT_STEPS = [0, 0.125, 0.25, 0.375, 0.5];
/**
 * Positions (x, y) the least response is taken over: the whole grid (the disk's strips make
 * the computed masses a little asymmetric, 0.185 against 0.189, so no symmetry is assumed).
 * The least lies near the centred position (0.138 against 0.140 there for the 1.5 px disk at
 * 1024 px), so a grid is read.
 */
const SPOT_OFFSETS: ReadonlyArray<readonly [number, number]> = SPOT_STEPS.flatMap((ox) =>
  SPOT_STEPS.map((oy) => [ox, oy] as const),
);

/**
 * The map-pixel masses (a (2 SPOT_WINDOW + 1)^2 window, row-major) of a uniform disk of `radius`
 * map px centred (ox, oy) map px off the window's centre pixel, blurred by `sigma` map px.
 */
function spotMass(radius: number, sigma: number, ox: number, oy: number): Float64Array {
  const side = 2 * SPOT_WINDOW + 1;
  const mass = new Float64Array(side * side);
  const xs = stripShares(radius, sigma, ox, "x");
  const ys = stripShares(radius, sigma, oy, "y");
  for (let s = 0; s < DISK_STRIPS; s++)
    for (let y = 0; y < side; y++) {
      const share = ys[s * side + y] as number;
      if (share === 0) continue;
      for (let x = 0; x < side; x++)
        mass[y * side + x] = (mass[y * side + x] as number) + (xs[s * side + x] as number) * share;
    }
  return mass;
}

const stripCache = new Map<string, Float64Array>();

/**
 * Per strip of the disk (DISK_STRIPS rows) and map pixel of the window: along x the strip's
 * blurred length in that pixel column (times the strip's height), along y the share of the
 * strip's centre line in that pixel row. Each depends on one offset only, so the 25 positions
 * of smallestSpotResponse share 5 of each (cached with the disk and the blur).
 */
function stripShares(radius: number, sigma: number, offset: number, axis: "x" | "y"): Float64Array {
  const key = `${radius} ${sigma} ${offset} ${axis}`;
  const kept = stripCache.get(key);
  if (kept) return kept;
  const side = 2 * SPOT_WINDOW + 1;
  const shares = new Float64Array(DISK_STRIPS * side);
  const strip = (2 * radius) / DISK_STRIPS;
  for (let s = 0; s < DISK_STRIPS; s++) {
    const v = -radius + (s + 0.5) * strip;
    const half = Math.sqrt(Math.max(0, radius * radius - v * v));
    for (let k = 0; k < side; k++)
      shares[s * side + k] =
        axis === "x"
          ? strip * segmentShare(k - SPOT_WINDOW, offset - half, offset + half, sigma)
          : pointShare(k - SPOT_WINDOW, offset + v, sigma);
  }
  stripCache.set(key, shares);
  return shares;
}

/** The 8 neighbours of a 3 x 3 block, row-major, centre left out: (dx, dy) pairs. */
const NEIGHBOURS: ReadonlyArray<readonly [number, number]> = [
  [-1, -1],
  [0, -1],
  [1, -1],
  [-1, 0],
  [1, 0],
  [-1, 1],
  [0, 1],
  [1, 1],
];

/**
 * What the spec's smallest spot lends its 8 neighbours, as the rule reads it.
 * - `weights`: the matched weighting, the neighbours' share of the peak for the spot centred on a
 *   pixel (NEIGHBOURS order): a real spot's spread has this shape, a fault's is 0, so weighting
 *   each neighbour by it separates the two by sqrt(sum w^2) noise units instead of the unweighted
 *   sum's sum(w) / sqrt(8) (Cauchy-Schwarz: never less).
 * - `least`: the least weighted response, sum(w_n mass_n) over the brightest pixel's mass, over
 *   the spot's sub-pixel positions (SPOT_OFFSETS): any real spot of that size reads
 *   at least this times its peak.
 * - `spread`: the least unweighted 8-neighbour sum over the peak (round 11's reading), for reference.
 */
export interface SpotResponse {
  weights: Float64Array;
  least: number;
  spread: number;
}

const responseCache = new Map<string, SpotResponse>();

/**
 * The response of the spec's smallest spot: a uniform disk `diameterPx` across (image px),
 * blurred by a Gaussian of `blurPx` (image px), averaged over map pixels of `scale` image px. A
 * uniform disk is the most compact spot of its size, so any real spot of that size spreads at
 * least this much. Cached per (size, blur, scale).
 */
export function smallestSpotResponse(
  diameterPx: number,
  blurPx: number,
  scale: number,
): SpotResponse {
  const key = `${diameterPx.toFixed(3)} ${blurPx.toFixed(3)} ${scale}`;
  const kept = responseCache.get(key);
  if (kept) return kept;
  const radius = diameterPx / scale / 2;
  const sigma = blurPx / scale;
  const side = 2 * SPOT_WINDOW + 1;
  const centre = SPOT_WINDOW * side + SPOT_WINDOW;
  const centred = spotMass(radius, sigma, 0, 0);
  const weights = Float64Array.from(
    NEIGHBOURS,
    ([dx, dy]) => (centred[centre + dy * side + dx] as number) / (centred[centre] as number),
  );
  let least = Number.POSITIVE_INFINITY;
  let spread = Number.POSITIVE_INFINITY;
  for (const [ox, oy] of SPOT_OFFSETS) {
    const mass = ox === 0 && oy === 0 ? centred : spotMass(radius, sigma, ox, oy);
    let peak = centre;
    for (let k = 0; k < mass.length; k++)
      if ((mass[k] as number) > (mass[peak] as number)) peak = k;
    const px = peak % side;
    const py = Math.floor(peak / side);
    let weighted = 0;
    let around = 0;
    NEIGHBOURS.forEach(([dx, dy], n) => {
      const x = px + dx;
      const y = py + dy;
      const m = x >= 0 && y >= 0 && x < side && y < side ? (mass[y * side + x] as number) : 0;
      weighted += (weights[n] as number) * m;
      around += m;
    });
    least = Math.min(least, weighted / (mass[peak] as number));
    spread = Math.min(spread, around / (mass[peak] as number));
  }
  stripCache.clear();
  const response = { weights, least, spread };
  responseCache.set(key, response);
  return response;
}

/** The least unweighted 8-neighbour spread of the smallest spot over its peak (round 11's reading). */
export function smallestSpotSpread(diameterPx: number, blurPx: number, scale: number): number {
  return smallestSpotResponse(diameterPx, blurPx, scale).spread;
}

/** Where a pair reference counts as on the wafer (map px): within r of (cx, cy). */
export interface ReferenceDisk {
  cx: number;
  cy: number;
  r: number;
}

/** What the judgement reads about one wafer (sensorFaultJudge builds it). */
export interface SensorFaultJudge {
  work: FloatMap;
  /** The four comparison directions (map px): a, b, a + b, a - b. */
  directions: Vector[];
  residual: Float32Array;
  /** Pair references outside it are not read (null: the whole map is the wafer). */
  disk: ReferenceDisk | null;
  /** Noise sigma of one unsmoothed map pixel (map units). */
  pixelSigma: number;
  /** A fault's least spike on the map (the gate's definition, averaged over a map pixel). */
  spikeFloor: number;
  /** The spec's smallest particle's response on this map (smallestSpotResponse; computed when first asked). */
  spotResponse: () => SpotResponse;
  /** Map pixels holding a pixel the gate repaired (its estimate, not an observation). */
  repaired: ReadonlySet<number>;
}

/**
 * The judgement's inputs for one wafer. `sigmaMap` is the working map's noise sigma,
 * `comparisonSigma` the die-to-die comparison's (on the smoothed map, measured die to die: it
 * holds correlated noise and JPEG error that the map's own estimate misses), `rimBlurPx` the
 * gate's rim blur in image px (null: none measured, then no optical blur is assumed), `disk`
 * where the comparison's pair references are on the wafer (dieToDieResidual's valid radius).
 */
export function sensorFaultJudge(
  image: GrayImage,
  work: FloatMap,
  lattice: Lattice,
  residual: Float32Array,
  disk: ReferenceDisk | null,
  sigmaMap: number,
  comparisonSigma: number | null,
  rimBlurPx: number | null,
  repairedPx: readonly number[] = [],
): SensorFaultJudge {
  const { a, b } = lattice;
  const scale = work.scale;
  // The map pixel each repaired image pixel was binned into (raster.ts rebinPixels' blocks).
  const repaired = new Set<number>();
  for (const index of repairedPx) {
    const bx = Math.floor((index % image.width) / scale);
    const by = Math.floor(Math.floor(index / image.width) / scale);
    if (bx < work.width && by < work.height) repaired.add(by * work.width + bx);
  }
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
    disk,
    // The smoothed comparison's sigma over its white-noise gain: the unsmoothed map's sigma as the
    // comparison measured it (larger than the map's own for correlated noise: the safe side).
    pixelSigma: Math.max(sigmaMap, (comparisonSigma ?? 0) / DETECTION.binomialNoiseGain),
    spikeFloor,
    // The blur rounded down to a step of BLUR_STEP_PX: never overstated, and the response is
    // computed once per step and image size (a few ms) instead of once per wafer.
    spotResponse: () =>
      smallestSpotResponse(
        diameterPx,
        Math.floor(opticalBlurPx(rimBlurPx) / BLUR_STEP_PX) * BLUR_STEP_PX,
        scale,
      ),
    repaired,
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

/** The median of `count` (1-4) values from values[at]: for four, the mean of the middle two. */
function medianOf(values: Float64Array, at: number, count: number): number {
  const a = values[at] as number;
  if (count === 1) return a;
  const b = values[at + 1] as number;
  if (count === 2) return 0.5 * (a + b);
  const c = values[at + 2] as number;
  if (count === 3) return a + b + c - Math.max(a, b, c) - Math.min(a, b, c);
  const d = values[at + 3] as number;
  return 0.5 * (a + b + c + d - Math.max(a, b, c, d) - Math.min(a, b, c, d));
}

/**
 * The noise of a median of `count` pair differences over the pixel's own sigma. Each pair
 * difference is the pixel less the mean of two references (variance at most 1/2 of a pixel's,
 * bilinear sampling only lowers it); all share the pixel, so the median is the pixel less the
 * median of the `count` independent reference means: variance 1 + FAULT_SPREAD.medianVariance /
 * 2 (the median's variance of `count` unit normals).
 */
export function pairMedianSigma(count: number): number {
  const share = FAULT_SPREAD.medianVariance[count - 1];
  if (share === undefined) throw new RangeError(`pairMedianSigma: count ${count} is not 1-4`);
  return Math.sqrt(1 + share / 2);
}

/** Window (map px either side of the residual's peak) whose pair differences are read. */
const WINDOW = 2;

/**
 * Is this group one sensor fault? Judged on the unsmoothed working map against the same four
 * pair references the die-to-die comparison uses (the pattern cancels there; the comparison's
 * smoothing and misregistration allowance would blur or cut the very shape asked about):
 * - a point: every pixel of the group near its peak (SENSOR_FAULT.maxReachMapPx);
 * - the directions read are those whose references, for every pixel of the window, lie on the
 *   wafer (in the rim ring some fall off it); at least FAULT_SPREAD.minDirections, so that one
 *   direction's pattern residue cannot move the median;
 * - a spike: the median of those pair differences at the peak pixel reaches the gate's fault
 *   size (12 sigma and 10% of full scale at full resolution, averaged over a map pixel);
 * - no spread: the 8 neighbours' medians, weighted by the smallest real spot's own profile (a
 *   matched weighting: smallestSpotResponse), stay FAULT_SPREAD.spotSigmas noise sigmas under
 *   what that spot would lend them at this spike. Only that side is guarded: a real particle
 *   taken for a fault is a lost defect, a fault left a defect is what the detector did anyway.
 */
export function isSensorFault(group: Blob, judge: SensorFaultJudge): boolean {
  return readSensorFault(group, judge)?.fault ?? false;
}

/** What the rule read on a candidate (null: not a point, or too few directions on the wafer). */
export interface SensorFaultReading {
  /** Directions whose references are on the wafer. */
  directions: number;
  /** Median pair difference at the spike's pixel (map units, in the group's sign). */
  spike: number;
  /** The neighbours' medians weighted by the smallest spot's profile. */
  response: number;
  /** What the smallest real spot would read at this spike, least over its positions. */
  spotResponse: number;
  /** The least of the directions' pair differences at the spike's pixel (map units, in the group's sign). */
  weakest: number;
  /** The spike's pixel (map index). */
  centre: number;
  /** Noise sigma of spotResponse - response. */
  sigma: number;
  /** The response under which the candidate is a fault (spotResponse less spotSigmas sigmas). */
  bound: number;
  fault: boolean;
}

/** The rule's readings on one group (isSensorFault's verdict and what it rests on). */
export function readSensorFault(group: Blob, judge: SensorFaultJudge): SensorFaultReading | null {
  const { work, residual, directions, disk } = judge;
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
  if (top < 0) return null;
  const tx = top % width;
  const ty = Math.floor(top / width);
  for (const i of group.pixels) {
    const reach = Math.max(Math.abs((i % width) - tx), Math.abs(Math.floor(i / width) - ty));
    if (reach > SENSOR_FAULT.maxReachMapPx) return null;
  }
  // A direction is read when both its references lie on the map (with a pixel to spare:
  // bilinear reads x + 1) and on the wafer for every pixel of the window.
  const margin = WINDOW + 1;
  if (tx - margin < 0 || ty - margin < 0 || tx + margin >= width || ty + margin >= height)
    return null;
  const onWafer = (x: number, y: number) =>
    x >= 0 &&
    y >= 0 &&
    x + 1 < width &&
    y + 1 < height &&
    (disk === null || (x - disk.cx) ** 2 + (y - disk.cy) ** 2 <= disk.r * disk.r);
  const used: Vector[] = [];
  for (const d of directions) {
    let inside = true;
    // The window's corners bound its references (the disk is convex).
    for (const cy of [ty - WINDOW, ty + WINDOW])
      for (const cx of [tx - WINDOW, tx + WINDOW])
        for (const s of [1, -1]) if (!onWafer(cx + s * d.x, cy + s * d.y)) inside = false;
    if (inside) used.push(d);
  }
  const count = used.length;
  if (count < FAULT_SPREAD.minDirections) return null;
  const side = 2 * WINDOW + 1;
  // Per window pixel: the median of the pair differences read, in the spike's sign.
  const pairs = new Float64Array(count);
  const medians = new Float64Array(side * side);
  for (let wy = 0; wy < side; wy++)
    for (let wx = 0; wx < side; wx++) {
      const x = tx + wx - WINDOW;
      const y = ty + wy - WINDOW;
      const v = work.data[y * width + x] as number;
      for (let k = 0; k < count; k++) {
        const d = used[k] as Vector;
        const ref = 0.5 * (bilinear(work, x + d.x, y + d.y) + bilinear(work, x - d.x, y - d.y));
        pairs[k] = sign * (v - ref);
      }
      medians[wy * side + wx] = medianOf(pairs, 0, count);
    }
  // The spike's pixel: the largest median in the central 3 x 3 (the residual's peak is smoothed).
  let centre = -1;
  let spike = Number.NEGATIVE_INFINITY;
  for (let wy = WINDOW - 1; wy <= WINDOW + 1; wy++)
    for (let wx = WINDOW - 1; wx <= WINDOW + 1; wx++) {
      const median = medians[wy * side + wx] as number;
      if (median > spike) {
        spike = median;
        centre = wy * side + wx;
      }
    }
  // The least of the directions' pair differences at the spike's pixel (spotStrength's test:
  // a spot in this die raises every one; a difference along one die axis leaves it out).
  const cx = tx + (centre % side) - WINDOW;
  const cy = ty + Math.floor(centre / side) - WINDOW;
  const atCentre = work.data[cy * width + cx] as number;
  let weakest = Number.POSITIVE_INFINITY;
  for (const d of used) {
    const ref = 0.5 * (bilinear(work, cx + d.x, cy + d.y) + bilinear(work, cx - d.x, cy - d.y));
    weakest = Math.min(weakest, sign * (atCentre - ref));
  }
  const { weights, least } = judge.spotResponse();
  let response = 0;
  let weightSquares = 0;
  NEIGHBOURS.forEach(([dx, dy], n) => {
    const w = weights[n] as number;
    response += w * (medians[centre + dy * side + dx] as number);
    weightSquares += w * w;
  });
  // A real spot reads at least least x its peak; the spike is measured with the same noise as
  // each neighbour, so the difference's noise holds both.
  const sigma =
    judge.pixelSigma * pairMedianSigma(count) * Math.sqrt(weightSquares + least * least);
  const bound = least * spike - FAULT_SPREAD.spotSigmas * sigma;
  return {
    directions: count,
    spike,
    response,
    spotResponse: least * spike,
    weakest,
    centre: cy * width + cx,
    sigma,
    bound,
    fault: spike >= judge.spikeFloor && bound > 0 && response < bound,
  };
}

/** The groups that are not sensor faults, and how many were. */
export function dropSensorFaults(
  groups: Blob[],
  judge: SensorFaultJudge,
): { groups: Blob[]; removed: number } {
  const kept = groups.filter((group) => !isSensorFault(group, judge));
  return { groups: kept, removed: groups.length - kept.length };
}
