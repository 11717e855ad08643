// A line along a die-lattice axis: a pattern line (lattice-error residual, reticle field street: on one die row, repeated pitches away) or a defect.
import type { BlobFeatures } from "./blob-features.ts";
import type { Lattice, Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { sampleBilinear } from "./raster.ts";
import type { Blob } from "./segment.ts";
import { LATTICE_LINE, SPEC, STREET_PHASE, STREET_PHASE_ROW } from "./thresholds.ts";

/** What the lattice-line test read on one group (full-resolution px; residual in its own units). */
export interface LatticeLineReading {
  /** The lattice vector the line keeps to within what the lattice's accuracy allows, or null. */
  along: "a" | "b" | null;
  /** How far the line moves across that axis's die rows over its length, and how far a lattice line may. */
  driftPx: number;
  toleratedDriftPx: number;
  /** Mean signed residual on the line's own interior pixels (those with all pair references). */
  onLine: number;
  /**
   * The same mean k = 1 .. repeatPitches pitches away across the line, on either side (the
   * same die phase in the neighbouring rows of dies and reticle fields), in the order +1, -1,
   * +2, -2, ...; null where fewer than half of the shifted pixels lie on the analysed disk.
   * Empty when fewer than half of the line's pixels are interior: in the rim ring the residual
   * is taken against extrapolated references, with a gain its copies inward do not share.
   */
  across: Array<number | null>;
  /**
   * How far (map px) the line's centre lies from the nearest street centre line parallel to it
   * (the lattice's street phase); null when not read.
   */
  streetOffsetPx: number | null;
  /**
   * The same mean one pitch ALONG the line, over the moved pixels that land past each end (the
   * end towards +axis, then towards -axis): a defect has ends, a die row's own leftover runs on
   * past them. null where too few land on the analysed disk.
   */
  pastEnds: [number | null, number | null];
}

export interface LatticeLineInput {
  features: BlobFeatures;
  /** The group's pixels (map indices) and its sign (+1 bright, -1 dark). */
  pixels: Int32Array;
  sign: 1 | -1;
  lattice: Lattice;
  residual: Float32Array;
  mapWidth: number;
  mapHeight: number;
  /** The analysed disk, map px: shifted pixels off it read nothing. */
  analysis: DiskRegion;
  /** 1 where die-to-die references are extrapolated (the rim ring); null on bare wafers. */
  edgeMask: Uint8Array | null;
}

/**
 * Reads a group against the two things a pattern line shows (thresholds.ts LATTICE_LINE says
 * why): it stays on one die row over its length, and the same die phase k pitches across it
 * holds the same line. `across` is read only for an elongated group that keeps to an axis.
 */
export function readLatticeLine(input: LatticeLineInput): LatticeLineReading {
  const { features: f, lattice } = input;
  const none: LatticeLineReading = {
    along: null,
    driftPx: 0,
    toleratedDriftPx: 0,
    onLine: 0,
    across: [],
    streetOffsetPx: null,
    pastEnds: [null, null],
  };
  if (f.lengthPx < LATTICE_LINE.minElongation * Math.max(f.widthPx, 1)) return none;
  const ux = Math.cos(f.orientation);
  const uy = Math.sin(f.orientation);
  const axisReading = (name: "a" | "b", along: Vector, across: Vector) => {
    const pitch = Math.hypot(along.x, along.y);
    const cos = Math.abs(ux * along.x + uy * along.y) / pitch;
    const sin = Math.sqrt(Math.max(0, 1 - cos * cos));
    return {
      name,
      across,
      driftPx: f.lengthPx * sin,
      // The measured axis may be turned from the true one by registrationPx over one pitch:
      // over the line's length that is L x registrationPx / pitch (both in map px, a ratio),
      // and the line's own width is as far as its centre line can wander on one row.
      toleratedDriftPx: (f.lengthPx * LATTICE_LINE.registrationPx) / pitch + f.widthPx,
    };
  };
  const onA = axisReading("a", lattice.a, lattice.b);
  const onB = axisReading("b", lattice.b, lattice.a);
  const axis = onA.driftPx <= onB.driftPx ? onA : onB;
  const measured = { driftPx: axis.driftPx, toleratedDriftPx: axis.toleratedDriftPx };
  if (axis.driftPx > axis.toleratedDriftPx) return { ...none, ...measured };
  const { samples, sampled } = interiorSamples(input);
  if (samples.length * 2 < sampled) return { ...none, along: axis.name, ...measured };
  const alongVector = axis.name === "a" ? lattice.a : lattice.b;
  return {
    along: axis.name,
    ...measured,
    streetOffsetPx: streetOffset(input, samples, axis.name),
    pastEnds: [
      meanPastEnd(input, samples, alongVector, 1) ??
        meanPastEnd(input, samples, alongVector, 1, true),
      meanPastEnd(input, samples, alongVector, -1) ??
        meanPastEnd(input, samples, alongVector, -1, true),
    ],
    onLine: meanSigned(input, samples, { x: 0, y: 0 }) ?? 0,
    across: Array.from({ length: 2 * LATTICE_LINE.repeatPitches }, (_, i) => {
      const k = (i >> 1) + 1;
      const side = i % 2 === 0 ? 1 : -1;
      const shift = { x: side * k * axis.across.x, y: side * k * axis.across.y };
      return meanSigned(input, samples, shift);
    }),
  };
}

/**
 * The doubled margin applies to a line that keeps to a die row AND whose mean residual at the
 * same die phase 1 to repeatPitches pitches across, on either side, reaches repeatShare of its
 * own. A line mostly in the rim ring, or whose copies all lie off the analysed disk, cannot be
 * judged and keeps it.
 */
export function needsLatticeLineMargin(reading: LatticeLineReading): boolean {
  if (reading.along === null) return false;
  const judged = reading.across.filter((v): v is number => v !== null);
  if (judged.length === 0) return true;
  const cut = LATTICE_LINE.repeatShare * reading.onLine;
  return judged.some((v) => v > cut);
}

/**
 * A weak line along a lattice axis that lies on a street's centre line and whose residual runs
 * on past an end at the same die phase (STREET_PHASE): the street's sampling-phase leftover,
 * which belongs to the whole die row or column, not a scratch (a scratch ends).
 */
export function isStreetPhaseLine(
  reading: LatticeLineReading,
  lattice: Lattice,
  /** The line's length and the longest scratch it could be (longestScratchPx), full-resolution px. */
  length?: { lengthPx: number; longestScratchPx: number },
): boolean {
  if (reading.along === null || reading.streetOffsetPx === null || !(reading.onLine > 0))
    return false;
  // The street phase across the line is read in bins of the other vector's pitch.
  const across = reading.along === "a" ? lattice.b : lattice.a;
  const tolerance =
    STREET_PHASE.centreMapPx + Math.hypot(across.x, across.y) / STREET_PHASE.phaseBins;
  if (Math.abs(reading.streetOffsetPx) > tolerance) return false;
  // Longer than any scratch: no past-end evidence needed (a row across the whole disk has none).
  if (length && length.lengthPx > length.longestScratchPx) return true;
  const cut = STREET_PHASE.pastEndShare * reading.onLine;
  return reading.pastEnds.some((v) => v !== null && v >= cut);
}

/**
 * The longest line (full-resolution px) one scratch along `along` can make: the spec's longest
 * scratch, plus STREET_PHASE_ROW.endPitches pitches of the row's own leftover fragments the merge
 * may have joined to it. `mapScale` turns the lattice's map px into full-resolution px.
 */
export function longestScratchPx(
  along: "a" | "b",
  lattice: Lattice,
  sizeScale: number,
  mapScale: number,
): number {
  const vector = along === "a" ? lattice.a : lattice.b;
  return (
    SPEC.scratchLengthPx[1] * sizeScale +
    STREET_PHASE_ROW.endPitches * Math.hypot(vector.x, vector.y) * mapScale
  );
}

/**
 * Distance (map px, signed) of the line's centre from the nearest street centre parallel to it:
 * the die coordinate across the line (along the other lattice vector, in the lattice's own
 * basis) less the street phase, wrapped to half a pitch, times the spacing of the street lines.
 */
function streetOffset(
  { lattice, mapWidth, analysis }: LatticeLineInput,
  samples: readonly number[],
  along: "a" | "b",
): number | null {
  if (samples.length === 0) return null;
  const { a, b } = lattice;
  const det = a.x * b.y - a.y * b.x;
  if (det === 0) return null;
  // The coordinate across a line along b is the a-coordinate, and the other way round.
  const across = along === "b" ? a : b;
  const phase = along === "b" ? lattice.streetPhase.a : lattice.streetPhase.b;
  const acrossPitch = Math.hypot(across.x, across.y);
  // Street lines parallel to the line lie |det| / |along vector| apart.
  const alongVector = along === "b" ? b : a;
  const spacing = Math.abs(det) / Math.hypot(alongVector.x, alongVector.y);
  let sum = 0;
  for (const p of samples) {
    const dx = (p % mapWidth) - analysis.cx;
    const dy = Math.floor(p / mapWidth) - analysis.cy;
    const coordinate = along === "b" ? (dx * b.y - dy * b.x) / det : (a.x * dy - a.y * dx) / det;
    const u = coordinate - phase / acrossPitch;
    sum += u - Math.round(u);
  }
  return (sum / samples.length) * spacing;
}

/**
 * Mean of sign x residual over the sampled pixels moved one pitch along `along` (side +1 or
 * -1) that land past the line's end on that side: the pitch beyond the end at the same die
 * phase. null when fewer than STREET_PHASE.minPastSamples of them land on the analysed disk.
 *
 * `folded`: the same reading where the line's own pixels are too sparse for it. A line grouped
 * from fragments (pixel-seeded pieces of one die row, tens of map px apart) moves too few of
 * them one pitch past its end; then each sampled pixel is moved along the line by the least
 * whole number of pitches that takes it past the end: every sample lands in the pitch beyond
 * the end at its own die phase, the stretch (and the die phases) one pitch's move of a
 * continuous line reads. A scratch has ended there and reads 0; a die row's leftover (a
 * street's sampling phase) runs on.
 */
function meanPastEnd(
  input: LatticeLineInput,
  samples: readonly number[],
  along: Vector,
  side: 1 | -1,
  folded = false,
): number | null {
  const { sign, residual, mapWidth, mapHeight, analysis } = input;
  const pitch = Math.hypot(along.x, along.y);
  const ux = along.x / pitch;
  const uy = along.y / pitch;
  let end = Number.NEGATIVE_INFINITY;
  for (const p of input.pixels) {
    const t = side * ((p % mapWidth) * ux + Math.floor(p / mapWidth) * uy);
    if (t > end) end = t;
  }
  const r2 = analysis.r * analysis.r;
  let sum = 0;
  let used = 0;
  for (const p of samples) {
    const px = p % mapWidth;
    const py = Math.floor(p / mapWidth);
    const pitches = folded ? Math.floor((end - side * (px * ux + py * uy)) / pitch) + 1 : 1;
    const x = px + side * pitches * along.x;
    const y = py + side * pitches * along.y;
    if (!folded && side * (x * ux + y * uy) <= end) continue;
    const dx = x - analysis.cx;
    const dy = y - analysis.cy;
    if (dx * dx + dy * dy > r2) continue;
    sum += sign * sampleBilinear(residual, mapWidth, mapHeight, x, y);
    used++;
  }
  return used >= STREET_PHASE.minPastSamples ? sum / used : null;
}

/**
 * The line's pixels, every stride-th (a few hundred are enough for each mean), that are
 * interior: their own residual is taken against real pair references.
 */
function interiorSamples({ pixels, edgeMask }: LatticeLineInput): {
  samples: number[];
  sampled: number;
} {
  const stride = Math.max(1, Math.floor(pixels.length / LATTICE_LINE.maxSamples));
  const samples: number[] = [];
  let sampled = 0;
  for (let k = 0; k < pixels.length; k += stride) {
    const p = pixels[k] as number;
    sampled++;
    if (!edgeMask?.[p]) samples.push(p);
  }
  return { samples, sampled };
}

/** Mean of sign x residual over the sampled pixels moved by `shift` (map px), on the analysed disk only. */
function meanSigned(
  input: LatticeLineInput,
  samples: readonly number[],
  shift: Vector,
): number | null {
  const { sign, residual, mapWidth, mapHeight, analysis } = input;
  let sum = 0;
  let used = 0;
  const r2 = analysis.r * analysis.r;
  for (const p of samples) {
    const x = (p % mapWidth) + shift.x;
    const y = Math.floor(p / mapWidth) + shift.y;
    const dx = x - analysis.cx;
    const dy = y - analysis.cy;
    if (dx * dx + dy * dy > r2) continue;
    sum += sign * sampleBilinear(residual, mapWidth, mapHeight, x, y);
    used++;
  }
  return used * 2 >= samples.length && used > 0 ? sum / used : null;
}

/** One group formed from the weak blobs alone, and what the line rule reads on it. */
export interface WeakGroupJudge {
  /** The group's strength: its peak score over the seed threshold at its centroid. */
  strength: (group: Blob) => number;
  /** The line reading of a group (readLatticeLine on its features). */
  read: (group: Blob) => LatticeLineReading;
  /** The group's length (full-resolution px) and the longest scratch along that axis. */
  length: (group: Blob, along: "a" | "b") => { lengthPx: number; longestScratchPx: number };
}

/**
 * The map pixels of weak blobs that, grouped among themselves, make a street sampling-phase line
 * (isStreetPhaseLine). A street row's leftover is pixel-seeded as fragments a die apart; grouped
 * with a strong defect next to the row, they take the defect's strength and the line rule
 * (which judges weak lines only) never sees them, so the defect is reported as a scratch the
 * row's length. Judged on their own first, such a row is dropped before it can join anything;
 * a weak scratch along a street still has ends, so it is not. `group` is the stage's own merge.
 */
export function streetPhaseRowPixels(
  weak: Blob[],
  group: (blobs: Blob[]) => Blob[],
  judge: WeakGroupJudge,
  lattice: Lattice,
  mapSize: number,
): Uint8Array | null {
  let marked: Uint8Array | null = null;
  for (const g of group(weak)) {
    if (judge.strength(g) >= LATTICE_LINE.margin) continue;
    const reading = judge.read(g);
    if (reading.along === null) continue;
    if (!isStreetPhaseLine(reading, lattice, judge.length(g, reading.along))) continue;
    marked ??= new Uint8Array(mapSize);
    for (const p of g.pixels) marked[p] = 1;
  }
  return marked;
}
