// The class decision: particle, scratch, void or stain from a blob's shape measures and the spec's sizes.
import type { DefectClass } from "../../schemas/common.ts";
import type { BlobFeatures } from "./blob-features.ts";
import { CLASSIFY, SPEC } from "./thresholds.ts";
/**
 * Widest 75%-to-25% edge fall (full-res px) a void can show here: its rim (the spec's 5 px
 * ramp falls 75-25% over half that) and the optical blur (1.35 sigma), both scaled with the
 * image, plus what our own processing adds: box binning (sigma = scale / sqrt 12 px) and any
 * extra smoothing of the residual (given in map px of sigma), all in quadrature.
 */
export function voidEdgeWidthPx(
  sizeScale: number,
  mapScale: number,
  extraBlurSigmaMapPx: number,
): number {
  const rim = 0.5 * SPEC.voidRimSoftPx * sizeScale;
  const optics = 1.35 * SPEC.blurSigmaPx * sizeScale;
  const binning = 1.35 * (mapScale / Math.sqrt(12));
  const smoothing = 1.35 * extraBlurSigmaMapPx * mapScale;
  return Math.sqrt(rim ** 2 + optics ** 2 + binning ** 2 + smoothing ** 2);
}

/**
 * Class from shape, with sizes normalised to a 2048 px frame (the spec's table):
 * particle 3-16 px, scratch 1-4 px wide and 80-600 long, void 16-90 px with a sharp rim,
 * stain 60-300 px and soft-edged. Where void and stain sizes overlap, the edge decides:
 * wider than a void's rim can be (voidEdgeWidthPx, with a safety factor) is a stain.
 */
export function classifyBlob(
  f: BlobFeatures,
  sizeScale: number,
  mapScale: number,
  /** Extra smoothing (sigma, working-map px) the residual carries, e.g. die-to-die pre-smoothing. */
  extraBlurSigmaMapPx = 0,
): DefectClass {
  const length = f.lengthPx / sizeScale;
  const width = f.widthPx / sizeScale;
  const elongation = length / Math.max(width, 1);
  // Mean width along the major axis: stays thin for crossing or curved scratches too.
  const meanWidth = f.areaPx / Math.max(f.lengthPx, 1) / sizeScale;
  if (
    length >= CLASSIFY.scratchMinLengthPx &&
    (elongation >= CLASSIFY.scratchMinElongation ||
      (meanWidth <= CLASSIFY.scratchMaxMeanWidthPx &&
        meanWidth <= CLASSIFY.scratchMaxMeanWidthShare * length))
  ) {
    return "scratch";
  }
  const core = f.coreDiameterPx / sizeScale;
  if (core < CLASSIFY.particleMaxCorePx) return "particle";
  if (core < CLASSIFY.stainMinCorePx) return "void";
  if (core > CLASSIFY.voidMaxCorePx) return "stain";
  const limit = CLASSIFY.softEdgeFactor * voidEdgeWidthPx(sizeScale, mapScale, extraBlurSigmaMapPx);
  return f.edgeWidthPx > limit ? "stain" : "void";
}
