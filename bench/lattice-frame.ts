// Where a map pixel lies in the die grid, for the diagnostic benches: die coordinates and the distance to the nearest street centre line.
import type { Lattice } from "../endpoint/detector/lattice.ts";

export interface LatticePosition {
  /** Die coordinates along a and b, 0 on a street centre line. */
  s: number;
  t: number;
  /** Map px from the nearest street centre line across a and across b. */
  acrossA: number;
  acrossB: number;
}

/** Die coordinates of (x, y), measured from the disk centre and the lattice's street phase. */
export function latticePosition(
  lattice: Lattice,
  centre: { cx: number; cy: number },
): (x: number, y: number) => LatticePosition {
  const { a, b } = lattice;
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const det = a.x * b.y - a.y * b.x;
  const sOffset = lattice.streetPhase.a / la;
  const tOffset = lattice.streetPhase.b / lb;
  return (x, y) => {
    const dx = x - centre.cx;
    const dy = y - centre.cy;
    const s = (dx * b.y - dy * b.x) / det - sOffset;
    const t = (a.x * dy - a.y * dx) / det - tOffset;
    return {
      s,
      t,
      acrossA: Math.abs(s - Math.round(s)) * la,
      acrossB: Math.abs(t - Math.round(t)) * lb,
    };
  };
}
