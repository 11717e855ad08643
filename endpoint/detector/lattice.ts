// Die lattice of a patterned wafer, measured on the map in steps: grid orientation, pitch candidates per axis, the best refined vector, street phase.
import { pitchCandidates } from "./lattice-pitch.ts";
import {
  diskPoints,
  gridOrientation,
  orientationPoints,
  type PointSet,
  streetPhase,
} from "./lattice-projections.ts";
import { refineVector } from "./lattice-refine.ts";
import { type LatticeSearch, latticeSearch } from "./lattice-search.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { LATTICE, LATTICE_SEARCH } from "./thresholds.ts";

export interface Vector {
  x: number;
  y: number;
}

export interface Lattice {
  /** Lattice vectors in working-map pixels; a is the one nearer the image x axis. */
  a: Vector;
  b: Vector;
  /** Offset (map px, along each unit vector from the disk centre) of a street centre line. */
  streetPhase: { a: number; b: number };
  /** How well one die maps onto the next (1 = perfect repeat, 0 = no periodicity). */
  periodicity: number;
}

/**
 * The lattice vector along `unit`: every candidate is refined and scored, and the one that
 * repeats the pattern best wins. Multiples of the pitch score near 0 (half of them is a
 * repeat too) and a motif repeat inside the die scores below the pitch (its streets do not
 * line up), so the best score is the die pitch; null when none reaches the floor.
 */
function bestVector(
  search: LatticeSearch,
  unit: Vector,
  candidates: number[],
  noiseSigma: number,
): { v: Vector; quality: number } | null {
  let best: { v: Vector; quality: number } | null = null;
  const goodRepeats: number[] = [];
  for (const pitch of candidates) {
    // A multiple of a shift that already repeats the pattern well cannot beat it.
    const multiple = goodRepeats.some((p) => {
      const k = Math.round(pitch / p);
      return k >= 2 && Math.abs(pitch / p - k) < 0.03 * k;
    });
    if (multiple) continue;
    const fitted = refineVector(
      search.map,
      search.region,
      { x: unit.x * pitch, y: unit.y * pitch },
      noiseSigma,
      search,
    );
    if (fitted.quality >= LATTICE.goodPeriodicity)
      goodRepeats.push(Math.hypot(fitted.v.x, fitted.v.y));
    if (!best || fitted.quality > best.quality) best = fitted;
  }
  return best && best.quality >= LATTICE.minPeriodicity ? best : null;
}

/**
 * Measures the die lattice, or returns null when the surface shows no clear periodicity.
 * `expectedPitchPx` (map px, from hints) narrows the search when known.
 */
export function measureLattice(
  map: FloatMap,
  region: DiskRegion,
  waferDiameterPx: number,
  notchAngleDeg: number,
  noiseSigma: number,
  expectedPitchPx?: Vector,
  /** A map-sized buffer first written after this call, lent for the coarse map (coarseView). */
  lent?: Float32Array,
): Lattice | null {
  // The orientation's points, read once per wafer even when the quadrant scan below runs too.
  const points = orientationPoints(map, region);
  const { minPitch, maxPitch } = pitchRange(region, waferDiameterPx);
  const hinted = expectedPitchPx ? [expectedPitchPx.x, expectedPitchPx.y] : [];
  const context = latticeSearch(
    map,
    region,
    Math.min(minPitch, ...hinted.map((p) => p * (1 - LATTICE.hintTolerance))),
    Math.max(maxPitch, ...hinted.map((p) => p * (1 + LATTICE.hintTolerance))),
    lent,
  );
  const priorAngle = gridOrientation(map, region, ((notchAngleDeg - 90) * Math.PI) / 180, points);
  const withPrior = measureLatticeAt(
    context,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    priorAngle,
    expectedPitchPx,
  );
  if (withPrior && withPrior.periodicity >= LATTICE.goodPeriodicity) return withPrior;
  // No candidate shift showed pattern energy above the noise: the surface has no pattern (a
  // bare wafer, a stain), and a die grid turned any other way would have shown it too (half
  // a pitch along any direction but a lattice vector moves it off itself).
  if (!withPrior && !context.sawPattern) return null;
  // The notch may be misread (or the grid not square to it): scan the whole quadrant. When the
  // scan finds the orientation already searched (within its quarter-degree step), searching it
  // again would find the same lattice, or the same lack of one.
  const scannedAngle = gridOrientation(map, region, undefined, points);
  const apart = Math.abs(angleModQuarterTurn(scannedAngle - priorAngle));
  if (apart <= (LATTICE_SEARCH.sameOrientationDeg * Math.PI) / 180) return withPrior;
  const scanned = measureLatticeAt(
    context,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    scannedAngle,
    expectedPitchPx,
  );
  if (!withPrior) return scanned;
  return scanned && scanned.periodicity > withPrior.periodicity ? scanned : withPrior;
}

/** An angle (radians) folded into [-45, 45) degrees: a grid looks the same turned by 90. */
function angleModQuarterTurn(angle: number): number {
  const quarter = Math.PI / 2;
  return angle - quarter * Math.round(angle / quarter);
}

/**
 * Points for the street phase: one map pixel picked at random from each 4 x 4 cell (a quarter
 * of the every-other-pixel grid it had, at the same map values). Whole-pixel positions on a
 * regular grid of step s fold onto only pitch / s distinct phases of an axis-aligned grid; the
 * scattered picks fill all 64 bins of the profile.
 */
function phasePoints(context: LatticeSearch): PointSet {
  context.phase ??= diskPoints(context.map, context.region, 4, true);
  return context.phase;
}

/** The pitch search range (map px): the spec's range with slack, at most half the disk's radius. */
function pitchRange(
  region: DiskRegion,
  waferDiameterPx: number,
): { minPitch: number; maxPitch: number } {
  return {
    minPitch: LATTICE.minPitchShare * waferDiameterPx,
    maxPitch: Math.min(LATTICE.maxPitchShare * waferDiameterPx, region.r * 0.5),
  };
}

function measureLatticeAt(
  context: LatticeSearch,
  waferDiameterPx: number,
  notchAngleDeg: number,
  noiseSigma: number,
  angle: number,
  expectedPitchPx?: Vector,
): Lattice | null {
  const { map, region } = context;
  const ua = { x: Math.cos(angle), y: Math.sin(angle) };
  const ub = { x: -Math.sin(angle), y: Math.cos(angle) };
  const { minPitch, maxPitch } = pitchRange(region, waferDiameterPx);
  const search = (unit: Vector, expected: number | undefined) =>
    expected === undefined
      ? pitchCandidates(map, region, unit, minPitch, maxPitch, context)
      : pitchCandidates(
          map,
          region,
          unit,
          expected * (1 - LATTICE.hintTolerance),
          expected * (1 + LATTICE.hintTolerance),
          context,
        );
  const best = (unit: Vector, expected: number | undefined) =>
    bestVector(context, unit, search(unit, expected), noiseSigma);
  let found: [ReturnType<typeof bestVector>, ReturnType<typeof bestVector>] = [null, null];
  if (expectedPitchPx) {
    // The hint is per oriented axis; the oriented x axis points at (notch - 90) degrees
    // clockwise in the image. A wrongly detected notch would pair them the other way round.
    const orientedX = ((notchAngleDeg - 90) * Math.PI) / 180;
    const aIsX = Math.abs(Math.cos(angle - orientedX)) >= Math.SQRT1_2;
    const pairs = aIsX
      ? [
          [expectedPitchPx.x, expectedPitchPx.y],
          [expectedPitchPx.y, expectedPitchPx.x],
        ]
      : [
          [expectedPitchPx.y, expectedPitchPx.x],
          [expectedPitchPx.x, expectedPitchPx.y],
        ];
    for (const [expA, expB] of pairs) {
      found = [best(ua, expA), best(ub, expB)];
      if (found[0] && found[1]) break;
    }
  }
  if (!found[0] || !found[1]) found = [best(ua, undefined), best(ub, undefined)];
  const [fa, fb] = found;
  if (!fa || !fb) return null;
  const { v: a } = fa;
  const { v: b } = fb;
  const periodicity = Math.min(fa.quality, fb.quality);
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const points = phasePoints(context);
  const unitA = { x: a.x / la, y: a.y / la };
  const unitB = { x: b.x / lb, y: b.y / lb };
  const lattice: Lattice = {
    a,
    b,
    streetPhase: { a: streetPhase(points, unitA, la), b: streetPhase(points, unitB, lb) },
    periodicity,
  };
  return Math.abs(unitA.x) >= Math.abs(unitB.x)
    ? lattice
    : {
        a: b,
        b: a,
        streetPhase: { a: lattice.streetPhase.b, b: lattice.streetPhase.a },
        periodicity,
      };
}
