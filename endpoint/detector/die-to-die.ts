// Die-to-die residual of a patterned wafer: each pixel against the same spot in neighbouring dies.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";

interface Neighbour {
  dx: number;
  dy: number;
  offset: number;
  fx: number;
  fy: number;
}

/**
 * residual(p) = how far p stands out from the same die position in its 8 neighbour dies
 * (+-a, +-b, +-(a+b), +-(a-b)). Each comparison tolerates half the local pattern contrast
 * around the neighbour sample (less the noise's share), so sub-pixel misregistration on sharp
 * motif edges is not mistaken for a defect. The reported value is the 3rd smallest deviation:
 * a defect must differ from nearly all neighbours, which keeps a defect in one neighbour die
 * from echoing here and keeps lines running along a lattice axis (where 2 neighbours lie on
 * the same line) visible.
 */
export function dieToDieResidual(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: DiskRegion,
  noiseSigma: number,
  out: Float32Array,
): void {
  const { width, height, data } = map;
  const shifts: Vector[] = [
    a,
    { x: -a.x, y: -a.y },
    b,
    { x: -b.x, y: -b.y },
    { x: a.x + b.x, y: a.y + b.y },
    { x: -a.x - b.x, y: -a.y - b.y },
    { x: a.x - b.x, y: a.y - b.y },
    { x: b.x - a.x, y: b.y - a.y },
  ];
  const neighbours: Neighbour[] = shifts.map((s) => {
    const ix = Math.floor(s.x);
    const iy = Math.floor(s.y);
    return { dx: s.x, dy: s.y, offset: iy * width + ix, fx: s.x - ix, fy: s.y - iy };
  });
  const reach = Math.max(...shifts.map((s) => Math.hypot(s.x, s.y))) + 2;
  const { cx, cy, r } = region;
  const r2 = r * r;
  const safeR2 = Math.max(0, r - reach) ** 2;
  const deviations = new Float64Array(8);
  out.fill(0);
  for (let y = Math.max(0, Math.ceil(cy - r)); y <= Math.min(height - 1, Math.floor(cy + r)); y++) {
    const ddy = y - cy;
    const half = Math.sqrt(Math.max(0, r2 - ddy * ddy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(width - 1, Math.floor(cx + half));
    for (let x = x0; x <= x1; x++) {
      const i = y * width + x;
      const v = data[i] as number;
      const ddx = x - cx;
      const allInside = ddx * ddx + ddy * ddy < safeR2;
      let n = 0;
      for (let q = 0; q < 8; q++) {
        const nb = neighbours[q] as Neighbour;
        if (!allInside) {
          const qx = ddx + nb.dx;
          const qy = ddy + nb.dy;
          if (qx * qx + qy * qy >= r2) continue;
          const sx = x + nb.dx;
          const sy = y + nb.dy;
          if (sx < 0 || sy < 0 || sx >= width - 1 || sy >= height - 1) continue;
        }
        const j = i + nb.offset;
        const p00 = data[j] as number;
        const p10 = data[j + 1] as number;
        const p01 = data[j + width] as number;
        const p11 = data[j + width + 1] as number;
        const top = p00 + (p10 - p00) * nb.fx;
        const bottom = p01 + (p11 - p01) * nb.fx;
        const ref = top + (bottom - top) * nb.fy;
        let lo = Math.min(p00, p10);
        let hi = Math.max(p00, p10);
        const lo2 = Math.min(p01, p11);
        const hi2 = Math.max(p01, p11);
        if (lo2 < lo) lo = lo2;
        if (hi2 > hi) hi = hi2;
        let tolerance = 0.5 * (hi - lo) - noiseSigma;
        if (tolerance < 0) tolerance = 0;
        const d = v - ref;
        const e = d > tolerance ? d - tolerance : d < -tolerance ? d + tolerance : 0;
        // Insertion by magnitude: at most 8 entries.
        let k = n++;
        while (k > 0 && Math.abs(deviations[k - 1] as number) > Math.abs(e)) {
          deviations[k] = deviations[k - 1] as number;
          k--;
        }
        deviations[k] = e;
      }
      if (n < 2) continue;
      const rank = n >= 7 ? 2 : n >= 5 ? 1 : 0;
      out[i] = deviations[rank] as number;
    }
  }
}
