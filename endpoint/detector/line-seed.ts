// Seeds along a line: a ridge statistic summed along short segments in a few directions finds thin scratches the per-pixel seeds miss.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { selectKth } from "./raster.ts";
import { DETECTION, LATTICE_LINE, LINE_SEED } from "./thresholds.ts";

/** What the line seed reads: the smoothed score and its per-pixel noise model. */
export interface LineSeedInput {
  score: Float32Array;
  width: number;
  height: number;
  region: DiskRegion;
  /** The score's noise sigma at a map pixel (the seed threshold's, before its level floor). */
  sigmaAt: (i: number) => number;
  /** A lower bound of sigmaAt over the disk: the cheap first test. */
  minSigma: number;
  /** The smoothed seed's level floor (the spec's contrast rule): the ridge must reach it too. */
  floor: number;
  /**
   * On patterned wafers the working map the dies were compared on: where a segment runs along
   * a pattern edge or street, what the comparison leaves there is judged as misregistration.
   */
  pattern: Float32Array | null;
  /**
   * On patterned wafers the die lattice's two vectors (map px): a pattern line (a street whose
   * level differs field by field, a motif edge's leftover) recurs pitches away, a defect does not.
   */
  lattice: readonly [Vector, Vector] | null;
  /** Pixels already in a blob: never seeded again. */
  visited: Uint8Array;
  /** The grow threshold's cheap bound and per-pixel test: a seed must be a pixel growth takes. */
  minLow: number;
  low: (i: number) => number;
  /**
   * Map indices to try, in scan order: every pixel whose |score| passed lineCandidateLimit
   * (segmentation collects them in its own scan); any others listed are skipped.
   */
  candidates: Int32Array;
}

/**
 * Speed: only pixels whose |score| passes this are tried as a segment's centre (thresholds.ts
 * LINE_SEED.candidateSigmas says why), and never below the grow threshold.
 */
export function lineCandidateLimit(minLow: number, minSigma: number): number {
  return Math.max(minLow, LINE_SEED.candidateSigmas * minSigma);
}

export interface LineSeed {
  index: number;
  sign: 1 | -1;
  /** Direction of the segment that passed, radians from +x towards +y (map axes), in [0, pi). */
  angle: number;
}

/** Offsets (map index steps) of each direction's centre segment and its two side segments. */
interface Direction {
  centre: Int32Array;
  sides: Int32Array;
  /** The pixel steps (x, y) to the nearest pixels across the line, and none. */
  across: ReadonlyArray<readonly [number, number]>;
}

/**
 * Upper tail of a unit Gaussian, P(X > z): erfc by its Chebyshev fit (fractional error under
 * 1.2e-7 everywhere, Numerical Recipes' erfcc), so far tails (z near 6) keep their precision.
 */
export function gaussianUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The sigmas a statistic tested in `directions` ways at each pixel must reach for the same
 * false-alarm rate per pixel as one test at `sigmas`: directions x P(X > z) = P(X > sigmas)
 * (Bonferroni; neighbouring directions overlap, so the true rate is lower still).
 */
export function familySigmas(sigmas: number, directions: number): number {
  const target = gaussianUpperTail(sigmas) / directions;
  let lo = sigmas;
  let hi = sigmas + 3;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (gaussianUpperTail(mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Segment offsets for each direction, nearest map pixel along the line and beside it, every
 * LINE_SEED.sampleStepMapPx along it.
 */
export function lineDirections(width: number): Direction[] {
  const half = (LINE_SEED.segmentMapPx - 1) / 2;
  const d = LINE_SEED.sideOffsetMapPx;
  const dirs: Direction[] = [];
  for (let k = 0; k < LINE_SEED.directions; k++) {
    const angle = (k * Math.PI) / LINE_SEED.directions;
    const ux = Math.cos(angle);
    const uy = Math.sin(angle);
    const samples = Math.floor((2 * half) / LINE_SEED.sampleStepMapPx) + 1;
    const centre = new Int32Array(samples);
    const sides = new Int32Array(2 * samples);
    const at = (x: number, y: number) => Math.round(y) * width + Math.round(x);
    for (let j = 0; j < samples; j++) {
      const t = -half + j * LINE_SEED.sampleStepMapPx;
      centre[j] = at(t * ux, t * uy);
      sides[2 * j] = at(t * ux - d * uy, t * uy + d * ux);
      sides[2 * j + 1] = at(t * ux + d * uy, t * uy - d * ux);
    }
    const step: [number, number] = [Math.round(-uy), Math.round(ux)];
    dirs.push({ centre, sides, across: [[0, 0], step, [-step[0], -step[1]]] });
  }
  return dirs;
}

/** Mean of the centre segment at map index i. */
function centreMean(score: Float32Array, i: number, dir: Direction): number {
  let c = 0;
  for (let j = 0; j < dir.centre.length; j++) c += score[i + (dir.centre[j] as number)] as number;
  return c / dir.centre.length;
}

/** Mean of one side segment (0: one side, 1: the other) at map index i. */
function sideMean(score: Float32Array, i: number, dir: Direction, side: 0 | 1): number {
  let s = 0;
  for (let j = side; j < dir.sides.length; j += 2)
    s += score[i + (dir.sides[j] as number)] as number;
  return (2 * s) / dir.sides.length;
}

/**
 * The centre segment's mean less its two sides' (signed by `sign`) and the smaller of the two
 * flank differences: a line stands above both sides by its contrast, while a step between the
 * centre and one side leaves that flank at zero and the other at twice the ridge.
 */
function ridge(
  score: Float32Array,
  i: number,
  dir: Direction,
  sign: 1 | -1,
  centre: number,
): { ridge: number; flank: number } {
  const one = centre - sign * sideMean(score, i, dir, 0);
  const other = centre - sign * sideMean(score, i, dir, 1);
  return { ridge: (one + other) / 2, flank: Math.min(one, other) };
}

/** The larger step of the pattern between the centre segment and either side segment. */
function patternStep(pattern: Float32Array, i: number, dir: Direction): number {
  const c = centreMean(pattern, i, dir);
  return Math.max(
    Math.abs(c - sideMean(pattern, i, dir, 0)),
    Math.abs(c - sideMean(pattern, i, dir, 1)),
  );
}

/**
 * Whether the same ridge (same direction and sign) stands at the same die phase 1 to
 * LATTICE_LINE.repeatPitches pitches away along either lattice vector, to at least
 * LATTICE_LINE.repeatShare of its own (the midpoint between "the same line" and "nothing"):
 * the lattice-line rule's repeat test, read at the seed. A street line (a reticle field's
 * boundary street, 2-3 dies apart) or a motif edge's leftover recurs there; a scratch does not,
 * except when it runs along the very axis, where the lattice-line rule judges it anyway.
 */
function repeatsInGrid(
  input: LineSeedInput,
  lattice: readonly [Vector, Vector],
  i: number,
  dir: Direction,
  sign: 1 | -1,
  own: number,
  inner: number,
  reach: number,
): boolean {
  const { score, width, height, region } = input;
  const x = i % width;
  const y = (i - x) / width;
  for (const v of lattice) {
    for (let m = 1; m <= LATTICE_LINE.repeatPitches; m++) {
      for (const side of [1, -1]) {
        const cx = Math.round(x + side * m * v.x);
        const cy = Math.round(y + side * m * v.y);
        // The copy's place is known to the rounding of m pitches and the lattice's
        // registration: the best of it and its neighbours across the line stands for it.
        for (const [ox, oy] of dir.across) {
          if (!withinReach(cx + ox, cy + oy, region, inner, width, height, reach)) continue;
          const j = (cy + oy) * width + cx + ox;
          const c = sign * centreMean(score, j, dir);
          if (ridge(score, j, dir, sign, c).ridge >= LATTICE_LINE.repeatShare * own) return true;
        }
      }
    }
  }
  return false;
}

/**
 * Whether no 8-neighbour stands further out (same sign) than the pixel: along a line its
 * pixels take turns at being the local peak, so every stretch of it still offers seeds, while
 * the segments through a run of neighbouring noise pixels are nearly the same test.
 */
function peakOfNeighbours(
  score: Float32Array,
  i: number,
  width: number,
  value: number,
  sign: 1 | -1,
): boolean {
  return (
    sign * (score[i - 1] as number) <= value &&
    sign * (score[i + 1] as number) <= value &&
    sign * (score[i - width] as number) <= value &&
    sign * (score[i + width] as number) <= value &&
    sign * (score[i - width - 1] as number) <= value &&
    sign * (score[i - width + 1] as number) <= value &&
    sign * (score[i + width - 1] as number) <= value &&
    sign * (score[i + width + 1] as number) <= value
  );
}

/** Whether any sample of the centre segment at map index i lies in a blob already found. */
function touchesVisited(visited: Uint8Array, i: number, dir: Direction): boolean {
  for (let j = 0; j < dir.centre.length; j++)
    if (visited[i + (dir.centre[j] as number)]) return true;
  return false;
}

/** A small seeded generator (xorshift32): the same disk gets the same sample every time. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

/**
 * The ridge's noise as a multiple of the score's own sigma at the pixel (the thresholds' per-pixel
 * model, robust to defects), measured on this wafer: the 95th percentile of |ridge| / sigma over a
 * stratified sample, the directions taken in turn, over 1.96. One value for all directions: a
 * direction's share of the sample (~250 values) reads its tail to 6%, and the line-shaped things
 * a direction could hold in excess (streets, motif edges along a die axis) are judged by the
 * pattern-step and grid-repeat tests and the lattice-line rule instead.
 */
export function ridgeNoiseRatio(
  input: Pick<LineSeedInput, "score" | "width" | "height" | "region" | "sigmaAt">,
  dirs: Direction[],
  reach: number,
): number {
  const { score, width, height, region, sigmaAt } = input;
  const cell = LINE_SEED.noiseCellMapPx;
  const random = seeded(LINE_SEED.sampleSeed);
  const values = new Float64Array(Math.ceil(width / cell) * Math.ceil(height / cell));
  let total = 0;
  const inner = region.r - reach;
  for (let y0 = 0; y0 < height; y0 += cell) {
    for (let x0 = 0; x0 < width; x0 += cell) {
      const x = Math.min(width - 1, x0 + Math.floor(random() * cell));
      const y = Math.min(height - 1, y0 + Math.floor(random() * cell));
      if (!withinReach(x, y, region, inner, width, height, reach)) continue;
      const i = y * width + x;
      const sigma = sigmaAt(i);
      if (!(sigma > 0)) continue;
      const dir = dirs[total % dirs.length] as Direction;
      values[total++] = Math.abs(ridge(score, i, dir, 1, centreMean(score, i, dir)).ridge) / sigma;
    }
  }
  if (total === 0) return Number.POSITIVE_INFINITY;
  return selectKth(values, total, Math.floor(0.95 * total)) * DETECTION.q95ToSigma;
}

/** Whether a segment and its sides centred at (x, y) stay inside the disk and the map. */
function withinReach(
  x: number,
  y: number,
  region: DiskRegion,
  inner: number,
  width: number,
  height: number,
  reach: number,
): boolean {
  if (x < reach || y < reach || x >= width - reach || y >= height - reach) return false;
  const dx = x - region.cx;
  const dy = y - region.cy;
  return inner > 0 && dx * dx + dy * dy < inner * inner;
}

/**
 * Candidates not yet in a blob where the score passes the grow threshold and, along some direction,
 * both the segment's mean and its ridge over the sides pass the line's seed threshold:
 * familySigmas(seedSigmas, directions) times the ridge's measured noise, and the smoothed
 * seed's level floor. Sign: the pixel's.
 */
export function lineSeeds(input: LineSeedInput): LineSeed[] {
  const { score, width, height, region, sigmaAt, minSigma, floor, visited, minLow, low } = input;
  const { candidates, pattern, lattice } = input;
  const dirs = lineDirections(width);
  const half = (LINE_SEED.segmentMapPx - 1) / 2;
  const reach = Math.ceil(Math.hypot(half, LINE_SEED.sideOffsetMapPx)) + 1;
  const ratio = ridgeNoiseRatio(input, dirs, reach);
  if (!Number.isFinite(ratio)) return [];
  const z = familySigmas(DETECTION.seedSigmas, dirs.length);
  const cheap = Math.max(z * ratio * minSigma, floor);
  const candidate = lineCandidateLimit(minLow, minSigma);
  const seeds: LineSeed[] = [];
  const inner = region.r - reach;
  if (inner <= 0) return seeds;
  for (let n = 0; n < candidates.length; n++) {
    const i = candidates[n] as number;
    const v = score[i] as number;
    if ((v < candidate && v > -candidate) || visited[i]) continue;
    const x = i % width;
    if (!withinReach(x, (i - x) / width, region, inner, width, height, reach)) continue;
    const sign: 1 | -1 = v > 0 ? 1 : -1;
    if (!peakOfNeighbours(score, i, width, sign * v, sign)) continue;
    if (sign * v < low(i) || sign * v < LINE_SEED.candidateSigmas * sigmaAt(i)) continue;
    for (let k = 0; k < dirs.length; k++) {
      const dir = dirs[k] as Direction;
      // The line's own mean must pass too (the residual's zero is the dies' agreement), and
      // it is the cheaper third of the statistic: most candidates stop here.
      const c = sign * centreMean(score, i, dir);
      if (c < cheap) continue;
      // A segment that reaches into a blob already found measures that blob (a particle's
      // peak lifts a 15 px mean through it), not a line of its own.
      if (touchesVisited(visited, i, dir)) continue;
      const { ridge: r, flank } = ridge(score, i, dir, sign, c);
      if (r < cheap || flank < LINE_SEED.flankShare * r) continue;
      // The noise where the segment lies: its centre and both ends, the largest.
      const sigma = Math.max(
        sigmaAt(i),
        sigmaAt(i + (dir.centre[0] as number)),
        sigmaAt(i + (dir.centre[dir.centre.length - 1] as number)),
      );
      const needed = Math.max(z * ratio * sigma, floor);
      if (r < needed || c < needed) continue;
      // Along a pattern edge the die-to-die allowance forgives misregistrationShare of the
      // step and leaves the rest, the same all along the edge: a ridge no larger than that
      // rest is no evidence of a line there.
      if (pattern && (1 - DETECTION.misregistrationShare) * patternStep(pattern, i, dir) >= r)
        continue;
      if (lattice && repeatsInGrid(input, lattice, i, dir, sign, r, inner, reach)) continue;
      seeds.push({ index: i, sign, angle: (k * Math.PI) / dirs.length });
      break;
    }
  }
  return seeds;
}
