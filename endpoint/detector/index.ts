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
  backgroundRowCoefficients,
  fitSmoothBackground,
  type SmoothBackground,
  subtractBackground,
} from "./background.ts";
import {
  type BlobFeatures,
  classifyBlob,
  type FeatureContext,
  measureBlob,
  mergeFragments,
} from "./classify.ts";
import { dieToDieResidual } from "./die-to-die.ts";
import { InvalidHintsError, InvalidImageError } from "./errors.ts";
import {
  type DieGrid,
  dieAt,
  pixelToWaferMm,
  type WaferFrame,
  waferMmToPixel,
} from "./geometry.ts";
import { type Lattice, measureLattice, type Vector } from "./lattice.ts";
import { locateWafer } from "./locate.ts";
import { type DiskRegion, estimateNoiseSigma } from "./noise.ts";
import { binImage, binomialBlur3, type FloatMap, quantileInPlace } from "./raster.ts";
import { type RimDeficit, readRim } from "./rim.ts";
import { hysteresisBlobs } from "./segment.ts";
import { measureSigmas, type PatternAwareSigma, sigmaAt, smallestSigma } from "./threshold.ts";

export {
  DetectorError,
  InvalidHintsError,
  InvalidImageError,
  WaferNotFoundError,
} from "./errors.ts";

export const DETECTOR_INFO: ModelInfo = { name: "waferflow-classical", version: "1.0.0" };

export interface DetectionResult {
  wafer: Wafer;
  defects: Defect[];
  timingMs: Record<string, number>;
}

/** Edge exclusion from the spec: only edge chips are reported this close to the rim. */
const EDGE_EXCLUSION_MM = 3;
/** The working map is binned to about this many pixels on the shorter side. */
const WORKING_SIDE = 1024;
/** Detection thresholds on the smoothed residual, in units of its measured noise. */
const SEED_SIGMAS = 6;
const GROW_SIGMAS = 2.5;
/** Noise sigma after [1 2 1] x [1 2 1] / 16 smoothing of white noise: 6/16. */
const BINOMIAL_NOISE_GAIN = 0.375;
/** Single working-map pixels: no smoothing gain, so a little stricter than SEED_SIGMAS. */
const PIXEL_SEED_SIGMAS = 6.5;
/**
 * Lines within this angle of a lattice axis on a patterned wafer run along streets and motif
 * rows, where a sub-pixel lattice error leaves a residual that is coherent along the whole
 * line: summed along it, it looks far stronger than the per-pixel noise measured elsewhere.
 */
const AXIS_ALIGNED_DEG = 1.5;
/** Such lines need this many times the seed threshold to be reported. */
const AXIS_LINE_MARGIN = 2;

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

/** Share of disk pixels that stand far out of the smooth model: near zero on bare wafers. */
function structuredShare(
  work: FloatMap,
  background: SmoothBackground,
  region: DiskRegion,
  limit: number,
): number {
  const { width, height } = work;
  const step = Math.max(1, Math.floor(region.r / 100));
  let total = 0;
  let out = 0;
  const yEnd = Math.min(height, region.cy + region.r);
  const xEnd = Math.min(width, region.cx + region.r);
  const row = new Float64Array(background.degree + 1);
  for (let y = Math.max(0, Math.ceil(region.cy - region.r)); y < yEnd; y += step) {
    backgroundRowCoefficients(background, y, row);
    for (let x = Math.max(0, Math.ceil(region.cx - region.r)); x < xEnd; x += step) {
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 >= region.r ** 2) continue;
      total++;
      const u = (x - region.cx) / region.r;
      let model = 0;
      for (let p = background.degree; p >= 0; p--) model = model * u + (row[p] as number);
      if (Math.abs((work.data[y * work.width + x] as number) - model) > limit) out++;
    }
  }
  return total > 0 ? out / total : 0;
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
  return Math.min(1, Math.max(0, 1 - 0.5 * Math.exp(-(strength - 1))));
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
 * never from constants tuned to one image source.
 */
export function detect(image: GrayImage, hints?: DetectionHints): DetectionResult {
  return analyseWafer(image, hints).result;
}

/** Per-defect measurements behind a detection, for tuning and for training-data labelling. */
export interface DetectionDiagnostics {
  /** Aligned with result.defects; null for edge chips (measured on the rim, not as blobs). */
  features: Array<BlobFeatures | null>;
  thresholds: { high: number; low: number; scoreSigma: number; mapScale: number };
}

/** detect(), plus the measurements that decided each defect. */
export function analyseWafer(
  image: GrayImage,
  hints?: DetectionHints,
): { result: DetectionResult; diagnostics: DetectionDiagnostics } {
  const timing: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timing[name] = Math.round((now - mark) * 100) / 100;
    mark = now;
  };
  const started = mark;
  checkImage(image);
  const hint = parseHints(hints);
  const full = fullScale(image);
  const scale = Math.max(1, Math.round(Math.min(image.width, image.height) / WORKING_SIDE));
  const work = binImage(image, scale);
  lap("bin");

  const location = locateWafer(image, work, full);
  const circle = location.circle;
  const rimReading = readRim(location.rim, circle, location.rimSigmaPx, hint.notchAngleDeg);
  lap("locate");

  const diameterMm = hint.waferDiameterMm ?? 300;
  const mmPerPx = diameterMm / (2 * circle.r);
  const frame: WaferFrame = {
    cx: circle.cx,
    cy: circle.cy,
    radiusPx: circle.r,
    diameterMm,
    notchAngleDeg: rimReading.notchAngleDeg,
  };
  const exclusionPx = EDGE_EXCLUSION_MM / mmPerPx;
  const toMap = (v: number) => (v + 0.5) / scale - 0.5;
  const analysis: DiskRegion = {
    cx: toMap(circle.cx),
    cy: toMap(circle.cy),
    r: (circle.r - exclusionPx) / scale - 1,
  };
  const sigmaMap = Math.max(
    estimateNoiseSigma(work.data, work.width, work.height, analysis),
    0.3 / scale,
  );
  const level = diskQuantile(work.data, work.width, work.height, analysis, false, 0.5);
  lap("noise");

  const residual = new Float32Array(work.width * work.height);
  const score = new Float32Array(work.width * work.height);
  let lattice: Lattice | null = null;
  const sizeScale = Math.min(image.width, image.height) / 2048;
  // A hinted pitch says "patterned": the illumination model is then only needed if no
  // lattice shows up after all.
  let background: SmoothBackground | null = hint.diePitchMm
    ? null
    : fitSmoothBackground(work, analysis, sigmaMap);
  if (!background || structuredShare(work, background, analysis, 5 * sigmaMap) > 0.01) {
    const expected = hint.diePitchMm
      ? { x: hint.diePitchMm.x / mmPerPx / scale, y: hint.diePitchMm.y / mmPerPx / scale }
      : undefined;
    lattice = measureLattice(
      work,
      analysis,
      (2 * circle.r) / scale,
      rimReading.notchAngleDeg,
      sigmaMap,
      expected,
    );
  }
  if (!lattice) {
    background ??= fitSmoothBackground(work, analysis, sigmaMap);
    subtractBackground(work, background, residual);
  }
  lap("model");
  if (lattice) {
    // Compared on a lightly smoothed map: box-binned fine motif features alias differently
    // in each die (a 1 px gap falls in one bin here, across two there); smoothing makes the
    // map interpolable so that neighbour dies can be sampled at sub-pixel offsets.
    const smoothMap = new Float32Array(work.width * work.height);
    binomialBlur3(work.data, work.width, work.height, smoothMap);
    dieToDieResidual(
      { ...work, data: smoothMap },
      lattice.a,
      lattice.b,
      analysis,
      circle.r / scale,
      BINOMIAL_NOISE_GAIN * sigmaMap,
      residual,
      score,
    );
    lap("dieToDie");
  }
  binomialBlur3(residual, work.width, work.height, score);
  // Score noise from 95th percentiles of |score| (1.96 sigma if Gaussian), not from medians:
  // die-to-die residuals are zero-inflated by their edge allowance, and false alarms live in
  // the tail. Defects cover a few % of the disk at most, which moves this little. On
  // patterned wafers it is measured per class of pattern activity (flat die areas vs edges).
  const [sigmaModel, residualModel] = measureSigmas(
    [score, residual],
    [0.3 * sigmaMap, 0.8 * sigmaMap],
    work,
    analysis,
    lattice?.a ?? null,
  ) as [PatternAwareSigma, PatternAwareSigma];
  const scoreSigma = smallestSigma(sigmaModel);
  // 4% of the level is the spec's floor for a must-find defect; a fraction of it leaves room
  // for the smoothing's attenuation of small defects.
  const highFloor = 0.006 * Math.abs(level);
  const lowFloor = 0.003 * Math.abs(level);
  const highAt = (i: number) => Math.max(SEED_SIGMAS * sigmaAt(sigmaModel, i), highFloor);
  const high = Math.max(SEED_SIGMAS * scoreSigma, highFloor);
  const low = Math.max(GROW_SIGMAS * scoreSigma, lowFloor);
  const pixelFloor = 2 * highFloor;
  const blobs = hysteresisBlobs(score, work.width, work.height, analysis, {
    minHigh: high,
    minLow: low,
    high: highAt,
    low: (i) => Math.max(GROW_SIGMAS * sigmaAt(sigmaModel, i), lowFloor),
    pixelSeed: {
      residual,
      min: Math.max(PIXEL_SEED_SIGMAS * smallestSigma(residualModel), pixelFloor),
      high: (i) => Math.max(PIXEL_SEED_SIGMAS * sigmaAt(residualModel, i), pixelFloor),
    },
  });
  lap("segment");

  const ctx: FeatureContext = {
    mapWidth: work.width,
    mapHeight: work.height,
    mapScale: scale,
    residual,
    score,
  };
  const chipZones = rimReading.chips.map((c) => {
    const margin = c.widthPx + 2 * scale;
    return {
      x0: c.bbox.x0 - margin,
      y0: c.bbox.y0 - margin,
      x1: c.bbox.x1 + margin,
      y1: c.bbox.y1 + margin,
      depth: c.depthPx,
    };
  });
  const minPitchPx = lattice
    ? Math.min(Math.hypot(lattice.a.x, lattice.a.y), Math.hypot(lattice.b.x, lattice.b.y)) * scale
    : 0;
  const maxPitchPx = lattice
    ? Math.max(Math.hypot(lattice.a.x, lattice.a.y), Math.hypot(lattice.b.x, lattice.b.y)) * scale
    : 0;
  const mapIndexOf = (p: Point) =>
    Math.min(work.height - 1, Math.max(0, Math.round(toMap(p.y)))) * work.width +
    Math.min(work.width - 1, Math.max(0, Math.round(toMap(p.x))));
  const groups = lattice
    ? mergeFragments(blobs, ctx, sizeScale, 1.5 * maxPitchPx, 0.6 * minPitchPx, [
        { x: lattice.a.x * scale, y: lattice.a.y * scale },
        { x: lattice.b.x * scale, y: lattice.b.y * scale },
      ])
    : mergeFragments(blobs, ctx, sizeScale);
  let dieGrid: DieGrid | null = null;
  let pitchPx: Point | null = null;
  if (lattice) {
    const g = dieGridFrom(lattice, frame, scale, mmPerPx);
    dieGrid = g.grid;
    pitchPx = g.pitchPx;
  }
  const dieOf = (mm: Point): Die | null => (dieGrid ? dieAt(dieGrid, mm) : null);
  const defects: Defect[] = [];
  const features: Array<BlobFeatures | null> = [];
  for (const group of groups) {
    const f: BlobFeatures = measureBlob(group.pixels, group.sign, ctx);
    // A chip deeper than the edge exclusion shows up inside the analysed disk too.
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
    const strength = f.peakScore / highAt(mapIndexOf(f.centroid));
    if (lattice && strength < AXIS_LINE_MARGIN && alongLatticeAxis(f, lattice)) continue;
    features.push(f);
    const { cls } = classifyBlob(f, sizeScale, scale, lattice ? 1.5 : 0);
    const mm = pixelToWaferMm(frame, f.centroid.x, f.centroid.y);
    defects.push({
      class: cls,
      score: scoreFrom(strength),
      bbox: clampBox(f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1, image.width, image.height),
      centroidPx: f.centroid,
      areaPx: f.areaPx,
      waferMm: mm,
      die: dieOf(mm),
    });
  }
  for (const chip of rimReading.chips) {
    defects.push(chipDefect(chip, rimReading.deficitThresholdPx, frame, image, dieOf));
    features.push(null);
  }
  lap("classify");
  timing.total = Math.round((performance.now() - started) * 100) / 100;

  const wafer: Wafer = {
    imageWidth: image.width,
    imageHeight: image.height,
    centerPx: { x: circle.cx, y: circle.cy },
    radiusPx: circle.r,
    diameterMm,
    mmPerPx,
    notchAngleDeg: rimReading.notchAngleDeg,
    notchSource: rimReading.notchSource,
    surface: lattice ? "patterned" : "bare",
    diePitchPx: pitchPx,
    noiseSigma: (sigmaMap * scale) / full,
    waferLevel: level / full,
  };
  return {
    result: { wafer, defects, timingMs: timing },
    diagnostics: { features, thresholds: { high, low, scoreSigma, mapScale: scale } },
  };
}

/** An elongated blob lying along one of the die lattice's axes. */
function alongLatticeAxis(f: BlobFeatures, lattice: Lattice): boolean {
  if (f.lengthPx < 4 * Math.max(f.widthPx, 1)) return false;
  const ux = Math.cos(f.orientation);
  const uy = Math.sin(f.orientation);
  const limit = Math.cos((AXIS_ALIGNED_DEG * Math.PI) / 180);
  return [lattice.a, lattice.b].some(
    (v) => Math.abs(ux * v.x + uy * v.y) / Math.hypot(v.x, v.y) >= limit,
  );
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
