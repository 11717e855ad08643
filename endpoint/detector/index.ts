// The default classical-vision wafer defect detector: locate the wafer, model it, flag what differs.
import { performance } from "node:perf_hooks";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import type { Die, Point } from "../../schemas/common.ts";
import {
  type Defect,
  type DetectionHints,
  DetectionHintsSchema,
  type ModelInfo,
  type Wafer,
} from "../../schemas/detection.ts";
import {
  fitSmoothBackground,
  type SmoothBackground,
  structuredBlockShare,
  subtractBackground,
} from "./background.ts";
import {
  type BlobFeatures,
  classifyBlob,
  type FeatureContext,
  measureBlob,
  mergeFragments,
} from "./classify.ts";
import { dieToDieResidual, levelDies } from "./die-to-die.ts";
import { InvalidHintsError, InvalidImageError } from "./errors.ts";
import {
  type Circle,
  type DieGrid,
  dieAt,
  pixelToWaferMm,
  type WaferFrame,
  waferMmToPixel,
} from "./geometry.ts";
import { type Lattice, measureLattice, type Vector } from "./lattice.ts";
import { locateWafer } from "./locate.ts";
import { type DiskRegion, estimateDieDifferenceNoise, estimateNoiseSigma } from "./noise.ts";
import {
  binImage,
  binomialBlur3,
  type FloatMap,
  quantileInPlace,
  sampleBilinear,
} from "./raster.ts";
import { type RimDeficit, type RimReading, readRim, rimRadiusAt } from "./rim.ts";
import { type Blob, hysteresisBlobs, type Thresholds } from "./segment.ts";
import { measureSigmas, type PatternAwareSigma, sigmaAt, smallestSigma } from "./threshold.ts";
import { DETECTION, LATTICE, LATTICE_LINE, MERGE, RIM, SCORE, SPEC } from "./thresholds.ts";
import { DETECTOR_VERSION } from "./version.ts";

export {
  DetectorError,
  InvalidHintsError,
  InvalidImageError,
  WaferNotFoundError,
} from "./errors.ts";

export { DETECTOR_VERSION } from "./version.ts";

export const DETECTOR_INFO: ModelInfo = { name: "waferflow-classical", version: DETECTOR_VERSION };

export interface DetectionResult {
  wafer: Wafer;
  defects: Defect[];
  timingMs: Record<string, number>;
}

function checkImage(image: GrayImage): void {
  const { width, height, bitDepth, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 64 || height < 64) {
    throw new InvalidImageError(
      `image size ${width}x${height} is not a usable frame (need integers >= 64)`,
    );
  }
  if (bitDepth !== 8 && bitDepth !== 16)
    throw new InvalidImageError(`bit depth ${bitDepth} is not 8 or 16`);
  if (bitDepth === 8 && !(data instanceof Uint8Array)) {
    throw new InvalidImageError("8-bit image data must be a Uint8Array");
  }
  if (bitDepth === 16 && !(data instanceof Uint16Array)) {
    throw new InvalidImageError("16-bit image data must be a Uint16Array");
  }
  if (data.length !== width * height) {
    throw new InvalidImageError(
      `image data holds ${data.length} pixels, expected ${width}x${height} = ${width * height}`,
    );
  }
}

function parseHints(hints: DetectionHints | undefined): DetectionHints {
  if (hints === undefined) return {};
  const parsed = DetectionHintsSchema.safeParse(hints);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidHintsError(
      `invalid detection hint ${issue?.path.join(".")}: ${issue?.message}`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

/** Quantile of the map (or of its magnitude) over the disk, sampled on a sparse grid. */
function diskQuantile(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  absolute: boolean,
  q: number,
): number {
  const step = Math.max(1, Math.floor(region.r / 150));
  const values: number[] = [];
  const yEnd = Math.min(height, region.cy + region.r);
  const xEnd = Math.min(width, region.cx + region.r);
  for (let y = Math.max(0, Math.ceil(region.cy - region.r)); y < yEnd; y += step) {
    for (let x = Math.max(0, Math.ceil(region.cx - region.r)); x < xEnd; x += step) {
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 >= region.r ** 2) continue;
      const v = data[y * width + x] as number;
      values.push(absolute ? Math.abs(v) : v);
    }
  }
  const arr = Float64Array.from(values);
  return quantileInPlace(arr, arr.length, q);
}

function dieGridFrom(
  lattice: Lattice,
  frame: WaferFrame,
  mapScale: number,
  mmPerPx: number,
): { grid: DieGrid; pitchPx: Point } {
  const origin = waferMmToPixel(frame, { x: 0, y: 0 });
  const xDir = waferMmToPixel(frame, { x: 1, y: 0 });
  const yDir = waferMmToPixel(frame, { x: 0, y: 1 });
  const ex = { x: xDir.x - origin.x, y: xDir.y - origin.y };
  const ey = { x: yDir.x - origin.x, y: yDir.y - origin.y };
  const norm = (v: Vector) => Math.hypot(v.x, v.y);
  const dot = (u: Vector, v: Vector) => (u.x * v.x + u.y * v.y) / (norm(u) * norm(v));
  const aIsX = Math.abs(dot(lattice.a, ex)) >= Math.abs(dot(lattice.b, ex));
  const vx = aIsX ? lattice.a : lattice.b;
  const vy = aIsX ? lattice.b : lattice.a;
  const phaseX = aIsX ? lattice.streetPhase.a : lattice.streetPhase.b;
  const phaseY = aIsX ? lattice.streetPhase.b : lattice.streetPhase.a;
  const pitchPx = { x: norm(vx) * mapScale, y: norm(vy) * mapScale };
  return {
    pitchPx,
    grid: {
      pitchMm: { x: pitchPx.x * mmPerPx, y: pitchPx.y * mmPerPx },
      cornerMm: {
        x: phaseX * mapScale * mmPerPx * Math.sign(dot(vx, ex)),
        y: phaseY * mapScale * mmPerPx * Math.sign(dot(vy, ey)),
      },
    },
  };
}

function scoreFrom(strength: number): number {
  // strength = signal / threshold (>= 1 for anything reported); saturates towards 1.
  return Math.min(1, Math.max(0, 1 - (1 - SCORE.atThreshold) * Math.exp(-(strength - 1))));
}

function clampBox(x0: number, y0: number, x1: number, y1: number, width: number, height: number) {
  const x = Math.max(0, Math.min(width - 1, Math.floor(x0)));
  const y = Math.max(0, Math.min(height - 1, Math.floor(y0)));
  const xe = Math.max(x + 1, Math.min(width, Math.ceil(x1 + 1)));
  const ye = Math.max(y + 1, Math.min(height, Math.ceil(y1 + 1)));
  return { x, y, width: xe - x, height: ye - y };
}

/**
 * Finds the wafer and its defects in one decoded frame. Thresholds derive from the noise
 * measured in this image and from the spec's contrast rule (5 sigma and 4% of the local level),
 * never from constants tuned to one image source (all of them are named in thresholds.ts).
 *
 * The pipeline, one named stage per step:
 *   bin -> locate (disk, rim shape, notch, chip candidates) -> noise -> surface model
 *   (illumination polynomial on bare wafers, die-to-die residual on patterned ones)
 *   -> thresholds -> segment -> group and classify -> edge chips.
 */
export function detect(image: GrayImage, hints?: DetectionHints): DetectionResult {
  const timer = new StageTimer();
  checkImage(image);
  const hint = parseHints(hints);
  const work = timer.run("bin", () => workingMap(image));
  const wafer = timer.run("locate", () => locate(image, work, hint));
  const noise = timer.run("noise", () => measureNoise(work, wafer));
  const surface = timer.run("model", () => modelSurface(work, wafer, noise, hint));
  const compared = surface.lattice
    ? timer.run("dieToDie", () => dieToDie(work, wafer, noise, surface.lattice as Lattice))
    : { residual: surface.residual as Float32Array, edgeMask: null };
  const residual = compared.residual;
  const thresholds = timer.run("threshold", () =>
    detectionThresholds(work, wafer, noise, residual, surface.lattice, compared.edgeMask),
  );
  const blobs = timer.run("segment", () =>
    hysteresisBlobs(thresholds.score, work.width, work.height, wafer.analysis, thresholds.seeds),
  );
  const defects = timer.run("classify", () => [
    ...blobDefects(image, work, wafer, surface.lattice, residual, thresholds, blobs),
    ...chipDefects(image, work, wafer, surface.lattice, noise),
  ]);
  return {
    wafer: waferReport(image, wafer, noise, surface.lattice),
    defects,
    timingMs: timer.done(),
  };
}

/** Per-stage wall times, ms to 0.01. */
class StageTimer {
  private readonly started = performance.now();
  private readonly timing: Record<string, number> = {};
  run<T>(name: string, stage: () => T): T {
    const t = performance.now();
    const out = stage();
    this.timing[name] = Math.round((performance.now() - t) * 100) / 100;
    return out;
  }
  done(): Record<string, number> {
    this.timing.total = Math.round((performance.now() - this.started) * 100) / 100;
    return this.timing;
  }
}

/** The binned working map: about SPEC.workingSide px on the shorter side. */
function workingMap(image: GrayImage): FloatMap {
  const scale = Math.max(1, Math.round(Math.min(image.width, image.height) / SPEC.workingSide));
  return binImage(image, scale);
}

/** Where the wafer is, how it is turned, and the disk the defect search covers. */
interface WaferPlace {
  circle: Circle;
  rim: RimReading;
  frame: WaferFrame;
  mmPerPx: number;
  exclusionPx: number;
  /** Analysis disk in map px: the wafer less the edge exclusion. */
  analysis: DiskRegion;
  /** Spec sizes scale with the image: shorter side / 2048. */
  sizeScale: number;
  /** Full-resolution px to map px. */
  toMap: (v: number) => number;
  /** Wafer and chuck levels (native units) the rim was traced between. */
  waferLevel: number;
  chuckLevel: number;
}

function locate(image: GrayImage, work: FloatMap, hint: DetectionHints): WaferPlace {
  const location = locateWafer(image, work, fullScale(image));
  const { circle } = location;
  const rim = readRim(location.rim, circle, hint.notchAngleDeg);
  const diameterMm = hint.waferDiameterMm ?? 300;
  const mmPerPx = diameterMm / (2 * circle.r);
  const frame: WaferFrame = {
    cx: circle.cx,
    cy: circle.cy,
    radiusPx: circle.r,
    diameterMm,
    notchAngleDeg: rim.notchAngleDeg,
  };
  const exclusionPx = SPEC.edgeExclusionMm / mmPerPx;
  const scale = work.scale;
  const toMap = (v: number) => (v + 0.5) / scale - 0.5;
  // The disk may be slightly out of round: the analysis disk stays inside its smallest radius.
  const shortest = Math.min(circle.r, rimMinimumRadius(rim));
  return {
    circle,
    rim,
    frame,
    mmPerPx,
    exclusionPx,
    analysis: {
      cx: toMap(circle.cx),
      cy: toMap(circle.cy),
      r: (shortest - exclusionPx) / scale - 1,
    },
    sizeScale: Math.min(image.width, image.height) / 2048,
    toMap,
    waferLevel: location.waferLevel,
    chuckLevel: location.chuckLevel,
  };
}

/** Smallest radius of the fitted rim shape (sampled every degree). */
function rimMinimumRadius(rim: RimReading): number {
  let min = Number.POSITIVE_INFINITY;
  for (let d = 0; d < 360; d++) min = Math.min(min, rimRadiusAt(rim.shape, (d * Math.PI) / 180));
  return min;
}

interface Noise {
  /** Sensor noise sigma on the working map (native units). */
  sigmaMap: number;
  /** Median wafer level on the working map. */
  level: number;
}

function measureNoise(work: FloatMap, wafer: WaferPlace): Noise {
  const { analysis } = wafer;
  // A third of a grey level (binned) is the quantisation floor of an integer image.
  const sigmaMap = Math.max(
    estimateNoiseSigma(work.data, work.width, work.height, analysis),
    0.3 / work.scale,
  );
  const level = diskQuantile(work.data, work.width, work.height, analysis, false, 0.5);
  return { sigmaMap, level };
}

/**
 * Bare or patterned. A hinted pitch says "patterned"; otherwise the smooth illumination model
 * is fitted first, and only a surface that stands out of it all over the disk (a die grid,
 * not one large stain) pays for the lattice search.
 */
function modelSurface(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  hint: DetectionHints,
): { lattice: Lattice | null; residual: Float32Array | null } {
  const { analysis, mmPerPx, circle, rim } = wafer;
  const scale = work.scale;
  let background: SmoothBackground | null = hint.diePitchMm
    ? null
    : fitSmoothBackground(work, analysis, noise.sigmaMap);
  let lattice: Lattice | null = null;
  if (
    !background ||
    structuredBlockShare(
      work,
      background,
      analysis,
      LATTICE.structuredSigmas * noise.sigmaMap,
      LATTICE.structuredBlocks,
    ) > LATTICE.structuredShare
  ) {
    const expected = hint.diePitchMm
      ? { x: hint.diePitchMm.x / mmPerPx / scale, y: hint.diePitchMm.y / mmPerPx / scale }
      : undefined;
    lattice = measureLattice(
      work,
      analysis,
      (2 * circle.r) / scale,
      rim.notchAngleDeg,
      noise.sigmaMap,
      expected,
    );
  }
  if (lattice) return { lattice, residual: null };
  background ??= fitSmoothBackground(work, analysis, noise.sigmaMap);
  const residual = new Float32Array(work.width * work.height);
  subtractBackground(work, background, residual);
  return { lattice: null, residual };
}

/** Std-dev of the [1 2 1] / 4 kernel, px: sqrt(0.5). */
const BINOMIAL_SIGMA_PX = Math.SQRT1_2;

/**
 * Die-to-die residual, compared on a lightly smoothed map: box-binned fine motif features
 * alias differently in each die (a 1 px gap falls in one bin here, across two there);
 * smoothing makes the map interpolable so neighbour dies can be sampled at sub-pixel offsets.
 */
function dieToDie(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice,
): { residual: Float32Array; edgeMask: Uint8Array } {
  const smoothMap = new Float32Array(work.width * work.height);
  binomialBlur3(work.data, work.width, work.height, smoothMap);
  const residual = new Float32Array(work.width * work.height);
  const edgeMask = new Uint8Array(work.width * work.height);
  // The comparison's own noise, measured on the map it compares: correlated sensor noise, blur
  // and JPEG smoothing survive the binomial smoothing better than white noise, and a sigma
  // from the white-noise gain would forgive most of their residual as misregistration.
  const smoothSigma = Math.max(
    DETECTION.binomialNoiseGain * noise.sigmaMap,
    estimateDieDifferenceNoise(
      smoothMap,
      work.width,
      work.height,
      wafer.analysis,
      lattice.a,
      lattice.b,
    ),
  );
  dieToDieResidual(
    { ...work, data: smoothMap },
    lattice.a,
    lattice.b,
    wafer.analysis,
    wafer.circle.r / work.scale,
    smoothSigma,
    residual,
    new Float32Array(work.width * work.height),
    edgeMask,
  );
  // A die of a reticle field at +0.75% against neighbours at -0.75% differs by 1.5%.
  levelDies(
    residual,
    work.width,
    lattice.a,
    lattice.b,
    lattice.streetPhase,
    wafer.analysis,
    2 * SPEC.reticleLevelShare * Math.abs(noise.level),
    edgeMask,
    // Offsets the grow threshold's level floor cannot see do not matter.
    DETECTION.growLevelShare * Math.abs(noise.level),
  );
  return { residual, edgeMask };
}

interface DetectionThresholds {
  /** The smoothed residual the seeds and growth are tested on. */
  score: Float32Array;
  seeds: Thresholds;
  /** Seed threshold at a map pixel (for scoring). */
  highAt: (i: number) => number;
}

/**
 * Seed and grow thresholds from the residual's own measured noise: from 95th percentiles of
 * |score| (1.96 sigma if Gaussian), not from medians: die-to-die residuals are zero-inflated
 * by their edge allowance, and false alarms live in the tail. Defects cover a few % of the
 * disk at most, which moves this little. On patterned wafers it is measured per class of
 * pattern activity (flat die areas vs edges). Floors from the spec's 4% level rule.
 */
function detectionThresholds(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  residual: Float32Array,
  lattice: Lattice | null,
  /** 1 where the die-to-die references are extrapolated (near the rim): noise of its own. */
  edgeMask: Uint8Array | null,
): DetectionThresholds {
  const score = new Float32Array(work.width * work.height);
  binomialBlur3(residual, work.width, work.height, score);
  const { sigmaMap, level } = noise;
  // Noise floors: the smoothing gain for the score, most of the raw sigma for the residual.
  const floors = [0.8 * DETECTION.binomialNoiseGain * sigmaMap, 0.8 * sigmaMap];
  const measure = (zone?: 0 | 1) =>
    measureSigmas(
      [score, residual],
      floors,
      work,
      wafer.analysis,
      lattice?.a ?? null,
      zone === undefined ? undefined : (edgeMask as Uint8Array),
      zone,
    ) as [PatternAwareSigma, PatternAwareSigma];
  // Near the rim the die-to-die references are extrapolated from two dies on one side
  // (2 near - far: five times the variance of one pixel, against half of it for a pair
  // average): that ring's noise is measured apart, never below the interior's.
  const ring = edgeMask && countOnes(edgeMask) >= DETECTION.minZoneSamples ? edgeMask : null;
  const [interiorScore, interiorResidual] = measure(ring ? 0 : undefined);
  const [ringScore, ringResidual] = ring ? measure(1) : [null, null];
  const zoned =
    (interior: PatternAwareSigma, edge: PatternAwareSigma | null) =>
    (i: number): number =>
      edge && ring?.[i] ? Math.max(sigmaAt(edge, i), sigmaAt(interior, i)) : sigmaAt(interior, i);
  const scoreSigma = zoned(interiorScore, ringScore);
  const residualSigma = zoned(interiorResidual, ringResidual);
  const highFloor = DETECTION.seedLevelShare * Math.abs(level);
  const lowFloor = DETECTION.growLevelShare * Math.abs(level);
  const pixelFloor = DETECTION.pixelSeedFloorFactor * highFloor;
  const highAt = (i: number) => Math.max(DETECTION.seedSigmas * scoreSigma(i), highFloor);
  return {
    score,
    highAt,
    seeds: {
      minHigh: Math.max(DETECTION.seedSigmas * smallestSigma(interiorScore), highFloor),
      minLow: Math.max(DETECTION.growSigmas * smallestSigma(interiorScore), lowFloor),
      high: highAt,
      low: (i) => Math.max(DETECTION.growSigmas * scoreSigma(i), lowFloor),
      pixelSeed: {
        residual,
        min: Math.max(DETECTION.pixelSeedSigmas * smallestSigma(interiorResidual), pixelFloor),
        high: (i) => Math.max(DETECTION.pixelSeedSigmas * residualSigma(i), pixelFloor),
      },
    },
  };
}

function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] as number;
  return n;
}

/** Blobs grouped into defects (fragments joined, die-to-die echoes dropped) and classified. */
function blobDefects(
  image: GrayImage,
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice | null,
  residual: Float32Array,
  thresholds: DetectionThresholds,
  blobs: Blob[],
): Defect[] {
  const { circle, exclusionPx, sizeScale, frame, toMap } = wafer;
  const scale = work.scale;
  const ctx: FeatureContext = {
    mapWidth: work.width,
    mapHeight: work.height,
    mapScale: scale,
    residual,
    score: thresholds.score,
  };
  const pitches = lattice
    ? [Math.hypot(lattice.a.x, lattice.a.y), Math.hypot(lattice.b.x, lattice.b.y)].map(
        (p) => p * scale,
      )
    : [];
  const groups = lattice
    ? mergeFragments(
        blobs,
        ctx,
        sizeScale,
        MERGE.echoReachPitches * Math.max(...pitches),
        MERGE.bigPitchShare * Math.min(...pitches),
        [
          { x: lattice.a.x * scale, y: lattice.a.y * scale },
          { x: lattice.b.x * scale, y: lattice.b.y * scale },
        ],
      )
    : mergeFragments(blobs, ctx, sizeScale);
  // A chip deeper than the edge exclusion shows up inside the analysed disk too: its zone.
  const chipZones = wafer.rim.chips.map((c) => {
    const margin = c.widthPx + 2 * scale;
    return {
      x0: c.bbox.x0 - margin,
      y0: c.bbox.y0 - margin,
      x1: c.bbox.x1 + margin,
      y1: c.bbox.y1 + margin,
      depth: c.depthPx,
    };
  });
  const mapIndexOf = (p: Point) =>
    Math.min(work.height - 1, Math.max(0, Math.round(toMap(p.y)))) * work.width +
    Math.min(work.width - 1, Math.max(0, Math.round(toMap(p.x))));
  const dieOf = dieLookup(lattice, wafer, scale);
  const defects: Defect[] = [];
  for (const group of groups) {
    const f: BlobFeatures = measureBlob(group.pixels, group.sign, ctx);
    const fromCentre = Math.hypot(f.centroid.x - circle.cx, f.centroid.y - circle.cy);
    const inChipZone = chipZones.some(
      (z) =>
        f.centroid.x >= z.x0 &&
        f.centroid.x <= z.x1 &&
        f.centroid.y >= z.y0 &&
        f.centroid.y <= z.y1 &&
        fromCentre > circle.r - exclusionPx - z.depth - 4 * scale,
    );
    if (inChipZone) continue;
    const strength = f.peakScore / thresholds.highAt(mapIndexOf(f.centroid));
    if (lattice && strength < LATTICE_LINE.margin && alongLatticeAxis(f, lattice)) continue;
    const mm = pixelToWaferMm(frame, f.centroid.x, f.centroid.y);
    defects.push({
      class: classifyBlob(f, sizeScale, scale, lattice ? BINOMIAL_SIGMA_PX : 0),
      score: scoreFrom(strength),
      bbox: clampBox(f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1, image.width, image.height),
      centroidPx: f.centroid,
      areaPx: f.areaPx,
      waferMm: mm,
      die: dieOf(mm),
    });
  }
  return defects;
}

function dieLookup(
  lattice: Lattice | null,
  wafer: WaferPlace,
  scale: number,
): (mm: Point) => Die | null {
  if (!lattice) return () => null;
  const { grid } = dieGridFrom(lattice, wafer.frame, scale, wafer.mmPerPx);
  return (mm) => dieAt(grid, mm);
}

/** Rim deficits that are chips; on patterned wafers not a street that runs out to the rim. */
function chipDefects(
  image: GrayImage,
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice | null,
  noise: Noise,
): Defect[] {
  const dieOf = dieLookup(lattice, wafer, work.scale);
  return wafer.rim.chips
    .filter((chip) => !lattice || !isStreetAtRim(image, wafer, lattice, work.scale, chip, noise))
    .map((chip) => chipDefect(chip, wafer.rim.deficitThresholdPx, wafer.frame, image, dieOf));
}

function waferReport(
  image: GrayImage,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice | null,
): Wafer {
  const full = fullScale(image);
  const scale = Math.max(1, Math.round(Math.min(image.width, image.height) / SPEC.workingSide));
  return {
    imageWidth: image.width,
    imageHeight: image.height,
    centerPx: { x: wafer.circle.cx, y: wafer.circle.cy },
    radiusPx: wafer.circle.r,
    diameterMm: wafer.frame.diameterMm,
    mmPerPx: wafer.mmPerPx,
    notchAngleDeg: wafer.rim.notchAngleDeg,
    notchSource: wafer.rim.notchSource,
    surface: lattice ? "patterned" : "bare",
    diePitchPx: lattice ? dieGridFrom(lattice, wafer.frame, scale, wafer.mmPerPx).pitchPx : null,
    noiseSigma: (noise.sigmaMap * scale) / full,
    waferLevel: noise.level / full,
  };
}

/** An elongated blob lying along one of the die lattice's axes. */
function alongLatticeAxis(f: BlobFeatures, lattice: Lattice): boolean {
  if (f.lengthPx < LATTICE_LINE.minElongation * Math.max(f.widthPx, 1)) return false;
  const ux = Math.cos(f.orientation);
  const uy = Math.sin(f.orientation);
  const limit = Math.cos((LATTICE_LINE.alignedDeg * Math.PI) / 180);
  return [lattice.a, lattice.b].some(
    (v) => Math.abs(ux * v.x + uy * v.y) / Math.hypot(v.x, v.y) >= limit,
  );
}

/**
 * Die-to-die physics at the rim: a street that runs out to the rim, as dark as the chuck, is
 * read as a deficit; but its dark pixels look like the same place one die inwards (the street
 * continues there), while a chip's chuck pixels look like die there. A fourth of the
 * chuck/wafer separation (>= 20% of full scale by the spec) as tolerance is far above the
 * illumination change over one pitch and the reticle's level differences, and far below the
 * chuck-to-die step a chip shows.
 */
function isStreetAtRim(
  image: GrayImage,
  wafer: WaferPlace,
  lattice: Lattice,
  scale: number,
  chip: RimDeficit,
  noise: Noise,
): boolean {
  const { circle, waferLevel, chuckLevel } = wafer;
  const inward = { x: circle.cx - chip.centroid.x, y: circle.cy - chip.centroid.y };
  const steps = [lattice.a, lattice.b].flatMap((v) => [
    { x: v.x * scale, y: v.y * scale },
    { x: -v.x * scale, y: -v.y * scale },
  ]);
  const step = steps.reduce((best, v) =>
    v.x * inward.x + v.y * inward.y > best.x * inward.x + best.y * inward.y ? v : best,
  );
  const mid = 0.5 * (waferLevel + chuckLevel);
  const chuckIsDark = chuckLevel < waferLevel;
  const tolerance = Math.max(
    5 * Math.SQRT2 * noise.sigmaMap * scale,
    0.25 * Math.abs(waferLevel - chuckLevel),
  );
  let dark = 0;
  let matched = 0;
  const { width, height, data } = image;
  for (
    let y = Math.max(0, Math.floor(chip.bbox.y0));
    y <= Math.min(height - 1, chip.bbox.y1);
    y++
  ) {
    for (
      let x = Math.max(0, Math.floor(chip.bbox.x0));
      x <= Math.min(width - 1, chip.bbox.x1);
      x++
    ) {
      const phi = Math.atan2(y - circle.cy, x - circle.cx);
      if (Math.hypot(x - circle.cx, y - circle.cy) >= rimRadiusAt(wafer.rim.shape, phi)) continue;
      const v = data[y * width + x] as number;
      if (chuckIsDark ? v >= mid : v <= mid) continue;
      const qx = x + step.x;
      const qy = y + step.y;
      if (qx < 0 || qy < 0 || qx > width - 1 || qy > height - 1) continue;
      dark++;
      if (Math.abs(sampleBilinear(data, width, height, qx, qy) - v) <= tolerance) matched++;
    }
  }
  return dark > 0 && matched >= RIM.streetMatchShare * dark;
}

function chipDefect(
  chip: RimDeficit,
  threshold: number,
  frame: WaferFrame,
  image: GrayImage,
  dieOf: (mm: Point) => Die | null,
): Defect {
  const mm = pixelToWaferMm(frame, chip.centroid.x, chip.centroid.y);
  return {
    class: "edge_chip",
    score: scoreFrom(chip.depthPx / threshold),
    bbox: clampBox(
      chip.bbox.x0,
      chip.bbox.y0,
      chip.bbox.x1,
      chip.bbox.y1,
      image.width,
      image.height,
    ),
    centroidPx: chip.centroid,
    areaPx: chip.areaPx,
    waferMm: mm,
    die: dieOf(mm),
  };
}
