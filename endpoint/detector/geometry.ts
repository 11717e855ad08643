// Wafer geometry: robust circle fitting and conversions from image pixels to wafer millimetres and dies.
import type { Die, Point } from "../../schemas/common.ts";
import { selectKthMagnitude } from "./select.ts";

export interface Circle {
  cx: number;
  cy: number;
  r: number;
}

/** Algebraic (Kasa) least-squares circle through weighted points; null when degenerate. */
export function fitCircleAlgebraic(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  weights?: ArrayLike<number>,
): Circle | null {
  // Centre the data first: the normal equations are badly conditioned at pixel coordinates.
  let mx = 0;
  let my = 0;
  let sw = 0;
  for (let i = 0; i < xs.length; i++) {
    const w = weights ? (weights[i] as number) : 1;
    mx += w * (xs[i] as number);
    my += w * (ys[i] as number);
    sw += w;
  }
  if (sw <= 0) return null;
  mx /= sw;
  my /= sw;
  let suu = 0;
  let svv = 0;
  let suv = 0;
  let suuu = 0;
  let svvv = 0;
  let suvv = 0;
  let svuu = 0;
  for (let i = 0; i < xs.length; i++) {
    const w = weights ? (weights[i] as number) : 1;
    if (w === 0) continue;
    const u = (xs[i] as number) - mx;
    const v = (ys[i] as number) - my;
    suu += w * u * u;
    svv += w * v * v;
    suv += w * u * v;
    suuu += w * u * u * u;
    svvv += w * v * v * v;
    suvv += w * u * v * v;
    svuu += w * v * u * u;
  }
  const det = suu * svv - suv * suv;
  if (Math.abs(det) < 1e-12) return null;
  const b1 = 0.5 * (suuu + suvv);
  const b2 = 0.5 * (svvv + svuu);
  const uc = (b1 * svv - b2 * suv) / det;
  const vc = (suu * b2 - suv * b1) / det;
  const r = Math.sqrt(uc * uc + vc * vc + (suu + svv) / sw);
  return { cx: mx + uc, cy: my + vc, r };
}

/**
 * Circle fit that ignores rim points far from the circle (notch, chips, dirt on the chuck):
 * iteratively refits on points within a few robust deviations of the current circle. The
 * first circle is the fit through all points, or `start` when a circle is known already (the
 * notch and chips then never pull the first weights).
 */
export function fitCircleRobust(
  xs: Float64Array,
  ys: Float64Array,
  minTolerancePx: number,
  start?: Circle,
): Circle | null {
  const n = xs.length;
  const weights = new Float64Array(n).fill(1);
  let circle = start ?? fitCircleAlgebraic(xs, ys);
  if (!circle) return null;
  const deviations = new Float64Array(n);
  for (let iteration = 0; iteration < 6; iteration++) {
    for (let i = 0; i < n; i++) {
      deviations[i] = Math.abs(
        Math.hypot((xs[i] as number) - circle.cx, (ys[i] as number) - circle.cy) - circle.r,
      );
    }
    // The median deviation by selection, not a sort of a copy: the same value (deviations are
    // magnitudes, >= +0 and never NaN for finite points), without n log n per iteration.
    const mad = n > 0 ? selectKthMagnitude(deviations, n, Math.floor(n / 2)) : 0;
    const tolerance = Math.max(minTolerancePx, 4 * 1.4826 * mad);
    for (let i = 0; i < n; i++) weights[i] = (deviations[i] as number) <= tolerance ? 1 : 0;
    const next = fitCircleAlgebraic(xs, ys, weights);
    if (!next) return circle;
    const moved =
      Math.abs(next.cx - circle.cx) + Math.abs(next.cy - circle.cy) + Math.abs(next.r - circle.r);
    circle = next;
    if (moved < 1e-3) break;
  }
  return circle;
}

/** What is needed to express an image position in the wafer's oriented frame. */
export interface WaferFrame {
  cx: number;
  cy: number;
  radiusPx: number;
  diameterMm: number;
  notchAngleDeg: number;
}

export function mmPerPixel(frame: WaferFrame): number {
  return frame.diameterMm / (2 * frame.radiusPx);
}

/**
 * Image pixel to wafer millimetres: origin at the centre, x right, y up, after turning the
 * wafer so the notch points down (SEMI): rotate counter-clockwise by (notch - 90) degrees.
 */
export function pixelToWaferMm(frame: WaferFrame, u: number, v: number): Point {
  const s = mmPerPixel(frame);
  const dx = (u - frame.cx) * s;
  const dy = -(v - frame.cy) * s;
  const a = ((frame.notchAngleDeg - 90) * Math.PI) / 180;
  const c = Math.cos(a);
  const sn = Math.sin(a);
  return { x: dx * c - dy * sn, y: dx * sn + dy * c };
}

/** Inverse of pixelToWaferMm. */
export function waferMmToPixel(frame: WaferFrame, mm: Point): Point {
  const s = mmPerPixel(frame);
  const a = (-(frame.notchAngleDeg - 90) * Math.PI) / 180;
  const c = Math.cos(a);
  const sn = Math.sin(a);
  const dx = mm.x * c - mm.y * sn;
  const dy = mm.x * sn + mm.y * c;
  return { x: frame.cx + dx / s, y: frame.cy - dy / s };
}

/**
 * The die grid in the oriented frame: pitch in mm and the position (mm) of one die corner,
 * i.e. a street centre line along each axis.
 */
export interface DieGrid {
  pitchMm: Point;
  cornerMm: Point;
}

/** Die (0,0) holds the wafer centre; columns grow to +x, rows grow downwards (-y). */
export function dieAt(grid: DieGrid, mm: Point): Die {
  const colOf = (x: number) => Math.floor((x - grid.cornerMm.x) / grid.pitchMm.x);
  const rowOf = (y: number) => Math.floor((grid.cornerMm.y - y) / grid.pitchMm.y);
  return { row: rowOf(mm.y) - rowOf(0), col: colOf(mm.x) - colOf(0) };
}

/** Smallest absolute difference between two angles in degrees. */
export function angleDistanceDeg(a: number, b: number): number {
  const d = (((a - b) % 360) + 360) % 360;
  return d > 180 ? 360 - d : d;
}
