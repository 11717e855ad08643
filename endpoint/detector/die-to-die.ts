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
      const lo = Math.min(a, b, c, d);
      out[i] = Math.max(a, b, c, d) - lo;
    }
  }
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
): void {
  const { width, height, data } = map;
  const range = new Float32Array(width * height);
  cellRange(data, width, height, range);
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  const plus = dirs.map((d) => shiftOf(d.x, d.y, width));
  const minus = dirs.map((d) => shiftOf(-d.x, -d.y, width));
  const plus2 = dirs.map((d) => shiftOf(2 * d.x, 2 * d.y, width));
  const minus2 = dirs.map((d) => shiftOf(-2 * d.x, -2 * d.y, width));
  const reach = 2 * Math.max(...dirs.map((d) => Math.hypot(d.x, d.y))) + 2;
  const { cx, cy, r } = region;
  const validR = waferRadius - 1.5;
  const validR2 = validR * validR;
  const safeR2 = Math.max(0, validR - reach) ** 2;
  const deviations = new Float64Array(4);
  let x = 0;
  let y = 0;
  let base = 0;
  const sample = (s: Shift): number => {
    const j = base + s.offset;
    const p00 = data[j] as number;
    const p10 = data[j + 1] as number;
    const top = p00 + (p10 - p00) * s.fx;
    const p01 = data[j + width] as number;
    const bottom = p01 + ((data[j + width + 1] as number) - p01) * s.fx;
    return top + (bottom - top) * s.fy;
  };
  const tolerance = (s: Shift): number => range[base + s.offset] as number;
  const valid = (s: Shift): boolean => {
    const qx = x + s.x;
    const qy = y + s.y;
    if (qx < 0 || qy < 0 || qx >= width - 1 || qy >= height - 1) return false;
    return (qx - cx) * (qx - cx) + (qy - cy) * (qy - cy) < validR2;
  };
  out.fill(0);
  const noiseRange = 2 * noiseSigma;
  for (y = Math.max(0, Math.ceil(cy - r)); y <= Math.min(height - 1, Math.floor(cy + r)); y++) {
    const ddy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - ddy * ddy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(width - 1, Math.floor(cx + half));
    for (x = x0; x <= x1; x++) {
      base = y * width + x;
      const v = data[base] as number;
      const ddx = x - cx;
      const interior = ddx * ddx + ddy * ddy < safeR2;
      let n = 0;
      for (let k = 0; k < 4; k++) {
        const sp = plus[k] as Shift;
        const sm = minus[k] as Shift;
        let ref: number;
        let spread: number;
        if (interior || (valid(sp) && valid(sm))) {
          ref = 0.5 * (sample(sp) + sample(sm));
          spread = 0.5 * (tolerance(sp) + tolerance(sm));
        } else {
          const near = valid(sp) ? sp : valid(sm) ? sm : null;
          if (!near) continue;
          const far = near === sp ? (plus2[k] as Shift) : (minus2[k] as Shift);
          if (valid(far)) {
            ref = 2 * sample(near) - sample(far);
            spread = 2 * tolerance(near) + tolerance(far);
          } else {
            ref = sample(near);
            spread = tolerance(near);
          }
        }
        // Half the range is the misregistration allowance; noise alone makes ~2 sigma of range.
        let allowance = 0.5 * (spread - noiseRange);
        if (allowance < 0) allowance = 0;
        const d = v - ref;
        const e = d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
        let m = n++;
        while (m > 0 && Math.abs(deviations[m - 1] as number) > Math.abs(e)) {
          deviations[m] = deviations[m - 1] as number;
          m--;
        }
        deviations[m] = e;
      }
      if (n === 0) continue;
      out[base] = deviations[n >= 3 ? 1 : 0] as number;
    }
  }
}
