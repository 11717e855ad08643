// Stages "locate" and "rim": where the wafer is, how it is turned, and the disk the defect search covers.
import type { GrayImage } from "../../../lib/gray-image.ts";
import type { DetectionHints } from "../../../schemas/detection.ts";
import { measureRimBlur } from "../../quality/measures.ts";
import { angleDistanceDeg, type Circle, type WaferFrame } from "../geometry.ts";
import type { Lattice } from "../lattice.ts";
import { locateWafer, type WaferLocation } from "../locate.ts";
import type { DiskRegion } from "../noise.ts";
import type { FloatMap } from "../raster.ts";
import { hasNotchWalls, type RimReading, readRim, rimRadiusAt } from "../rim.ts";
import { RIM, SPEC } from "../thresholds.ts";

export interface WaferPlace {
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

/** Stage "locate": the disk (chuck/wafer levels, rim traced at full resolution, circle fit). */
export { locateWafer as locateDisk };

/**
 * Stage "rim": the rim's own shape, the notch (hinted or found) and the chips, then the wafer
 * frame (mm per px, notch-up coordinates) and the analysis disk inside the edge exclusion.
 */
export function placeWafer(
  image: GrayImage,
  work: FloatMap,
  location: WaferLocation,
  hint: DetectionHints,
): WaferPlace {
  const { circle } = location;
  // Without a hinted notch angle the notch is told from chips by its depth as the trace shows it.
  const edgeSigmaPx = hint.notchAngleDeg === undefined ? rimEdgeSigma(image, location) : 0;
  const rim = readRim(location.rim, circle, hint.notchAngleDeg, edgeSigmaPx);
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

/**
 * Rim points handed to measureRimBlur (which profiles every other one): a mean profile of 50
 * rays is far below the noise, and each profile costs a window of the image.
 */
const EDGE_SPREAD_RAYS = 100;

/**
 * The rim's edge spread as a Gaussian sigma (full-resolution px), measured as the quality gate
 * measures blur (measureRimBlur: profiles across the rim aligned and averaged); 0 when it
 * cannot be measured.
 */
function rimEdgeSigma(image: GrayImage, location: WaferLocation): number {
  const { circle, rim } = location;
  const step = Math.max(1, Math.floor(rim.radii.length / EDGE_SPREAD_RAYS));
  const points: Array<{ x: number; y: number; angle: number }> = [];
  for (let i = 0; i < rim.radii.length; i += step) {
    const r = rim.radii[i] as number;
    const angle = rim.angles[i] as number;
    if (Number.isNaN(r)) continue;
    points.push({ x: circle.cx + r * Math.cos(angle), y: circle.cy + r * Math.sin(angle), angle });
  }
  const sigma = measureRimBlur(image, { cx: circle.cx, cy: circle.cy, r: circle.r }, points);
  return sigma !== null && Number.isFinite(sigma) ? sigma : 0;
}

/** Smallest radius of the fitted rim shape (sampled every degree). */
function rimMinimumRadius(rim: RimReading): number {
  let min = Number.POSITIVE_INFINITY;
  for (let d = 0; d < 360; d++) min = Math.min(min, rimRadiusAt(rim.shape, (d * Math.PI) / 180));
  return min;
}

/** Degrees from `angleDeg` to the nearest direction along either lattice axis (0-45). */
function offGridDeg(angleDeg: number, lattice: Lattice): number {
  return Math.min(
    ...[lattice.a, lattice.b].flatMap((v) => {
      const axis = (Math.atan2(v.y, v.x) * 180) / Math.PI;
      return [axis, axis + 90, axis + 180, axis + 270].map((d) => angleDistanceDeg(angleDeg, d));
    }),
  );
}

/**
 * The spec turns the die grid with the notch: the notch lies along a grid axis, as seen from
 * the centre. A detected notch off every axis of the measured lattice (by more than the notch
 * hint's tolerance) is a chip that looked like a notch (a V of about the notch's depth); when a
 * deficit within the notch's depth range lies on an axis, it is the notch (the best of them by
 * notch cost) and the other is a chip again. With no deficit on an axis (the notch clipped by
 * the frame) the off-axis one is still a chip: no notch is read, and the frame keeps the angle it
 * had (the notch's direction is not known; only the chip list changes). A hinted notch leaves
 * the reading as it is.
 */
export function alignNotchWithGrid(wafer: WaferPlace, lattice: Lattice): WaferPlace {
  const { rim, circle } = wafer;
  const tolerance = RIM.notchHintToleranceDeg;
  if (rim.notchSource !== "detected" || !rim.notch) return wafer;
  if (offGridDeg(rim.notch.angleDeg, lattice) <= tolerance) return wafer;
  const [lo, hi] = RIM.notchDepthRange;
  const nominal = SPEC.notchDepthShare * circle.r;
  const onGrid = rim.chips
    .filter(
      (d) =>
        d.depthPx > lo * nominal &&
        d.depthPx < hi * nominal &&
        hasNotchWalls(d, rim.notchWallAllowancePx) &&
        offGridDeg(d.angleDeg, lattice) <= tolerance,
    )
    .sort((p, q) => p.notchCost - q.notchCost)[0];
  if (!onGrid) {
    const { notch: _offGrid, ...withoutNotch } = rim;
    return { ...wafer, rim: { ...withoutNotch, chips: [...rim.chips, rim.notch] } };
  }
  const notchAngleDeg = onGrid.angleDeg;
  return {
    ...wafer,
    rim: {
      ...rim,
      notchAngleDeg,
      notch: onGrid,
      chips: [...rim.chips.filter((d) => d !== onGrid), rim.notch],
    },
    frame: { ...wafer.frame, notchAngleDeg },
  };
}
