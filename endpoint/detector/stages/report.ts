// Stage "report": the wafer block of the answer, and the mm/die/score/box conventions defects share.
import { fullScale, type GrayImage } from "../../../lib/gray-image.ts";
import type { Die, Point } from "../../../schemas/common.ts";
import type { Wafer } from "../../../schemas/detection.ts";
import { type DieGrid, dieAt, type WaferFrame, waferMmToPixel } from "../geometry.ts";
import type { Lattice, Vector } from "../lattice.ts";
import { SCORE } from "../thresholds.ts";
import { workingScale } from "./input.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";

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

/** The die (column, row) holding a wafer-mm point; always null on bare wafers. */
export function dieLookup(
  lattice: Lattice | null,
  wafer: WaferPlace,
  scale: number,
): (mm: Point) => Die | null {
  if (!lattice) return () => null;
  const { grid } = dieGridFrom(lattice, wafer.frame, scale, wafer.mmPerPx);
  return (mm) => dieAt(grid, mm);
}

export function scoreFrom(strength: number): number {
  // strength = signal / threshold (>= 1 for anything reported); saturates towards 1.
  return Math.min(1, Math.max(0, 1 - (1 - SCORE.atThreshold) * Math.exp(-(strength - 1))));
}

/** A box in full-resolution px, whole pixels, inside the frame. */
export function clampBox(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
  height: number,
) {
  const x = Math.max(0, Math.min(width - 1, Math.floor(x0)));
  const y = Math.max(0, Math.min(height - 1, Math.floor(y0)));
  const xe = Math.max(x + 1, Math.min(width, Math.ceil(x1 + 1)));
  const ye = Math.max(y + 1, Math.min(height, Math.ceil(y1 + 1)));
  return { x, y, width: xe - x, height: ye - y };
}

export function waferReport(
  image: GrayImage,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice | null,
): Wafer {
  const full = fullScale(image);
  const scale = workingScale(image);
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
