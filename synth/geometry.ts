// The wafer coordinate conventions (pixels <-> SEMI millimetres, die grid) shared by generator and tests.
import type { Die, Point } from "../schemas/common.ts";

/** Where a wafer sits in its image; pixel centres are at integer coordinates (u right, v down). */
export interface WaferFrame {
  centerPx: Point;
  radiusPx: number;
  diameterMm: number;
  /** Degrees clockwise from the image's +x axis; 90 = notch at the bottom. */
  notchAngleDeg: number;
}

/**
 * The die grid in the wafer's oriented frame. Cell (row, col) spans
 * x in [col*pitchX - offsetX, (col+1)*pitchX - offsetX) and
 * -y in [row*pitchY - offsetY, (row+1)*pitchY - offsetY); a cell is one die plus half
 * of the street on each side. Offsets lie in (0, pitch) so die (0, 0) holds the centre.
 */
export interface DieGrid {
  pitchMm: Point;
  offsetMm: Point;
}

export function mmPerPx(frame: WaferFrame): number {
  return frame.diameterMm / (2 * frame.radiusPx);
}

/**
 * Pixel to SEMI millimetres: origin at the wafer centre, x right, y up, after turning the
 * image so the notch points down (the image frame turned counter-clockwise by angle-90).
 */
export function pixelToWaferMm(frame: WaferFrame, u: number, v: number): Point {
  const scale = mmPerPx(frame);
  const dx = (u - frame.centerPx.x) * scale;
  const dy = -(v - frame.centerPx.y) * scale;
  const turn = ((frame.notchAngleDeg - 90) * Math.PI) / 180;
  const cos = Math.cos(turn);
  const sin = Math.sin(turn);
  return { x: dx * cos - dy * sin, y: dx * sin + dy * cos };
}

export function waferMmToPixel(frame: WaferFrame, x: number, y: number): Point {
  const scale = mmPerPx(frame);
  const turn = ((frame.notchAngleDeg - 90) * Math.PI) / 180;
  const cos = Math.cos(turn);
  const sin = Math.sin(turn);
  const dx = x * cos + y * sin;
  const dy = -x * sin + y * cos;
  return { x: frame.centerPx.x + dx / scale, y: frame.centerPx.y - dy / scale };
}

export function dieAt(grid: DieGrid, mm: Point): Die {
  return {
    row: Math.floor((-mm.y + grid.offsetMm.y) / grid.pitchMm.y),
    col: Math.floor((mm.x + grid.offsetMm.x) / grid.pitchMm.x),
  };
}

/**
 * Coefficients that map a pixel straight to die-cell coordinates (cells, not mm), so the
 * renderer can walk rows with additions only: cellX = ax*u + bx*v + cx, likewise cellY.
 */
export function pixelToCellAffine(
  frame: WaferFrame,
  grid: DieGrid,
): { ax: number; bx: number; cx: number; ay: number; by: number; cy: number } {
  const scale = mmPerPx(frame);
  const turn = ((frame.notchAngleDeg - 90) * Math.PI) / 180;
  const cos = Math.cos(turn);
  const sin = Math.sin(turn);
  // x_mm = s*cos*(u-cx0) + s*sin*(v-cy0); y_mm = s*sin*(u-cx0) - s*cos*(v-cy0)
  const xu = scale * cos;
  const xv = scale * sin;
  const yu = scale * sin;
  const yv = -scale * cos;
  const { x: u0, y: v0 } = frame.centerPx;
  const px = grid.pitchMm.x;
  const py = grid.pitchMm.y;
  return {
    ax: xu / px,
    bx: xv / px,
    cx: (-xu * u0 - xv * v0 + grid.offsetMm.x) / px,
    ay: -yu / py,
    by: -yv / py,
    cy: (yu * u0 + yv * v0 + grid.offsetMm.y) / py,
  };
}
