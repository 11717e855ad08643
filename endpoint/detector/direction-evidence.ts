// Per-direction die-to-die evidence of one blob: whether it is in this die, or a pattern repeated along one lattice direction.
import type { Vector } from "./lattice.ts";
import type { FloatMap } from "./raster.ts";
import { REPEAT } from "./thresholds.ts";

/** The four comparison directions of the die-to-die residual (die-to-die.ts): a, b, a+b, a-b. */
export function comparisonDirections(a: Vector, b: Vector): [Vector, Vector, Vector, Vector] {
  return [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
}

/**
 * The map smoothed by [1 2 1] x [1 2 1] / 16 at one pixel (edges clamped): the map the
 * die-to-die comparison runs on (stages/die-to-die.ts), recomputed for the few pixels asked.
 */
function smoothedAt(map: FloatMap, x: number, y: number): number {
  const { width, height, data } = map;
  let sum = 0;
  for (let dy = -1; dy <= 1; dy++) {
    const yy = Math.min(height - 1, Math.max(0, y + dy));
    const wy = dy === 0 ? 2 : 1;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = Math.min(width - 1, Math.max(0, x + dx));
      sum += wy * (dx === 0 ? 2 : 1) * (data[yy * width + xx] as number);
    }
  }
  return sum / 16;
}

function smoothedBilinear(map: FloatMap, x: number, y: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const top = smoothedAt(map, ix, iy) * (1 - fx) + smoothedAt(map, ix + 1, iy) * fx;
  const bottom = smoothedAt(map, ix, iy + 1) * (1 - fx) + smoothedAt(map, ix + 1, iy + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

/** A blob's mean signed evidence against one direction's references: the pair and each side alone. */
export interface DirectionEvidence {
  /** sign x (S(p) - (S(p + d) + S(p - d)) / 2): what the die-to-die residual compares along d. */
  pair: number;
  /** sign x (S(p) - S(p + d)) and sign x (S(p) - S(p - d)). */
  plus: number;
  minus: number;
}

/**
 * Mean signed evidence of a blob along each comparison direction, over its pixels (map
 * indices), on the smoothed map S, before the comparison's misregistration allowance.
 * Pixels whose references fall outside the map are skipped.
 */
export function directionEvidence(
  map: FloatMap,
  pixels: Int32Array,
  sign: 1 | -1,
  directions: readonly Vector[],
): DirectionEvidence[] {
  const { width, height } = map;
  const inside = (qx: number, qy: number) =>
    qx >= 0 && qy >= 0 && qx < width - 1 && qy < height - 1;
  return directions.map((d) => {
    let plus = 0;
    let minus = 0;
    let n = 0;
    for (let k = 0; k < pixels.length; k++) {
      const p = pixels[k] as number;
      const x = p % width;
      const y = (p - x) / width;
      if (!inside(x + d.x, y + d.y) || !inside(x - d.x, y - d.y)) continue;
      const v = smoothedAt(map, x, y);
      plus += sign * (v - smoothedBilinear(map, x + d.x, y + d.y));
      minus += sign * (v - smoothedBilinear(map, x - d.x, y - d.y));
      n++;
    }
    if (n === 0) return { pair: 0, plus: 0, minus: 0 };
    return { pair: (plus + minus) / (2 * n), plus: plus / n, minus: minus / n };
  });
}

/**
 * Die-to-die physics of a pattern repeated along one comparison direction d (a field-boundary
 * street or a reticle field's level, which run along a whole row or column of dies): the pair
 * along d holds the same pattern and cancels it, while the three other pairs reach into the
 * next row or column and show it. A defect in this die shows its full contrast c in all four.
 * The two hypotheses give evidence c or 0 along d; the blob is taken for the pattern when the
 * evidence along d is nearer 0 than c, c read as the median of the other three pairs (a
 * defect's reference noise moves each by far less than c at any blob clearing the seed
 * threshold). But the pair also cancels a defect whose neighbour on one side along d holds a
 * stronger anomaly of the same sign at the same place (another defect: a reference that is
 * itself anomalous, which the residual's 2nd-smallest rule tolerates): that side alone then
 * reads about -c. So a side reading below -c/2 (the same midpoint) leaves the blob a defect.
 * Only for a blob shorter than |d| along d (its references along d then lie outside it: a
 * scratch or stain reaching the next die along d cancels itself there) whose pixels all have
 * pair references on the wafer (interior; `edgeMask` 0).
 */
export function repeatedAlongDirection(
  map: FloatMap,
  pixels: Int32Array,
  sign: 1 | -1,
  a: Vector,
  b: Vector,
  edgeMask: Uint8Array | null,
): boolean {
  if (pixels.length === 0) return false;
  if (edgeMask) for (const p of pixels) if (edgeMask[p]) return false;
  const directions = comparisonDirections(a, b);
  const width = map.width;
  const judged = directions.map((d) => {
    const length = Math.hypot(d.x, d.y);
    const ux = d.x / length;
    const uy = d.y / length;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const p of pixels) {
      const x = p % width;
      const t = x * ux + ((p - x) / width) * uy;
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    return hi - lo + 1 < length;
  });
  if (!judged.some(Boolean)) return false;
  // A mean over a few hundred pixels is as good as over all of a large blob, at a fraction of
  // the cost (each pixel reads 9 smoothed samples per direction).
  const stride = Math.max(1, Math.floor(pixels.length / REPEAT.maxSamples));
  const sampled = stride === 1 ? pixels : pixels.filter((_, k) => k % stride === 0);
  const evidence = directionEvidence(map, sampled, sign, directions);
  for (let k = 0; k < directions.length; k++) {
    if (!judged[k]) continue;
    const others = evidence
      .filter((_, j) => j !== k)
      .map((e) => e.pair)
      .sort((p, q) => p - q);
    const c = others[1] as number;
    const along = evidence[k] as DirectionEvidence;
    const cut = REPEAT.evidenceShare * c;
    if (c > 0 && along.pair < cut && Math.min(along.plus, along.minus) > -cut) return true;
  }
  return false;
}
