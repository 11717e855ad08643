// Finding the wafer disk: a coarse disk (locate-coarse.ts) or the gate's seed, then the rim traced along rays at full resolution (locate-rays.ts) and fitted by a robust circle.

import type { GrayImage } from "../../lib/gray-image.ts";
import { DIAMETER_FRACTION_RANGE } from "../quality/thresholds.ts";
import { WaferNotFoundError } from "./errors.ts";
import type { Circle } from "./geometry.ts";
import { type CoarseDisk, coarseByLevel, coarseBySteps } from "./locate-coarse.ts";
import { castRays, fitRim, type RimProfile } from "./locate-rays.ts";
import { binMap, type FloatMap } from "./raster.ts";
import { COARSE_TRACE, RIM, SEEDED_TRACE } from "./thresholds.ts";

export interface WaferLocation {
  circle: Circle;
  /** Rim radii per ray about the fitted circle's centre, sorted by angle. */
  rim: RimProfile;
  /** Mean wafer and chuck levels (native units) the rim was traced between. */
  waferLevel: number;
  chuckLevel: number;
}

/** Re-expresses rim radii about a new centre (the fitted one) so deficits read directly. */
function recentre(rim: RimProfile, from: { x: number; y: number }, to: Circle): RimProfile {
  const n = rim.angles.length;
  const angles = new Float64Array(n);
  const radii = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rim.radii[i] as number;
    const phi = rim.angles[i] as number;
    if (Number.isNaN(r)) {
      angles[i] = phi;
      radii[i] = r;
      continue;
    }
    const x = from.x + r * Math.cos(phi) - to.cx;
    const y = from.y + r * Math.sin(phi) - to.cy;
    const phiNew = Math.atan2(y, x);
    angles[i] = phiNew < 0 ? phiNew + 2 * Math.PI : phiNew;
    radii[i] = Math.hypot(x, y);
  }
  return { angles, radii };
}

/**
 * A disk found before detection (the quality gate's fit, endpoint/quality/disk.ts): where
 * locate's own trace starts, in place of its coarse pass.
 */
export interface DiskSeed {
  /** Full-resolution px. */
  circle: Circle;
  /** Full-resolution px per pixel of the overview the seed was fitted on. */
  pixelPx: number;
  waferIsBright: boolean;
  /** Mean wafer and chuck levels, fractions of full scale. */
  waferLevel: number;
  chuckLevel: number;
}

/**
 * Locates the wafer. `work` is the binned working map (used for the coarse pass); the rim is
 * then measured on the full-resolution image for sub-pixel radius and chip depth. With a
 * `seed` (a disk found by one global level), the coarse pass is skipped: the full-resolution
 * rays start from the seed's circle and reach only as far past it as an out-of-round disk and
 * the seed's own error need, and the robust fit starts from it. The answer is still locate's
 * own fit of its own rim.
 */
export function locateWafer(
  image: GrayImage,
  work: FloatMap,
  fullScale: number,
  seed?: DiskSeed | null,
): WaferLocation {
  if (seed) {
    // A trace the seed cannot hold (its circle too far off, or a rim outside its window) is
    // not an answer: the disk is then found from scratch, as without a seed.
    const traced = traceFromSeed(image, seed, fullScale);
    if (traced) return traced;
  }
  const factor = Math.max(1, Math.floor(Math.min(work.width, work.height) / 320));
  const overview = factor > 1 ? binMap(work, factor) : work;
  const byLevel = coarseByLevel(overview, fullScale);
  if (!byLevel) return traceRim(image, overview, coarseBySteps(overview, fullScale));
  // The rim's local step, asked once whenever the level found a disk: both the check below and
  // the fallback after a failed level trace use it.
  const bySteps = stepsDiskOrNull(overview, fullScale);
  const stepsOutside = bySteps !== null && reachesPastTrace(bySteps, byLevel);
  if (bySteps && stepsOutside) {
    // The wafer is the outermost disk: the chuck lies around it. A level disk whose trace
    // window ends inside the rim's local step outlined part of the wafer (its centre, bright
    // under frame-centred vignetting and a level falling towards the rim, with a chuck as
    // bright as that centre), whatever its size.
    try {
      return traceRim(image, overview, bySteps);
    } catch (stepsError) {
      if (!(stepsError instanceof WaferNotFoundError)) throw stepsError;
    }
  }
  try {
    return traceRim(image, overview, byLevel);
  } catch (levelError) {
    // The global level outlined a disk that the full-resolution trace does not confirm: under
    // strong vignetting it can outline the bright centre only (a "disk" of half the frame).
    // The rim's local step does not depend on one level for the whole frame; if it finds no
    // plausible disk either (or was traced above and failed), the level's own reason is the one
    // reported.
    if (!(levelError instanceof WaferNotFoundError) || !bySteps || stepsOutside) throw levelError;
    try {
      return traceRim(image, overview, bySteps);
    } catch (stepsError) {
      throw stepsError instanceof WaferNotFoundError ? levelError : stepsError;
    }
  }
}

/** coarseBySteps, or null when the rim's local step finds no plausible disk. */
function stepsDiskOrNull(overview: FloatMap, fullScale: number): CoarseDisk | null {
  try {
    return coarseBySteps(overview, fullScale);
  } catch (error) {
    if (error instanceof WaferNotFoundError) return null;
    throw error;
  }
}

/**
 * Whether the rim's local step reaches past the window in which traceRim would look for the
 * level disk's rim (COARSE_TRACE, overview px): the level's full-resolution trace cannot find
 * that rim, so the level outlined something inside it.
 */
function reachesPastTrace(steps: CoarseDisk, byLevel: CoarseDisk): boolean {
  const level = byLevel.circle;
  const offset = Math.hypot(steps.circle.cx - level.cx, steps.circle.cy - level.cy);
  const reach = level.r * COARSE_TRACE.outwardShare + COARSE_TRACE.marginPixels;
  return steps.circle.r + offset > reach;
}

/** The rim at full resolution from a coarse disk: sub-pixel radius and chip depth. */
function traceRim(image: GrayImage, overview: FloatMap, coarse: CoarseDisk): WaferLocation {
  const { circle, rimThreshold, waferIsBright, waferMean, chuckMean } = coarse;
  const toFull = (v: number) => (v + 0.5) * overview.scale - 0.5;
  const centreFull = { x: toFull(circle.cx), y: toFull(circle.cy) };
  const rFull = circle.r * overview.scale;
  const rays = raysFor(rFull);
  // Inward reach covers the deepest edge chips (a few % of the radius) and the notch.
  const rim = castRays(
    image.data,
    image.width,
    image.height,
    centreFull,
    rays,
    rFull * 0.93 - COARSE_TRACE.marginPixels * overview.scale,
    rFull * COARSE_TRACE.outwardShare + COARSE_TRACE.marginPixels * overview.scale,
    1,
    rimThreshold,
    waferIsBright,
  );
  const fine = fitRim(rim, centreFull, 0.75);
  if (!fine) {
    throw new WaferNotFoundError(
      "no wafer disk found: the rim could not be traced at full resolution",
    );
  }
  return placeFit(image, rim, centreFull, fine, waferMean, chuckMean);
}

/** Rays of the full-resolution trace: one per 1.5 px of rim. */
function raysFor(rFull: number): number {
  return Math.min(8192, Math.max(720, Math.round((2 * Math.PI * rFull) / 1.5)));
}

/**
 * The rim at full resolution from a seed disk, or null when the seed cannot hold it. The rays
 * reach inwards as traceRim's do (the deepest chips and the notch); outwards only past the
 * seed's circle by the spec's out-of-round share, the seed's error and the samples the
 * crossing's refinement reads beyond it, where traceRim's reach 3% of the radius out covers a
 * coarse circle's error. The traced levels are the seed's (the chuck and wafer class means of
 * one global level) and the rim is traced at RIM.traceShare between them, as coarseByLevel's.
 */
function traceFromSeed(image: GrayImage, seed: DiskSeed, fullScale: number): WaferLocation | null {
  const { circle, pixelPx, waferIsBright } = seed;
  const centreFull = { x: circle.cx, y: circle.cy };
  const rFull = circle.r;
  const margin = SEEDED_TRACE.seedErrorPixels * pixelPx;
  const reach = rFull * (1 + SEEDED_TRACE.outOfRoundShare) + margin + SEEDED_TRACE.refineSamples;
  const waferMean = seed.waferLevel * fullScale;
  const chuckMean = seed.chuckLevel * fullScale;
  const rimThreshold = chuckMean + RIM.traceShare * (waferMean - chuckMean);
  const rim = castRays(
    image.data,
    image.width,
    image.height,
    centreFull,
    raysFor(rFull),
    rFull * 0.93 - margin,
    reach,
    1,
    rimThreshold,
    waferIsBright,
  );
  const fine = fitRim(rim, centreFull, 0.75, circle);
  if (!fine) return null;
  // The fitted disk's out-of-round rim, with the refinement's samples, must lie inside the
  // reach from the rays' origin; else some rays stopped short of it and the fit is the seed's.
  const offset = Math.hypot(fine.cx - centreFull.x, fine.cy - centreFull.y);
  const farthest = fine.r * (1 + SEEDED_TRACE.outOfRoundShare / 2) + offset;
  if (farthest + SEEDED_TRACE.refineSamples > reach) return null;
  try {
    return placeFit(image, rim, centreFull, fine, waferMean, chuckMean);
  } catch (error) {
    if (error instanceof WaferNotFoundError) return null;
    throw error;
  }
}

/** The located wafer from a fine fit of the full-resolution rim, checked against the spec's size. */
function placeFit(
  image: GrayImage,
  rim: RimProfile,
  centreFull: { x: number; y: number },
  fine: Circle,
  waferMean: number,
  chuckMean: number,
): WaferLocation {
  const rimAbout = recentre(rim, centreFull, fine);
  // The gate's plausible range for the spec's 80-98%: a disk outside it is not the wafer (a
  // level can outline a vignetted wafer's bright centre only), whatever the coarse pass said.
  const imageMin = Math.min(image.width, image.height);
  const diameterFraction = (2 * fine.r) / imageMin;
  const [least, most] = DIAMETER_FRACTION_RANGE;
  if (diameterFraction < least || diameterFraction > most) {
    throw new WaferNotFoundError(
      `no wafer disk found: fitted disk diameter is ${(100 * diameterFraction).toFixed(0)}% of the frame (expected 80-98%)`,
    );
  }
  return { circle: fine, rim: sortByAngle(rimAbout), waferLevel: waferMean, chuckLevel: chuckMean };
}

/**
 * The rim's samples in ascending angle (a stable sort: ties keep ray order). The sorted copies
 * are filled by a loop: Float64Array.from with a mapping function over an array goes through
 * the iterator protocol and a call per element, and took a millisecond of each detection.
 */
function sortByAngle(rim: RimProfile): RimProfile {
  const n = rim.angles.length;
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (rim.angles[a] as number) - (rim.angles[b] as number));
  const angles = new Float64Array(n);
  const radii = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = order[k] as number;
    angles[k] = rim.angles[i] as number;
    radii[k] = rim.radii[i] as number;
  }
  return { angles, radii };
}
