// Die-to-die residual of a patterned wafer: each pixel against the same spot in neighbouring dies.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";

interface Shift {
  x: number;
  y: number;
  offset: number;
  fx: number;
  fy: number;
}

/**
 * Share of the reference's local 2x2 range forgiven as interpolation/misregistration error.
 * Bilinear samples of an anti-aliased edge can miss by most of the edge step on turned grids.
 */
const MISREGISTRATION_SHARE = 0.75;

function shiftOf(x: number, y: number, width: number): Shift {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  return { x, y, offset: iy * width + ix, fx: x - ix, fy: y - iy };
}

/**
 * range[i] = max - min of the 2x2 cell whose top-left pixel is i: how much a sample taken
 * anywhere in that cell can move with sub-pixel misregistration on a pattern edge.
 */
function cellRange(data: Float32Array, width: number, height: number, out: Float32Array): void {
  for (let y = 0; y < height - 1; y++) {
    let i = y * width;
    for (let x = 0; x < width - 1; x++, i++) {
      const a = data[i] as number;
      const b = data[i + 1] as number;
      const c = data[i + width] as number;
      const d = data[i + width + 1] as number;
      let lo = Math.min(a, b);
      let hi = Math.max(a, b);
      const lo2 = Math.min(c, d);
      const hi2 = Math.max(c, d);
      if (lo2 < lo) lo = lo2;
      if (hi2 > hi) hi = hi2;
      out[i] = hi - lo;
    }
  }
}

/** Inserts e into sorted[0..n) by magnitude; returns the new count. */
function insertByMagnitude(sorted: Float64Array, n: number, e: number): number {
  let m = n;
  const mag = e < 0 ? -e : e;
  while (m > 0) {
    const prev = sorted[m - 1] as number;
    if ((prev < 0 ? -prev : prev) <= mag) break;
    sorted[m] = prev;
    m--;
  }
  sorted[m] = e;
  return n + 1;
}

/**
 * residual(p) = how far p stands out from the same die position in the neighbouring dies
 * along a, b, a+b and a-b. Opposite neighbours are averaged, which cancels illumination
 * gradients to first order (vignetting is steep near the rim); where one side leaves the
 * wafer, a linear extrapolation from two dies on the other side does the same job.
 * Each comparison tolerates half the pattern's local range at the reference (less the noise's
 * share), so sub-pixel misregistration on sharp motif edges is not read as a defect.
 * The reported value is the 2nd smallest of the 4 deviations: a defect must differ along
 * at least 3 directions, so a defect in a neighbour die does not echo here, and a scratch
 * running along one lattice axis (where that axis' neighbours share it) stays visible.
 */
export function dieToDieResidual(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: DiskRegion,
  waferRadius: number,
  noiseSigma: number,
  out: Float32Array,
  scratch: Float32Array = new Float32Array(map.width * map.height),
): void {
  const { width, height, data } = map;
  const range = scratch;
  cellRange(data, width, height, range);
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  const plus = dirs.map((d) => shiftOf(d.x, d.y, width));
  const minus = dirs.map((d) => shiftOf(-d.x, -d.y, width));
  const plus2 = dirs.map((d) => shiftOf(2 * d.x, 2 * d.y, width));
  const minus2 = dirs.map((d) => shiftOf(-2 * d.x, -2 * d.y, width));
  // Flat tables for the interior fast path: 8 samples with fixed offsets and weights.
  const offsets = new Int32Array(8);
  const fxs = new Float64Array(8);
  const fys = new Float64Array(8);
  for (let k = 0; k < 4; k++) {
    const p = plus[k] as Shift;
    const m = minus[k] as Shift;
    offsets[2 * k] = p.offset;
    fxs[2 * k] = p.fx;
    fys[2 * k] = p.fy;
    offsets[2 * k + 1] = m.offset;
    fxs[2 * k + 1] = m.fx;
    fys[2 * k + 1] = m.fy;
  }
  const reach = 2 * Math.max(...dirs.map((d) => Math.hypot(d.x, d.y))) + 2;
  const { cx, cy, r } = region;
  const validR = waferRadius - 1.5;
  const validR2 = validR * validR;
  const safeR = Math.max(0, validR - reach / 2);
  const safeR2 = safeR * safeR;
  const deviations = new Float64Array(4);
  const noiseRange = 2 * noiseSigma;
  let x = 0;
  let y = 0;
  let base = 0;
  const sample = (s: Shift): number => {
    const j = base + s.offset;
    const p00 = data[j] as number;
    const top = p00 + ((data[j + 1] as number) - p00) * s.fx;
    const p01 = data[j + width] as number;
    const bottom = p01 + ((data[j + width + 1] as number) - p01) * s.fx;
    return top + (bottom - top) * s.fy;
  };
  const valid = (s: Shift): boolean => {
    const qx = x + s.x;
    const qy = y + s.y;
    if (qx < 0 || qy < 0 || qx >= width - 1 || qy >= height - 1) return false;
    return (qx - cx) * (qx - cx) + (qy - cy) * (qy - cy) < validR2;
  };
  const deviation = (v: number, ref: number, spread: number): number => {
    // Noise alone makes ~2 sigma of range; that part is not forgiven.
    let allowance = MISREGISTRATION_SHARE * spread - noiseRange / 2;
    if (allowance < 0) allowance = 0;
    const d = v - ref;
    return d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
  };
  out.fill(0);
  for (y = Math.max(0, Math.ceil(cy - r)); y <= Math.min(height - 1, Math.floor(cy + r)); y++) {
    const ddy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - ddy * ddy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(width - 1, Math.floor(cx + half));
    const safeHalf = Math.sqrt(Math.max(0, safeR2 - ddy * ddy));
    const safeX0 = Math.ceil(cx - safeHalf);
    const safeX1 = Math.floor(cx + safeHalf);
    for (x = x0; x <= x1; x++) {
      base = y * width + x;
      const v = data[base] as number;
      let n = 0;
      if (safeHalf > 0 && x >= safeX0 && x <= safeX1) {
        for (let k = 0; k < 8; k += 2) {
          const j1 = base + (offsets[k] as number);
          const fx1 = fxs[k] as number;
          const a00 = data[j1] as number;
          const aTop = a00 + ((data[j1 + 1] as number) - a00) * fx1;
          const a01 = data[j1 + width] as number;
          const aBottom = a01 + ((data[j1 + width + 1] as number) - a01) * fx1;
          const j2 = base + (offsets[k + 1] as number);
          const fx2 = fxs[k + 1] as number;
          const b00 = data[j2] as number;
          const bTop = b00 + ((data[j2 + 1] as number) - b00) * fx2;
          const b01 = data[j2 + width] as number;
          const bBottom = b01 + ((data[j2 + width + 1] as number) - b01) * fx2;
          const ref =
            0.5 *
            (aTop +
              (aBottom - aTop) * (fys[k] as number) +
              bTop +
              (bBottom - bTop) * (fys[k + 1] as number));
          const spread = 0.5 * ((range[j1] as number) + (range[j2] as number));
          n = insertByMagnitude(deviations, n, deviation(v, ref, spread));
        }
        out[base] = deviations[1] as number;
        continue;
      }
      for (let k = 0; k < 4; k++) {
        const sp = plus[k] as Shift;
        const sm = minus[k] as Shift;
        const plusOk = valid(sp);
        const minusOk = valid(sm);
        if (plusOk && minusOk) {
          const spread =
            0.5 * ((range[base + sp.offset] as number) + (range[base + sm.offset] as number));
          n = insertByMagnitude(
            deviations,
            n,
            deviation(v, 0.5 * (sample(sp) + sample(sm)), spread),
          );
          continue;
        }
        const near = plusOk ? sp : minusOk ? sm : null;
        if (!near) continue;
        const far = near === sp ? (plus2[k] as Shift) : (minus2[k] as Shift);
        if (valid(far)) {
          const spread =
            2 * (range[base + near.offset] as number) + (range[base + far.offset] as number);
          n = insertByMagnitude(
            deviations,
            n,
            deviation(v, 2 * sample(near) - sample(far), spread),
          );
        } else {
          n = insertByMagnitude(
            deviations,
            n,
            deviation(v, sample(near), range[base + near.offset] as number),
          );
        }
      }
      if (n === 0) continue;
      out[base] = deviations[n >= 3 ? 1 : 0] as number;
    }
  }
}
