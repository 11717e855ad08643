// The image-quality gate before detection: is this an inspectable wafer photograph (docs/wafer-images.md)?
import { performance } from "node:perf_hooks";
import type { GrayImage } from "../../lib/gray-image.ts";
import type { DetectionHints, Quality, QualityReason } from "../../schemas/detection.ts";
import type { DetectionResult } from "../detector/index.ts";
import { rebinPixels } from "../detector/raster.ts";
import { handOverRepairs, handOverRimBlur } from "../detector/sensor-faults.ts";
import { gateMapBuffer, handOverDiskSeed, handOverWorkingMap } from "../detector/stages/input.ts";
import { diskSeed, fitDisk, RIM_RAYS, workingMapAndOverview } from "./disk.ts";
import {
  type Disk,
  measureClipping,
  measureNoise,
  measureRimBlur,
  removeHotPixels,
} from "./measures.ts";
import {
  DIAMETER_FRACTION_RANGE,
  MAX_BLACK_FRACTION,
  MAX_BLUR_SIGMA_PX_2048,
  MAX_CENTRE_OFFSET_FRACTION,
  MAX_NOISE_SIGMA,
  MAX_RIM_RESIDUAL,
  MAX_SATURATED_FRACTION,
  MIN_CHUCK_CONTRAST,
  MIN_RIM_COVERAGE,
  MIN_WAFER_INTERIOR,
} from "./thresholds.ts";

export * as thresholds from "./thresholds.ts";

export interface QualityAssessment {
  quality: Quality;
  /** The image with hot and dead pixels replaced (the input itself when there were none). */
  image: GrayImage;
  usable: boolean;
}

const round = (value: number, digits = 5) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Measures the image against the spec's ranges; never throws on a frame of any content. */
export function assessQuality(image: GrayImage): QualityAssessment {
  const shorter = Math.min(image.width, image.height);
  // The detector's working map, taken here once: the overview is binned from it, and a usable
  // image's detection gets it (with its repaired pixels' blocks re-binned) instead of binning.
  const { work, overview } = workingMapAndOverview(image, gateMapBuffer(image));
  const fit = fitDisk(overview);
  const reasons: QualityReason[] = [];
  const chuckContrast = Math.max(0, fit.contrast);
  if (chuckContrast < MIN_CHUCK_CONTRAST) {
    reasons.push({
      measure: "chuckContrast",
      value: round(chuckContrast),
      limit: MIN_CHUCK_CONTRAST,
      unit: "fraction of full scale",
      message: `no wafer against the chuck: the two brightness classes differ by ${(100 * chuckContrast).toFixed(1)}% of full scale, the spec needs 20%`,
    });
  }
  const coverage = fit.inliers.length / RIM_RAYS;
  const circle = fit.circle;
  let diameterFraction: number | null = null;
  let centreOffsetFraction: number | null = null;
  let disk: Disk | null = null;
  if (!circle || coverage < MIN_RIM_COVERAGE) {
    reasons.push({
      measure: "rimCoverage",
      value: round(coverage, 3),
      limit: MIN_RIM_COVERAGE,
      unit: "fraction of directions",
      message: `no wafer rim: a disk edge was found in ${(100 * coverage).toFixed(0)}% of directions from the centre`,
    });
  } else {
    diameterFraction = (2 * circle.r) / shorter;
    centreOffsetFraction =
      Math.hypot(circle.cx - (image.width - 1) / 2, circle.cy - (image.height - 1) / 2) / shorter;
    if (
      diameterFraction < DIAMETER_FRACTION_RANGE[0] ||
      diameterFraction > DIAMETER_FRACTION_RANGE[1]
    ) {
      reasons.push({
        measure: "diameterFraction",
        value: round(diameterFraction, 4),
        limit:
          diameterFraction < DIAMETER_FRACTION_RANGE[0]
            ? DIAMETER_FRACTION_RANGE[0]
            : DIAMETER_FRACTION_RANGE[1],
        unit: "fraction of the shorter side",
        message: `the disk found is ${(100 * diameterFraction).toFixed(1)}% of the frame, the spec's wafer 80-98%`,
      });
    }
    if (centreOffsetFraction > MAX_CENTRE_OFFSET_FRACTION) {
      reasons.push({
        measure: "centreOffsetFraction",
        value: round(centreOffsetFraction, 4),
        limit: MAX_CENTRE_OFFSET_FRACTION,
        unit: "fraction of the shorter side",
        message: `the disk found is ${(100 * centreOffsetFraction).toFixed(1)}% off the frame centre, the spec allows 3%`,
      });
    }
    if ((fit.residual ?? 0) > MAX_RIM_RESIDUAL) {
      reasons.push({
        measure: "rimResidual",
        value: round(fit.residual ?? 0),
        limit: MAX_RIM_RESIDUAL,
        unit: "fraction of the radius (RMS)",
        message: `the outline is not a round wafer: rim points lie ${(100 * (fit.residual ?? 0)).toFixed(1)}% of the radius (RMS) off the fitted circle`,
      });
    }
    if (fit.interior !== null && fit.interior < MIN_WAFER_INTERIOR) {
      reasons.push({
        measure: "waferInterior",
        value: round(fit.interior, 4),
        limit: MIN_WAFER_INTERIOR,
        unit: "fraction of the disk",
        message: `not one wafer surface: only ${(100 * fit.interior).toFixed(0)}% of the disk found has the wafer's brightness`,
      });
    }
    disk = { cx: circle.cx, cy: circle.cy, r: circle.r };
  }
  // Measured on the wafer inside the rim, or on the central disk the spec guarantees is wafer.
  const inner: Disk = disk
    ? { ...disk, r: disk.r * 0.97 }
    : { cx: (image.width - 1) / 2, cy: (image.height - 1) / 2, r: 0.37 * shorter };
  const noiseSigma = measureNoise(image, inner);
  if (noiseSigma > MAX_NOISE_SIGMA) {
    reasons.push({
      measure: "noiseSigma",
      value: round(noiseSigma),
      limit: MAX_NOISE_SIGMA,
      unit: "fraction of full scale",
      message: `sensor noise sigma ${(100 * noiseSigma).toFixed(2)}% of full scale, the spec allows 1.5%`,
    });
  }
  const clipping = measureClipping(image, inner);
  if (clipping.saturated > MAX_SATURATED_FRACTION) {
    reasons.push({
      measure: "saturatedFraction",
      value: round(clipping.saturated, 4),
      limit: MAX_SATURATED_FRACTION,
      unit: "fraction of the wafer area",
      message: `over-exposed: ${(100 * clipping.saturated).toFixed(1)}% of the wafer is saturated, the spec allows 5%`,
    });
  }
  if (clipping.black > MAX_BLACK_FRACTION) {
    reasons.push({
      measure: "blackFraction",
      value: round(clipping.black, 4),
      limit: MAX_BLACK_FRACTION,
      unit: "fraction of the wafer area",
      message: `under-exposed: ${(100 * clipping.black).toFixed(1)}% of the wafer is black, the spec allows 5%`,
    });
  }
  let blurSigmaPx2048: number | null = null;
  let rimBlurPx: number | null = null;
  if (disk) {
    const blur = measureRimBlur(image, disk, fit.inliers);
    rimBlurPx = blur;
    if (blur !== null) blurSigmaPx2048 = (blur * 2048) / shorter;
    if (blurSigmaPx2048 !== null && blurSigmaPx2048 > MAX_BLUR_SIGMA_PX_2048) {
      reasons.push({
        measure: "blurSigmaPx2048",
        value: round(blurSigmaPx2048, 3),
        limit: MAX_BLUR_SIGMA_PX_2048,
        unit: "px (Gaussian sigma at 2048 px)",
        message: `out of focus: the rim is spread by a Gaussian of ${blurSigmaPx2048.toFixed(1)} px at 2048 px, the spec allows 1 px`,
      });
    }
  }
  const usable = reasons.length === 0;
  // Hot pixels are removed only from images that will be inspected.
  const cleaned = usable ? removeHotPixels(image, noiseSigma) : { image, removed: 0, repaired: [] };
  if (usable) {
    rebinPixels(cleaned.image, work, cleaned.repaired);
    handOverWorkingMap(cleaned.image, work);
    // The disk, as the start of locate's trace: only where no pixel was repaired, so that it is
    // the disk detect() would fit of the pixels it gets (it fits its own otherwise).
    if (cleaned.removed === 0) handOverDiskSeed(cleaned.image, diskSeed(overview, fit));
    // The optics' blur tells the detector how much a real spot spreads (sensor-faults.ts).
    handOverRimBlur(cleaned.image, rimBlurPx);
    // Where it replaced a pixel the spot rule has no observation to stand on (spot-statistic.ts).
    handOverRepairs(cleaned.image, cleaned.repaired);
  }
  return {
    usable,
    image: cleaned.image,
    quality: {
      noiseSigma: round(noiseSigma, 6),
      blurSigmaPx2048: blurSigmaPx2048 === null ? null : round(blurSigmaPx2048, 3),
      saturatedFraction: round(clipping.saturated, 5),
      blackFraction: round(clipping.black, 5),
      chuckContrast: round(chuckContrast, 4),
      rimResidual: fit.residual === null ? null : round(fit.residual, 5),
      diameterFraction: diameterFraction === null ? null : round(diameterFraction, 4),
      centreOffsetFraction: centreOffsetFraction === null ? null : round(centreOffsetFraction, 4),
      waferInterior: fit.interior === null ? null : round(fit.interior, 4),
      hotPixelsRemoved: cleaned.removed,
      reasons,
    },
  };
}

export type GatedResult =
  | ({ status: "inspected"; quality: Quality } & DetectionResult)
  | { status: "unusable"; quality: Quality; defects: []; timingMs: Record<string, number> };

/**
 * The gate in front of any detector: an unusable image is answered with the measured reasons
 * and never reaches the detector; a usable one is inspected with its hot pixels removed (the
 * quality block's count includes the faults the detector itself dropped, sensorFaultsRemoved).
 */
export async function gatedDetect(
  image: GrayImage,
  hints: DetectionHints,
  detect: (image: GrayImage, hints: DetectionHints) => DetectionResult | Promise<DetectionResult>,
): Promise<GatedResult> {
  const started = performance.now();
  const assessment = assessQuality(image);
  const qualityMs = Math.round((performance.now() - started) * 100) / 100;
  if (!assessment.usable) {
    return {
      status: "unusable",
      quality: assessment.quality,
      defects: [],
      timingMs: { quality: qualityMs },
    };
  }
  const { sensorFaultsRemoved = 0, ...result } = await detect(assessment.image, hints);
  return {
    status: "inspected",
    // Faults the detector found where the die pattern cancelled are counted with the gate's own.
    quality: {
      ...assessment.quality,
      hotPixelsRemoved: assessment.quality.hotPixelsRemoved + sensorFaultsRemoved,
    },
    ...result,
    timingMs: { quality: qualityMs, ...result.timingMs },
  };
}
