// The wafer's disk as rim.ts measured it (its out-of-round shape, less the chips and the notch), one x-run per map row: where the rim ring's references lie on the wafer.
import type { Circle } from "./geometry.ts";
import type { RimDeficit, RimShape } from "./rim.ts";

/**
 * Per map row y, the run of x whose points lie on the measured wafer: [left[y], right[y]]
 * (empty when left > right). A point between two integer columns counts as on the wafer only
 * when both columns are. Rows outside 0..height - 1 hold no run.
 */
export interface MeasuredDiskRuns {
  left: Float64Array;
  right: Float64Array;
}

/** One bite the rim reading measured (a chip or the notch): a ring sector cut to its depth. */
interface Bite {
  /** Unit vector of the sector's centre angle. */
  cos: number;
  sin: number;
  /** cos of the sector's half-angle: a direction is in the sector when its dot product is at least this. */
  minDot: number;
  /** Full-resolution px taken off the shape's radius across the whole sector (its deepest ray). */
  depthPx: number;
}

/**
 * The sector of a deficit, from both of what the reading keeps of its rays: the bbox of the
 * bitten area (every ray of the run from its traced rim to the shape) and the width along the
 * rim about the deficit-weighted centre. Their union, so an asymmetric bite's weighted centre
 * does not leave a ray of it outside. Its depth is the deepest ray's across the whole sector:
 * a round bite or a V is shallower at its ends, so this only takes more off.
 */
function biteOf(deficit: RimDeficit, circle: Circle): Bite {
  const centre = (deficit.angleDeg * Math.PI) / 180;
  const c = Math.cos(centre);
  const s = Math.sin(centre);
  let halfAngle = Math.min(Math.PI, deficit.widthPx / 2 / circle.r);
  const { x0, y0, x1, y1 } = deficit.bbox;
  for (const [x, y] of [
    [x0, y0],
    [x1, y0],
    [x0, y1],
    [x1, y1],
  ] as const) {
    const dx = x - circle.cx;
    const dy = y - circle.cy;
    const r = Math.hypot(dx, dy);
    if (r === 0) continue;
    const dot = Math.max(-1, Math.min(1, (dx * c + dy * s) / r));
    halfAngle = Math.max(halfAngle, Math.acos(dot));
  }
  return {
    cos: c,
    sin: s,
    minDot: Math.cos(Math.min(Math.PI, halfAngle)),
    depthPx: deficit.depthPx,
  };
}

/**
 * The measured rim radius (full-resolution px) in the direction (c, s): the fitted shape
 * (rimRadiusAt, its Fourier terms by the angle-sum recurrence, no trigonometry per point),
 * less the depth of every bite whose sector holds the direction.
 */
function measuredRadius(shape: RimShape, bites: Bite[], c: number, s: number): number {
  let r = shape.r0;
  let ck = c;
  let sk = s;
  for (let k = 1; k <= shape.cos.length; k++) {
    r += (shape.cos[k - 1] as number) * ck + (shape.sin[k - 1] as number) * sk;
    const next = ck * c - sk * s;
    sk = sk * c + ck * s;
    ck = next;
  }
  let bitten = 0;
  for (const bite of bites) {
    if (c * bite.cos + s * bite.sin >= bite.minDot) bitten = Math.max(bitten, bite.depthPx);
  }
  return r - bitten;
}

/**
 * The runs of the measured disk, in map px (the map's pixel x holds full-resolution
 * (x + 0.5) scale - 0.5), shrunk by `marginMapPx` and never outside the fitted circle less
 * that margin (as the comparison's circle test was): the rim ring's references are taken from
 * where the wafer really is, not where the circle puts it, so a reference in an edge chip or
 * past an out-of-round rim (reading the chuck) is not compared (docs/detector-recall.md
 * round 28). Where a bite splits a row (rows that only graze the disk, beside a chip at the
 * top or bottom), the longer piece is kept: a run must be one interval, and leaving the other
 * out only drops references.
 */
export function measuredDiskRuns(
  shape: RimShape,
  deficits: readonly RimDeficit[],
  circle: Circle,
  scale: number,
  height: number,
  marginMapPx: number,
): MeasuredDiskRuns {
  const bites = deficits.map((d) => biteOf(d, circle));
  const cx = (circle.cx + 0.5) / scale - 0.5;
  const cy = (circle.cy + 0.5) / scale - 0.5;
  const outer = circle.r / scale - marginMapPx;
  // A radius every direction's measured rim lies beyond (the shape sampled every half degree
  // less a pixel for the samples' spacing, less the deepest bite): no point within it is tested.
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 720; i++) {
    const phi = (i * Math.PI) / 360;
    shortest = Math.min(shortest, measuredRadius(shape, [], Math.cos(phi), Math.sin(phi)));
  }
  const deepest = bites.reduce((m, b) => Math.max(m, b.depthPx), 0);
  const inner = Math.max(0, (shortest - deepest - 1) / scale - marginMapPx);
  const left = new Float64Array(height).fill(1);
  const right = new Float64Array(height).fill(0);
  const onWafer = (x: number, dy: number): boolean => {
    const dx = x - cx;
    const r = Math.hypot(dx, dy);
    if (r > outer) return false;
    if (r === 0) return true;
    return r <= measuredRadius(shape, bites, dx / r, dy / r) / scale - marginMapPx;
  };
  for (let y = 0; y < height; y++) {
    const dy = y - cy;
    if (Math.abs(dy) >= outer) continue;
    const halfOuter = Math.sqrt(outer * outer - dy * dy);
    const from = Math.ceil(cx - halfOuter);
    const to = Math.floor(cx + halfOuter);
    if (Math.abs(dy) < inner) {
      // Grow from the inner disk's chord (on the wafer for certain) out to the first point off it.
      const halfInner = Math.sqrt(inner * inner - dy * dy);
      let l = Math.max(from, Math.ceil(cx - halfInner));
      let r = Math.min(to, Math.floor(cx + halfInner));
      if (l <= r) {
        while (l - 1 >= from && onWafer(l - 1, dy)) l--;
        while (r + 1 <= to && onWafer(r + 1, dy)) r++;
        left[y] = l;
        right[y] = r;
        continue;
      }
    }
    // A row that grazes the disk: its longest run on the wafer.
    let bestFrom = 1;
    let bestTo = 0;
    let runFrom = -1;
    for (let x = from; x <= to + 1; x++) {
      const inside = x <= to && onWafer(x, dy);
      if (inside && runFrom < 0) runFrom = x;
      if (!inside && runFrom >= 0) {
        if (x - 1 - runFrom > bestTo - bestFrom) {
          bestFrom = runFrom;
          bestTo = x - 1;
        }
        runFrom = -1;
      }
    }
    left[y] = bestFrom;
    right[y] = bestTo;
  }
  return { left, right };
}
