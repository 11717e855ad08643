// Residual maps for the lattice-line and street-phase tests: a 320 px map with 20 px dies, lines drawn on it, and the classify stage and line reading run on them.
import type { FeatureContext } from "../../endpoint/detector/blob-features.ts";
import { measureBlob } from "../../endpoint/detector/blob-features.ts";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import { readLatticeLine } from "../../endpoint/detector/lattice-line.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { classifyGroups } from "../../endpoint/detector/stages/defects.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import type { DetectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import type { GrayImage } from "../../lib/gray-image.ts";

// A 320 x 320 map at full resolution (scale 1), dies of 20 x 20 px, the disk 150 px in radius.
// The seed threshold is 10 everywhere; a line at 15 has strength 1.5: over the ordinary
// threshold, under the doubled one.
export const size = 320;
export const lattice: Lattice = {
  a: { x: 20, y: 0 },
  b: { x: 0, y: 20 },
  streetPhase: { a: 0, b: 0 },
  periodicity: 1,
};
export const analysis: DiskRegion = { cx: 160, cy: 160, r: 150 };
export const seedThreshold = 10;
export const lineLevel = 15;

/** The wafer the maps lie on: the frame filled by a 300 mm disk, no chips, analysed as `analysis`. */
export const wafer = {
  circle: { cx: 160, cy: 160, r: 160 },
  rim: { chips: [] },
  frame: { cx: 160, cy: 160, radiusPx: 160, diameterMm: 300, notchAngleDeg: 90 },
  mmPerPx: 300 / 320,
  exclusionPx: 3.2,
  analysis,
  sizeScale: size / 2048,
  toMap: (v: number) => v,
  waferLevel: 100,
  chuckLevel: 20,
} as unknown as WaferPlace;

/** Draws a line 2 px wide from (x0, y0), `length` px at `deg` from +x, adding `level` to each pixel it covers. */
export function drawLine(
  map: Float32Array,
  x0: number,
  y0: number,
  length: number,
  deg: number,
  level: number,
): void {
  const ux = Math.cos((deg * Math.PI) / 180);
  const uy = Math.sin((deg * Math.PI) / 180);
  const covered = new Set<number>();
  for (let t = 0; t <= length; t += 0.25)
    for (const across of [-0.5, 0.5]) {
      const x = Math.round(x0 + t * ux - across * uy);
      const y = Math.round(y0 + t * uy + across * ux);
      covered.add(y * size + x);
    }
  for (const p of covered) map[p] = (map[p] as number) + level;
}

export function pixelsAbove(map: Float32Array, floor: number): Int32Array {
  const out: number[] = [];
  for (let p = 0; p < map.length; p++) if ((map[p] as number) >= floor) out.push(p);
  return Int32Array.from(out);
}

/**
 * What the group and classify stages read besides the residual: a flat working map, thresholds
 * seeding at seedThreshold everywhere on `residual`, and a blank 8-bit image.
 */
export function groupingInputs(residual: Float32Array) {
  const work: FloatMap = {
    width: size,
    height: size,
    scale: 1,
    data: new Float32Array(size * size).fill(100),
  };
  const thresholds = {
    score: residual,
    highAt: () => seedThreshold,
    scoreTail: 1,
  } as unknown as DetectionThresholds;
  const image: GrayImage = {
    width: size,
    height: size,
    bitDepth: 8,
    data: new Uint8Array(size * size),
  };
  return { work, thresholds, image };
}

/** The classify stage on one bright group (the line's pixels) over the given residual. */
export function classify(
  residual: Float32Array,
  pixels: Int32Array,
  edgeMask: Uint8Array | null = null,
) {
  const ctx: FeatureContext = {
    mapWidth: size,
    mapHeight: size,
    mapScale: 1,
    residual,
    score: residual,
  };
  const { work, thresholds, image } = groupingInputs(residual);
  return classifyGroups(
    { groups: [{ pixels, sign: 1 }], ctx, edgeMask },
    image,
    work,
    wafer,
    lattice,
    thresholds,
  );
}

export function reading(residual: Float32Array, pixels: Int32Array) {
  const ctx: FeatureContext = {
    mapWidth: size,
    mapHeight: size,
    mapScale: 1,
    residual,
    score: residual,
  };
  return readLatticeLine({
    features: measureBlob(pixels, 1, ctx, false),
    pixels,
    sign: 1,
    lattice,
    residual,
    mapWidth: size,
    mapHeight: size,
    analysis,
    edgeMask: null,
  });
}
