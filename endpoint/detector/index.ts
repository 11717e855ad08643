// The default classical-vision wafer defect detector: locate the wafer, model it, flag what differs.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import type { Defect, DetectionHints, Wafer } from "../../schemas/detection.ts";
import { diskSeedOf, workingMapAndOverview } from "../quality/disk.ts";
import { hysteresisBlobs } from "./segment.ts";
import { dropSensorFaults, sensorFaultJudge, takeRepairs, takeRimBlur } from "./sensor-faults.ts";
import { spotStrength } from "./spot-statistic.ts";
import { chipDefects } from "./stages/chips.ts";
import { classifyGroups, groupBlobs } from "./stages/defects.ts";
import { dieToDie } from "./stages/die-to-die.ts";
import {
  checkImage,
  parseHints,
  takeHandedOverMap,
  takeHandedOverSeed,
  workingMapSize,
  workingScale,
} from "./stages/input.ts";
import { measureNoise } from "./stages/noise.ts";
import { alignNotchWithGrid, locateDisk, placeWafer } from "./stages/place.ts";
import { waferReport } from "./stages/report.ts";
import { bareResidual, findLattice, fitIllumination } from "./stages/surface.ts";
import { thresholdsOfComparison, withScoreTail } from "./stages/thresholds.ts";
import { StageTimer } from "./stages/timer.ts";

export {
  DetectorError,
  InvalidHintsError,
  InvalidImageError,
  WaferNotFoundError,
} from "./errors.ts";

export { DETECTOR_INFO, DETECTOR_VERSION } from "./version.ts";

export interface DetectionResult {
  wafer: Wafer;
  defects: Defect[];
  /** Wall time per stage (the names below) and in total, ms. */
  timingMs: Record<string, number>;
  /**
   * Single-pixel sensor faults found after the die-to-die comparison and dropped from the
   * defects (sensor-faults.ts); the gate adds them to the quality block's hotPixelsRemoved.
   */
  sensorFaultsRemoved?: number;
}

/**
 * Working-map-sized buffers (the map, the residual of either kind, the score) kept from one
 * detection for the next: a fresh 4 MB array costs about 2 ms of page faults at first touch,
 * and a dozen MB of new buffers per wafer sets off one of V8's external-memory collections
 * every detection. Detection is synchronous and the result holds numbers only, so no buffer
 * outlives the detection that took it; each is zeroed when taken.
 */
const frameBuffers = {
  work: new Float32Array(0),
  residual: new Float32Array(0),
  score: new Float32Array(0),
};

/** `zeroed` false: for a stage that writes every value (the score's smoothing). */
function frameBuffer(slot: keyof typeof frameBuffers, length: number, zeroed = true): Float32Array {
  const kept = frameBuffers[slot];
  if (kept.length === length) return zeroed ? kept.fill(0) : kept;
  const fresh = new Float32Array(length);
  frameBuffers[slot] = fresh;
  return fresh;
}

/** The same for the die-to-die stage's byte maps (its edge mask and edge gain). */
const byteBuffers = { edgeMask: new Uint8Array(0), edgeGain: new Uint8Array(0) };

function byteBuffer(slot: keyof typeof byteBuffers, length: number): Uint8Array {
  const kept = byteBuffers[slot];
  if (kept.length === length) return kept.fill(0);
  const fresh = new Uint8Array(length);
  byteBuffers[slot] = fresh;
  return fresh;
}

/**
 * Finds the wafer and its defects in one decoded frame. Thresholds derive from the noise
 * measured in this image and from the spec's contrast rule (5 sigma and 4% of the local level),
 * never from constants tuned to one image source (all of them are named in thresholds.ts).
 * Each step is one stage of stages/; the timer names them in the result's timingMs.
 */
export function detect(image: GrayImage, hints?: DetectionHints): DetectionResult {
  const timer = new StageTimer();
  checkImage(image);
  const hint = parseHints(hints);
  const mapSize = workingMapSize(image);
  // The quality gate hands over the map it binned of these very pixels (stages/input.ts).
  // Binning here (no map handed over), the gate's overview comes from the same pass over the
  // frame: locate's seed is fitted on it (diskSeedOf).
  const { work, overview } = timer.run("bin", () => {
    const handed = takeHandedOverMap(image);
    return handed
      ? { work: handed, overview: undefined }
      : // Binning by 1 or 2 writes every value of the map (as gateMapBuffer relies on); only
        // larger factors sum into it and need it zeroed.
        workingMapAndOverview(image, frameBuffer("work", mapSize, workingScale(image) > 2));
  });
  // Locate starts from the gate's disk (handed over, or fitted here as the gate fits it, so
  // that gated and ungated detections of the same pixels agree).
  const disk = timer.run("locate", () => {
    const handed = takeHandedOverSeed(image);
    const seed = handed === undefined ? diskSeedOf(image, work, overview) : handed;
    return locateDisk(image, work, fullScale(image), seed);
  });
  let wafer = timer.run("rim", () => placeWafer(image, work, disk, hint));
  // The score's buffer is first written by the threshold stage (every value): until then the
  // noise stage's samples live in it, not in fresh arrays alive at the detection's peak.
  const noise = timer.run("noise", () =>
    measureNoise(work, wafer, frameBuffer("score", mapSize, false)),
  );
  const illumination = timer.run("background", () => fitIllumination(work, wafer, noise, hint));
  const lattice = illumination.mayBePatterned
    ? // The residual's buffer is zeroed when the comparison takes it: the search's coarse map
      // lives in it until then.
      timer.run("lattice", () =>
        findLattice(work, wafer, noise, hint, frameBuffer("residual", mapSize, false)),
      )
    : null;
  if (lattice) wafer = alignNotchWithGrid(wafer, lattice);
  const compared = lattice
    ? timer.run("dieToDie", () =>
        dieToDie(work, wafer, noise, lattice, {
          residual: frameBuffer("residual", mapSize),
          edgeMask: byteBuffer("edgeMask", mapSize),
          edgeGain: byteBuffer("edgeGain", mapSize),
          // The score's buffer again: first written by the threshold stage.
          scratch: frameBuffer("score", mapSize, false),
        }),
      )
    : {
        residual: timer.run("residual", () =>
          bareResidual(
            work,
            wafer,
            noise,
            illumination.background,
            frameBuffer("residual", mapSize),
          ),
        ),
        edgeMask: null,
        comparisonSigma: null,
        edgeGain: null,
      };
  const residual = compared.residual;
  const seedThresholds = timer.run("threshold", () =>
    thresholdsOfComparison(
      work,
      wafer,
      noise,
      lattice,
      compared,
      frameBuffer("score", mapSize, false),
    ),
  );
  const { blobs, thresholds } = timer.run("segment", () => {
    const grown = hysteresisBlobs(
      seedThresholds.score,
      work.width,
      work.height,
      wafer.analysis,
      seedThresholds.seeds,
    );
    // The score's tail is read on what the seeds did not grow into defects or lines.
    return { blobs: grown, thresholds: withScoreTail(seedThresholds, grown, work, wafer) };
  });
  let sensorFaultsRemoved = 0;
  const groups = timer.run("group", () => {
    const grouped = groupBlobs(
      blobs,
      work,
      wafer,
      lattice,
      residual,
      thresholds,
      compared.edgeMask,
    );
    if (!lattice) return grouped;
    // Where the die pattern has cancelled, a lone spike is a sensor fault, never a defect.
    const judge = sensorFaultJudge(
      image,
      work,
      lattice,
      residual,
      // Where the comparison's references are on the wafer (dieToDieResidual's valid radius).
      { cx: wafer.analysis.cx, cy: wafer.analysis.cy, r: wafer.circle.r / work.scale - 1.5 },
      noise.sigmaMap,
      compared.comparisonSigma,
      takeRimBlur(image),
      takeRepairs(image),
    );
    const faults = dropSensorFaults(grouped.groups, judge);
    sensorFaultsRemoved = faults.removed;
    // A spot whose score the second smoothing took under the seed may still pass the spot
    // seed's threshold on the residual: classify may take its strength from there
    // (spot-statistic.ts), when its footprint is a spot's.
    const pixelSeed = thresholds.seeds.pixelSeed;
    if (pixelSeed)
      for (const group of faults.groups) {
        const spot = spotStrength(group, residual, pixelSeed, judge);
        if (spot > 0) group.spotStrength = spot;
      }
    return { ...grouped, groups: faults.groups };
  });
  const defects = timer.run("classify", () => [
    ...classifyGroups(groups, image, work, wafer, lattice, thresholds),
    ...chipDefects(image, work.scale, wafer, lattice, noise),
  ]);
  return {
    wafer: waferReport(image, wafer, noise, lattice),
    defects,
    timingMs: timer.done(),
    sensorFaultsRemoved,
  };
}
