// The die grid of a wafer in wafer millimetres (pitch and offset), recovered from the report so maps and KLARF agree with its dies.
import type { LotMetadata } from "../../schemas/lot.ts";
import type { ImageResult } from "../../schemas/report.ts";

/**
 * docs/wafer-images.md: `col = floor((x + ox) / px)`, `row = floor((-y + oy) / py)`, with
 * 0 < ox < px and 0 < oy < py. The endpoint reports each defect's die but not the offset, so the
 * offset is taken from the range every reported die allows; with no die to go by, the centre die
 * is assumed centred (`offsetKnown: false`).
 */
export interface DieGrid {
  pitchMm: { x: number; y: number };
  offsetMm: { x: number; y: number };
  offsetKnown: boolean;
}

interface Range {
  lo: number;
  hi: number;
}

function pitchOf(image: ImageResult, metadata: LotMetadata | undefined) {
  const given = metadata?.diePitchMm;
  if (given !== undefined) return typeof given === "number" ? { x: given, y: given } : given;
  const wafer = image.wafer;
  if (!wafer?.diePitchPx) return undefined;
  return { x: wafer.diePitchPx.x * wafer.mmPerPx, y: wafer.diePitchPx.y * wafer.mmPerPx };
}

/** The offsets each die-bearing defect of these images allows, intersected. */
function offsetRanges(images: ImageResult[], pitch: { x: number; y: number }) {
  const x: Range = { lo: 0, hi: pitch.x };
  const y: Range = { lo: 0, hi: pitch.y };
  let known = false;
  for (const image of images) {
    for (const defect of image.defects) {
      if (!defect.die) continue;
      known = true;
      const { col, row } = defect.die;
      x.lo = Math.max(x.lo, col * pitch.x - defect.waferMm.x);
      x.hi = Math.min(x.hi, (col + 1) * pitch.x - defect.waferMm.x);
      y.lo = Math.max(y.lo, row * pitch.y + defect.waferMm.y);
      y.hi = Math.min(y.hi, (row + 1) * pitch.y + defect.waferMm.y);
    }
  }
  return { x, y, known };
}

function gridFrom(images: ImageResult[], pitch: { x: number; y: number }): DieGrid | undefined {
  const { x, y, known } = offsetRanges(images, pitch);
  if (x.lo > x.hi || y.lo > y.hi) return undefined;
  return {
    pitchMm: pitch,
    offsetMm: { x: (x.lo + x.hi) / 2, y: (y.lo + y.hi) / 2 },
    offsetKnown: known,
  };
}

/** One wafer's grid, or null on a bare wafer (or one that was not inspected). */
export function waferDieGrid(image: ImageResult, metadata?: LotMetadata): DieGrid | null {
  if (image.wafer?.surface !== "patterned") return null;
  const pitch = pitchOf(image, metadata);
  if (!pitch) return null;
  // Inconsistent dies (rounding at a street) still get a grid: the middle of what they allow.
  const grid = gridFrom([image], pitch);
  if (grid) return grid;
  const { x, y } = offsetRanges([image], pitch);
  return {
    pitchMm: pitch,
    offsetMm: { x: (x.lo + x.hi) / 2, y: (y.lo + y.hi) / 2 },
    offsetKnown: true,
  };
}

/**
 * The grid shared by a lot's patterned wafers of the first wafer's pitch (`fileNames`: the wafers
 * on it), when their dies agree on one offset; else the first wafer's grid alone.
 */
export function lotDieGrid(
  images: ImageResult[],
  metadata?: LotMetadata,
): (DieGrid & { fileNames: string[] }) | null {
  const patterned = images.filter((image) => waferDieGrid(image, metadata));
  const first = patterned[0];
  if (!first) return null;
  const pitch = pitchOf(first, metadata) as { x: number; y: number };
  const same = patterned.filter((image) => {
    const p = pitchOf(image, metadata) as { x: number; y: number };
    return Math.abs(p.x - pitch.x) <= 0.01 * pitch.x && Math.abs(p.y - pitch.y) <= 0.01 * pitch.y;
  });
  const shared = gridFrom(same, pitch);
  if (shared) return { ...shared, fileNames: same.map((image) => image.fileName) };
  return { ...(waferDieGrid(first, metadata) as DieGrid), fileNames: [first.fileName] };
}

/** The die a point in wafer millimetres lies in, on this grid. */
export function dieAt(grid: DieGrid, point: { x: number; y: number }) {
  return {
    col: Math.floor((point.x + grid.offsetMm.x) / grid.pitchMm.x),
    row: Math.floor((-point.y + grid.offsetMm.y) / grid.pitchMm.y),
  };
}

/** Every die whose cell reaches onto a wafer of this radius. */
export function diesOnWafer(grid: DieGrid, radiusMm: number): Array<{ row: number; col: number }> {
  const { x: px, y: py } = grid.pitchMm;
  const { x: ox, y: oy } = grid.offsetMm;
  const dies: Array<{ row: number; col: number }> = [];
  const cols = [Math.floor((-radiusMm + ox) / px), Math.floor((radiusMm + ox) / px)];
  const rows = [Math.floor((-radiusMm + oy) / py), Math.floor((radiusMm + oy) / py)];
  for (let row = rows[0] as number; row <= (rows[1] as number); row++) {
    for (let col = cols[0] as number; col <= (cols[1] as number); col++) {
      // The cell's nearest point to the centre decides whether any of it is on the wafer.
      const x0 = col * px - ox;
      const y0 = row * py - oy;
      const nx = Math.max(x0, Math.min(0, x0 + px));
      const ny = Math.max(y0, Math.min(0, y0 + py));
      if (nx * nx + ny * ny < radiusMm * radiusMm) dies.push({ row, col });
    }
  }
  return dies;
}
