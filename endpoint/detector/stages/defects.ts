// Stages "group" and "classify": blobs joined into defects (fragments merged, echoes dropped), then named.
import type { GrayImage } from "../../../lib/gray-image.ts";
import type { Point } from "../../../schemas/common.ts";
import type { Defect } from "../../../schemas/detection.ts";
import { type BlobFeatures, type FeatureContext, measureBlob } from "../blob-features.ts";
import { classifyBlob } from "../classify.ts";
import { repeatedAlongDirection } from "../direction-evidence.ts";
import { mergeFragments } from "../fragments.ts";
import { pixelToWaferMm } from "../geometry.ts";
import type { Lattice } from "../lattice.ts";
import {
  isStreetPhaseLine,
  type LatticeLineReading,
  longestScratchPx,
  needsLatticeLineMargin,
  readLatticeLine,
  streetPhaseRowPixels,
} from "../lattice-line.ts";
import type { FloatMap } from "../raster.ts";
import type { Blob } from "../segment.ts";
import { LATTICE_LINE, MERGE } from "../thresholds.ts";
import type { WaferPlace } from "./place.ts";
import { clampBox, dieLookup, scoreFrom } from "./report.ts";
import type { DetectionThresholds, SeedThresholds } from "./thresholds.ts";

/** Std-dev of the [1 2 1] / 4 kernel, px: sqrt(0.5). */
const BINOMIAL_SIGMA_PX = Math.SQRT1_2;

export interface BlobGroups {
  groups: Blob[];
  ctx: FeatureContext;
  /** 1 where die-to-die references are extrapolated (the rim ring); null on bare wafers. */
  edgeMask?: Uint8Array | null;
}

/** Stage "group": fragments of one defect joined; on patterned wafers die-to-die echoes dropped. */
export function groupBlobs(
  blobs: Blob[],
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice | null,
  residual: Float32Array,
  thresholds: SeedThresholds,
  /** 1 where die-to-die references are extrapolated (the rim ring); null on bare wafers. */
  edgeMask: Uint8Array | null = null,
): BlobGroups {
  const scale = work.scale;
  const ctx: FeatureContext = {
    mapWidth: work.width,
    mapHeight: work.height,
    mapScale: scale,
    residual,
    score: thresholds.score,
  };
  // A line-seeded blob must have grown along the segment that seeded it (a scratch does; a
  // street crossing or a blotch that a segment happened to cross does not), and on a patterned
  // wafer must not be a pattern line (isPatternLine: a row that repeats across, or a street's
  // phase; keeping to a row alone is not enough, a scratch along an axis does too). Judged per
  // blob, before grouping, so that such a piece cannot join others into a group that passes.
  const kept = blobs.filter(
    (blob) =>
      !blob.lineSeeded || lineBlobHolds(blob, ctx, work, wafer, lattice, residual, edgeMask),
  );
  if (!lattice) return { groups: mergeFragments(kept, ctx, wafer.sizeScale), ctx };
  const pitches = [Math.hypot(lattice.a.x, lattice.a.y), Math.hypot(lattice.b.x, lattice.b.y)].map(
    (p) => p * scale,
  );
  const merge = (some: Blob[]) =>
    mergeFragments(
      some,
      ctx,
      wafer.sizeScale,
      MERGE.echoReachPitches * Math.max(...pitches),
      MERGE.bigPitchShare * Math.min(...pitches),
      [
        { x: lattice.a.x * scale, y: lattice.a.y * scale },
        { x: lattice.b.x * scale, y: lattice.b.y * scale },
      ],
      edgeMask,
    );
  // A weak street row's sampling-phase leftover is judged on its own before it can join a
  // strong defect beside the row (lattice-line.ts streetPhaseRowPixels says why).
  const strengthOf = (blob: Blob, f = measureBlob(blob.pixels, blob.sign, ctx, false)) =>
    f.peakScore / thresholds.highAt(mapIndex(work, wafer, f.centroid));
  const rows = streetPhaseRowPixels(
    kept.filter((blob) => strengthOf(blob) < LATTICE_LINE.margin),
    merge,
    {
      strength: (g) => strengthOf(g),
      read: (g) =>
        readLatticeLine({
          features: measureBlob(g.pixels, g.sign, ctx, false),
          pixels: g.pixels,
          sign: g.sign,
          lattice,
          residual,
          mapWidth: work.width,
          mapHeight: work.height,
          analysis: wafer.analysis,
          edgeMask,
        }),
      length: (g, along) => ({
        lengthPx: measureBlob(g.pixels, g.sign, ctx, false).lengthPx,
        longestScratchPx: longestScratchPx(along, lattice, wafer.sizeScale, scale),
      }),
    },
    lattice,
    work.width * work.height,
  );
  const groups = merge(rows ? kept.filter((blob) => !rows[blob.pixels[0] as number]) : kept);
  return { groups, ctx, edgeMask };
}

/** The working-map index of a full-resolution point, clamped to the map. */
function mapIndex(work: FloatMap, wafer: WaferPlace, p: Point): number {
  return (
    Math.min(work.height - 1, Math.max(0, Math.round(wafer.toMap(p.y)))) * work.width +
    Math.min(work.width - 1, Math.max(0, Math.round(wafer.toMap(p.x))))
  );
}

/** Whether a line-seeded blob lies along its seed's segment and, on a patterned wafer, is no pattern line. */
function lineBlobHolds(
  blob: Blob,
  ctx: FeatureContext,
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice | null,
  residual: Float32Array,
  edgeMask: Uint8Array | null,
): boolean {
  const features = measureBlob(blob.pixels, blob.sign, ctx, false);
  const off = Math.abs(features.orientation - (blob.lineAngle ?? features.orientation)) % Math.PI;
  if (Math.min(off, Math.PI - off) > (MERGE.collinearDeg * Math.PI) / 180) return false;
  if (!lattice) return true;
  const reading = readLatticeLine({
    features,
    pixels: blob.pixels,
    sign: blob.sign,
    lattice,
    residual,
    mapWidth: work.width,
    mapHeight: work.height,
    analysis: wafer.analysis,
    edgeMask,
  });
  return !isPatternLine(reading, lattice, features.lengthPx, wafer.sizeScale, work.scale);
}

/**
 * Whether a line the lattice-line test read is the pattern's, by the evidence classify judges
 * weak lines on (LATTICE_LINE, STREET_PHASE): it keeps to a die row AND either repeats at the
 * same die phase pitches across (or cannot be judged there), or lies on a street's centre and
 * runs on past an end or is longer than any scratch. Keeping to a row alone is not that
 * evidence: a scratch parallel to a lattice axis keeps to a row as easily as a street does, but
 * its copies across do not repeat it and it lies off the street centre.
 */
function isPatternLine(
  reading: LatticeLineReading,
  lattice: Lattice,
  lengthPx: number,
  sizeScale: number,
  mapScale: number,
): boolean {
  if (reading.along === null) return false;
  if (needsLatticeLineMargin(reading)) return true;
  return isStreetPhaseLine(reading, lattice, {
    lengthPx,
    longestScratchPx: longestScratchPx(reading.along, lattice, sizeScale, mapScale),
  });
}

/**
 * Stage "classify": each group measured, dropped when it is a chip's inward part or a weak
 * line along a lattice axis, else classified and placed on the wafer and its die grid.
 */
export function classifyGroups(
  { groups, ctx, edgeMask = null }: BlobGroups,
  image: GrayImage,
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice | null,
  thresholds: DetectionThresholds,
): Defect[] {
  const { circle, exclusionPx, sizeScale, frame } = wafer;
  const scale = work.scale;
  // A chip deeper than the edge exclusion shows up inside the analysed disk too: its inward part,
  // contiguous with the chip. A group is that part when its box touches the chip's box, widened
  // only by the slack the radial test below allows the chip's measured depth (4 map px): a
  // separate defect beside the chip, however near, is not dropped with it (round 50 of
  // docs/detector-recall.md, G: a void 13 px from a chip's box was).
  const chipSlack = 4 * scale;
  const chipZones = wafer.rim.chips.map((c) => ({
    x0: c.bbox.x0 - chipSlack,
    y0: c.bbox.y0 - chipSlack,
    x1: c.bbox.x1 + chipSlack,
    y1: c.bbox.y1 + chipSlack,
    depth: c.depthPx,
  }));
  const mapIndexOf = (p: Point) => mapIndex(work, wafer, p);
  const dieOf = dieLookup(lattice, wafer, scale);
  const defects: Defect[] = [];
  for (const group of groups) {
    const f: BlobFeatures = measureBlob(group.pixels, group.sign, ctx);
    const fromCentre = Math.hypot(f.centroid.x - circle.cx, f.centroid.y - circle.cy);
    const inChipZone = chipZones.some(
      (z) =>
        f.bbox.x0 <= z.x1 &&
        f.bbox.x1 >= z.x0 &&
        f.bbox.y0 <= z.y1 &&
        f.bbox.y1 >= z.y0 &&
        fromCentre > circle.r - exclusionPx - z.depth - chipSlack,
    );
    if (inChipZone) continue;
    const strength = f.peakScore / thresholds.highAt(mapIndexOf(f.centroid));
    // A weak line that stays on one die row and repeats pitches across it is a pattern line.
    if (lattice && strength < LATTICE_LINE.margin) {
      const reading = readLatticeLine({
        features: f,
        pixels: group.pixels,
        sign: group.sign,
        lattice,
        residual: ctx.residual,
        mapWidth: work.width,
        mapHeight: work.height,
        analysis: wafer.analysis,
        edgeMask,
      });
      if (needsLatticeLineMargin(reading)) continue;
      // On a street's centre and running on past its ends: the street's sampling phase.
      const length =
        reading.along === null
          ? undefined
          : {
              lengthPx: f.lengthPx,
              longestScratchPx: longestScratchPx(reading.along, lattice, sizeScale, scale),
            };
      if (isStreetPhaseLine(reading, lattice, length)) continue;
      // A line-seeded group that keeps to a die row but shows none of the pattern's evidence
      // above (no copy across, off the street centre or ending) is a scratch along the axis:
      // kept, as groupBlobs' lineBlobHolds keeps its pieces (isPatternLine says why).
    }
    // A pattern repeated along a row or column of dies, not a defect in this one.
    if (
      lattice &&
      repeatedAlongDirection(work, group.pixels, group.sign, lattice.a, lattice.b, edgeMask)
    )
      continue;
    const defectClass = classifyBlob(f, sizeScale, scale, lattice ? BINOMIAL_SIGMA_PX : 0);
    // The line seed's evidence is a line's: what it alone seeded must have grown into one.
    if (group.lineSeeded && defectClass !== "scratch") continue;
    // The seed threshold assumes a Gaussian tail; where the score's tail is measured heavier,
    // a particle-sized blob (the footprint of one such excursion) must clear it by that much.
    // Larger defects are not single excursions: their extent is their evidence.
    // A spot the second smoothing took under the seed passes on the statistic matched to it,
    // when that statistic passes its own (tail-measured) threshold and the footprint is a
    // spot's, not a hot pixel's (spot-statistic.ts; SPOT_STATISTIC says why).
    const spot = group.spotStrength ?? 0;
    if (defectClass === "particle" && strength < thresholds.scoreTail && spot < 1) continue;
    // What only the spot seed reached stands on the spot's evidence alone: a particle, a spot's footprint.
    if (group.spotSeeded && (defectClass !== "particle" || spot < 1)) continue;
    const mm = pixelToWaferMm(frame, f.centroid.x, f.centroid.y);
    defects.push({
      class: defectClass,
      // Only a spot kept by its own statistic is scored on it: every other defect as before.
      score: scoreFrom(strength < thresholds.scoreTail ? Math.max(strength, spot) : strength),
      bbox: clampBox(f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1, image.width, image.height),
      centroidPx: f.centroid,
      areaPx: f.areaPx,
      waferMm: mm,
      die: dieOf(mm),
    });
  }
  return defects;
}
