// The reticle field's own pattern (a lattice of 2-3 dies), found in the die-to-die residual and taken off it before thresholding.
import type { Lattice } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { selectKth } from "./raster.ts";
import { RETICLE_FIELD } from "./thresholds.ts";

/** A reticle field found in the residual. */
export interface ReticleField {
  /** Field period in dies along the lattice's a and b. */
  p: number;
  q: number;
  /** Mean square between field positions over mean square within them (about 1 on noise). */
  varianceRatio: number;
  /** The residual's pooled within-position sigma (clipped samples), map units. */
  sigma: number;
  /** Template bins (field position x die phase) taken off, and all bins of the template. */
  binsTakenOff: number;
  bins: number;
  /** Each position's level over the whole die, less their median (map units; a x q + b). */
  levels: number[];
}

/**
 * Lattice coordinates of map pixels as levelDies computes them: p - centre = s a + t b, less the
 * street phase, so whole s and t are street centre lines and floor(s), floor(t) index the die.
 */
interface DieFrame {
  cx: number;
  cy: number;
  sx: number;
  sy: number;
  tx: number;
  ty: number;
  sOffset: number;
  tOffset: number;
  la: number;
  lb: number;
  /** A multiple of 6 added to die indices so that they are >= 0 on the disk (for `%`). */
  indexShift: number;
}

function dieFrame(lattice: Lattice, region: DiskRegion): DieFrame | null {
  const { a, b, streetPhase } = lattice;
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const det = a.x * b.y - a.y * b.x;
  if (!(Math.abs(det) > 1e-9) || !(la >= 2) || !(lb >= 2)) return null;
  const sOffset = streetPhase.a / la;
  const tOffset = streetPhase.b / lb;
  const sx = b.y / det;
  const sy = -b.x / det;
  const tx = -a.y / det;
  const ty = a.x / det;
  // |s| and |t| of a disk pixel, whatever the angle between a and b.
  const reach =
    Math.ceil(
      region.r * Math.max(Math.abs(sx) + Math.abs(sy), Math.abs(tx) + Math.abs(ty)) +
        Math.abs(sOffset) +
        Math.abs(tOffset),
    ) + 2;
  return {
    cx: region.cx,
    cy: region.cy,
    sx,
    sy,
    tx,
    ty,
    sOffset,
    tOffset,
    la,
    lb,
    indexShift: 6 * Math.ceil(reach / 6),
  };
}

/** The disk's rows every `step` rows: a row's pixels x0..x1 (empty when x0 > x1). */
function diskRows(
  region: DiskRegion,
  width: number,
  height: number,
  step: number,
  visit: (y: number, x0: number, x1: number) => void,
): void {
  const { cx, cy, r } = region;
  const y0 = Math.max(0, Math.ceil(cy - r));
  const y1 = Math.min(height - 1, Math.floor(cy + r));
  for (let y = y0; y <= y1; y += step) {
    const h = Math.sqrt(Math.max(0, r * r - (y - cy) * (y - cy)));
    visit(y, Math.max(0, Math.ceil(cx - h)), Math.min(width - 1, Math.floor(cx + h)));
  }
}

/**
 * Whether the residual holds a reticle field, and its period: per die-phase bin, the residual's
 * (clipped) samples grouped by field position (die index modulo p along a, q along b) for each
 * candidate period; the variance between positions against the variance within them is an F
 * statistic, about 1 on noise alone. Of the candidates whose ratio clears
 * RETICLE_FIELD.minVarianceRatio with enough dies per position, the one explaining the most
 * variance beyond noise's share (a 2 x 2 field also shows, half of it, at 2 x 1 and 1 x 2).
 * Null: no field, and the residual is left as it is.
 */
export function findReticleField(
  residual: Float32Array,
  width: number,
  lattice: Lattice,
  region: DiskRegion,
  edgeMask: Uint8Array,
  /** The residual's noise sigma (the comparison's): the clip of each sample is a multiple of it. */
  noiseSigma: number,
): ReticleField | null {
  const frame = dieFrame(lattice, region);
  const clip = RETICLE_FIELD.clipSigmas * noiseSigma;
  if (!frame || !(clip > 0)) return null;
  const height = Math.floor(residual.length / width);
  const binsA = searchBins(frame.la);
  const binsB = searchBins(frame.lb);
  const bins = binsA * binsB;
  // Sums per (die index mod 6 along a, mod 6 along b, bin): every candidate period divides 6.
  const sums = new Float64Array(36 * bins);
  const counts = new Float64Array(36 * bins);
  const squares = new Float64Array(bins);
  const binCounts = new Float64Array(bins);
  const step = RETICLE_FIELD.searchStepMapPx;
  const { cx, cy, sx, sy, tx, ty } = frame;
  const s0 = frame.indexShift - frame.sOffset;
  const t0 = frame.indexShift - frame.tOffset;
  diskRows(region, width, height, step, (y, x0, x1) => {
    let s = (x0 - cx) * sx + (y - cy) * sy + s0;
    let t = (x0 - cx) * tx + (y - cy) * ty + t0;
    const ds = step * sx;
    const dt = step * tx;
    for (let at = y * width + x0, end = y * width + x1; at <= end; at += step, s += ds, t += dt) {
      if (edgeMask[at] !== 0) continue;
      let v = residual[at] as number;
      if (Number.isNaN(v)) continue;
      v = Math.min(clip, Math.max(-clip, v));
      // s, t >= 0 on the disk (indexShift): truncation is the floor.
      const i = s | 0;
      const j = t | 0;
      const u = Math.min(binsA - 1, ((s - i) * binsA) | 0);
      const w = Math.min(binsB - 1, ((t - j) * binsB) | 0);
      const bin = w * binsA + u;
      const k = ((i % 6) * 6 + (j % 6)) * bins + bin;
      sums[k] = (sums[k] as number) + v;
      counts[k] = (counts[k] as number) + 1;
      squares[bin] = (squares[bin] as number) + v * v;
      binCounts[bin] = (binCounts[bin] as number) + 1;
    }
  });
  let samples = 0;
  let totalSquares = 0;
  let usedBins = 0;
  for (let bin = 0; bin < bins; bin++) {
    const n = binCounts[bin] as number;
    if (n === 0) continue;
    usedBins++;
    samples += n;
    // Squares about the bin's mean: what every grouping splits into between and within.
    let sum = 0;
    for (let g = 0; g < 36; g++) sum += sums[g * bins + bin] as number;
    totalSquares += (squares[bin] as number) - (sum * sum) / n;
  }
  if (usedBins === 0) return null;
  // Samples of one die: its area over the search step squared.
  const samplesPerDie = (frame.la * frame.lb) / RETICLE_FIELD.searchStepMapPx ** 2;
  const groupSums = new Float64Array(9);
  const groupCounts = new Float64Array(9);
  let best: ReticleField | null = null;
  let bestExcess = 0;
  for (const p of RETICLE_FIELD.periods) {
    for (const q of RETICLE_FIELD.periods) {
      const positions = p * q;
      if (positions === 1) continue;
      if (samples / positions / samplesPerDie < RETICLE_FIELD.minDiesPerPosition) continue;
      let between = 0;
      let groups = 0;
      for (let bin = 0; bin < bins; bin++) {
        const n = binCounts[bin] as number;
        if (n === 0) continue;
        groupSums.fill(0);
        groupCounts.fill(0);
        for (let g = 0; g < 36; g++) {
          const f = (Math.floor(g / 6) % p) * q + ((g % 6) % q);
          groupSums[f] = (groupSums[f] as number) + (sums[g * bins + bin] as number);
          groupCounts[f] = (groupCounts[f] as number) + (counts[g * bins + bin] as number);
        }
        let sum = 0;
        for (let f = 0; f < positions; f++) {
          const m = groupCounts[f] as number;
          if (m === 0) continue;
          groups++;
          sum += groupSums[f] as number;
          between += (groupSums[f] as number) ** 2 / m;
        }
        between -= (sum * sum) / n;
      }
      const dfBetween = groups - usedBins;
      const dfWithin = samples - groups;
      if (dfBetween <= 0 || dfWithin <= 0) continue;
      const withinMean = Math.max(0, totalSquares - between) / dfWithin;
      if (!(withinMean > 0)) continue;
      const varianceRatio = between / dfBetween / withinMean;
      // Variance explained beyond what noise gives that many positions.
      const excess = between - dfBetween * withinMean;
      if (varianceRatio >= RETICLE_FIELD.minVarianceRatio && excess > bestExcess) {
        bestExcess = excess;
        best = {
          p,
          q,
          varianceRatio,
          sigma: Math.sqrt(withinMean),
          binsTakenOff: 0,
          bins: 0,
          levels: [],
        };
      }
    }
  }
  return best;
}

function searchBins(pitch: number): number {
  return Math.max(
    2,
    Math.min(RETICLE_FIELD.searchMaxBins, Math.round(pitch / RETICLE_FIELD.searchBinMapPx)),
  );
}

/**
 * Takes the reticle field's pattern off the die-to-die residual (interior pixels, in place):
 * for each field position and die phase (bins of at most RETICLE_FIELD.templateBinMapPx in the
 * lattice's coordinates, each pixel in the bin of its own sub-pixel phase: dies are not whole
 * pixels apart), the median
 * of the residual over the dies at that position, less the median of the positions' medians at
 * that phase; taken off where it stands RETICLE_FIELD.templateSigmas of its own noise out. A
 * defect sits in one die, so the median over the dozens of dies at its position ignores it.
 * Pixels the misregistration allowance forgave (exactly 0) stay forgiven, and the template is the
 * median of the unforgiven ones. Returns the field, or null when none is found (the residual
 * untouched).
 */
export function removeReticleField(
  residual: Float32Array,
  width: number,
  lattice: Lattice,
  region: DiskRegion,
  edgeMask: Uint8Array,
  noiseSigma: number,
): ReticleField | null {
  const field = findReticleField(residual, width, lattice, region, edgeMask, noiseSigma);
  if (!field) return null;
  const frame = dieFrame(lattice, region) as DieFrame;
  const height = Math.floor(residual.length / width);
  const { p, q } = field;
  const positions = p * q;
  const binsA = Math.ceil(frame.la / RETICLE_FIELD.templateBinMapPx);
  const binsB = Math.ceil(frame.lb / RETICLE_FIELD.templateBinMapPx);
  const phases = binsA * binsB;
  // Key phase x positions + position: one phase's samples of every position are contiguous.
  const keys = phases * positions;
  const { cx, cy, sx, sy, tx, ty } = frame;
  const s0 = frame.indexShift - frame.sOffset;
  const t0 = frame.indexShift - frame.tOffset;
  // One pass over the interior's unforgiven pixels: each one's index, key and value, counted
  // per key (the key of a pixel is its own lattice phase: dies are not whole pixels apart).
  const capacity = Math.ceil(Math.PI * region.r * region.r + 4 * region.r + 16);
  const { pixels, sampleKeys, sampleValues } = sampleBuffers(capacity);
  const starts = new Int32Array(keys + 1);
  let n = 0;
  diskRows(region, width, height, 1, (y, x0, x1) => {
    let s = (x0 - cx) * sx + (y - cy) * sy + s0;
    let t = (x0 - cx) * tx + (y - cy) * ty + t0;
    for (let at = y * width + x0, end = y * width + x1; at <= end; at++, s += sx, t += tx) {
      if (edgeMask[at] !== 0) continue;
      const v = residual[at] as number;
      if (v === 0 || Number.isNaN(v) || n >= capacity) continue;
      // s, t >= 0 on the disk (indexShift): truncation is the floor.
      const i = s | 0;
      const j = t | 0;
      const u = Math.min(binsA - 1, ((s - i) * binsA) | 0);
      const w = Math.min(binsB - 1, ((t - j) * binsB) | 0);
      const k = (w * binsA + u) * positions + (i % p) * q + (j % q);
      pixels[n] = at;
      sampleKeys[n] = k;
      sampleValues[n] = v;
      n++;
      starts[k + 1] = (starts[k + 1] as number) + 1;
    }
  });
  for (let k = 0; k < keys; k++) starts[k + 1] = (starts[k + 1] as number) + (starts[k] as number);
  const values = new Float32Array(n);
  const fill = starts.slice(0, keys);
  for (let m = 0; m < n; m++) {
    const k = sampleKeys[m] as number;
    values[fill[k] as number] = sampleValues[m] as number;
    fill[k] = (fill[k] as number) + 1;
  }
  // Per key, the median over the dies at that position of the pixels the allowance left (those it
  // forgave stay forgiven below). NaN: fewer than minDiesPerPosition dies' worth of them (a die
  // puts about binArea pixels in a bin, and a defect fills them all: counted in pixels, a
  // median of two dies' pixels would follow a defect).
  const binArea = (frame.la / binsA) * (frame.lb / binsB);
  const fewest = RETICLE_FIELD.minDiesPerPosition * Math.max(1, binArea);
  const medians = new Float32Array(keys).fill(Number.NaN);
  for (let k = 0; k < keys; k++) {
    const start = starts[k] as number;
    const count = (starts[k + 1] as number) - start;
    if (count >= fewest)
      medians[k] = selectKth(values.subarray(start, start + count), count, count >> 1);
  }
  const sigma = Math.max(noiseSigma, field.sigma);
  // Each position's level over the whole die: the median of its unforgiven pixels (the spec's
  // per-die levels, which the allowance hides from a bin's median where it forgives most dies,
  // yet over the die they broaden the flattest class's noise: round 14). Over the tens of
  // thousands of a position's pixels a defect's few hundred do not move it.
  const levels = new Float64Array(positions);
  const perPosition = new Int32Array(positions + 1);
  for (let m = 0; m < n; m++) {
    const f = ((sampleKeys[m] as number) % positions) + 1;
    perPosition[f] = (perPosition[f] as number) + 1;
  }
  for (let f = 0; f < positions; f++)
    perPosition[f + 1] = (perPosition[f + 1] as number) + (perPosition[f] as number);
  const unforgiven = new Float32Array(perPosition[positions] as number);
  const next = perPosition.slice(0, positions);
  for (let m = 0; m < n; m++) {
    const f = (sampleKeys[m] as number) % positions;
    unforgiven[next[f] as number] = sampleValues[m] as number;
    next[f] = (next[f] as number) + 1;
  }
  for (let f = 0; f < positions; f++) {
    const from = perPosition[f] as number;
    const count = (perPosition[f + 1] as number) - from;
    levels[f] =
      count > 0 ? selectKth(unforgiven.subarray(from, from + count), count, count >> 1) : 0;
  }
  const ordered = new Float64Array(positions);
  ordered.set(levels);
  const commonLevel = medianOf(ordered, positions);
  // Per key, what is taken off its pixels: the position's level, and where a bin stands out of
  // its phase by templateSigmas of its own noise once the levels are off, that bin's excess.
  const template = new Float32Array(keys);
  let binsTakenOff = 0;
  for (let phase = 0; phase < phases; phase++) {
    const base = phase * positions;
    let measured = 0;
    for (let f = 0; f < positions; f++) {
      template[base + f] = (levels[f] as number) - commonLevel;
      const v = medians[base + f] as number;
      if (!Number.isNaN(v)) ordered[measured++] = v - (levels[f] as number);
    }
    // The phase's common value (what every die shares there, not the field's): the median over
    // the positions when all of them are measured at this phase; else 0 (what every die shares
    // cancels in the comparison, and a median over some positions would take in the field's
    // own pattern: a horizontal boundary street measured only at the positions it bounds).
    if (measured === 0) continue;
    const overall = measured === positions ? medianOf(ordered, measured) : 0;
    for (let f = 0; f < positions; f++) {
      const median = medians[base + f] as number;
      if (Number.isNaN(median)) continue;
      const excess = median - (levels[f] as number) - overall;
      const dies = ((starts[base + f + 1] as number) - (starts[base + f] as number)) / binArea;
      const noise = (1.2533 * sigma) / Math.sqrt(dies);
      if (Math.abs(excess) <= RETICLE_FIELD.templateSigmas * noise) continue;
      template[base + f] = (template[base + f] as number) + excess;
      binsTakenOff++;
    }
  }
  field.binsTakenOff = binsTakenOff;
  field.bins = keys;
  field.levels = Array.from(levels, (level) => level - commonLevel);
  for (let m = 0; m < n; m++) {
    const at = pixels[m] as number;
    residual[at] = (residual[at] as number) - (template[sampleKeys[m] as number] as number);
  }
  return field;
}

/**
 * The median of the first n values (sorted in place; n is at most 9 here), the mean of the two
 * middle ones when n is even: of a 2 x 2 field's four positions, two hold a boundary street where
 * the other two hold an interior one, and either middle value alone would read one of them as
 * the common level.
 */
function medianOf(values: Float64Array, n: number): number {
  const sorted = values.subarray(0, n).sort();
  const upper = sorted[n >> 1] as number;
  return n % 2 === 1 ? upper : 0.5 * ((sorted[(n >> 1) - 1] as number) + upper);
}

interface SampleBuffers {
  pixels: Int32Array;
  sampleKeys: Int32Array;
  sampleValues: Float32Array;
}

/** The template's sample buffers, kept between wafers (a 1024 px map's disk is 10 MB of them). */
let kept: SampleBuffers | null = null;

function sampleBuffers(capacity: number): SampleBuffers {
  if (!kept || kept.pixels.length < capacity)
    kept = {
      pixels: new Int32Array(capacity),
      sampleKeys: new Int32Array(capacity),
      sampleValues: new Float32Array(capacity),
    };
  return kept;
}
