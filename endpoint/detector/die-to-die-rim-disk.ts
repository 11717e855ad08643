// The wafer's disk as rim.ts measured it (its out-of-round shape, less the chips and the notch), one x-run per map row: where the rim ring's references lie on the wafer.
import type { Circle } from "./geometry.ts";
import type { RimDeficit, RimShape } from "./rim.ts";

/**
 * Per map row y, the run of x whose points lie on the measured wafer: [left[y], right[y]]
 * (empty when left > right), each end to a small fraction of a pixel, or infinite where the
 * measured rim lies on or outside the fitted circle (the comparison's circle test then decides
 * alone, as it did before the rim was measured). A sample between two rows is on the wafer
 * where it is inside both rows' runs. Rows outside 0..height - 1 hold no run.
 */
export interface MeasuredDiskRuns {
  left: Float64Array;
  right: Float64Array;
}

/** One bite the rim reading measured (a chip or the notch): a ring sector cut to its depth. */
interface Bite {
  /** The map box the sector's bitten part can reach (beyond the shape less its depth), px. */
  rowFrom: number;
  rowTo: number;
  columnFrom: number;
  columnTo: number;
  /** Unit vector of the sector's centre angle. */
  cos: number;
  sin: number;
  /** cos of the sector's half-angle: a direction is in the sector when its dot product is at least this. */
  minDot: number;
  /** Full-resolution px taken off the shape's radius across the whole sector (its deepest ray). */
  depthPx: number;
  /** The sector's half-angle and centre angle, radians. */
  halfAngle: number;
  centre: number;
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
    rowFrom: 0,
    rowTo: -1,
    columnFrom: 0,
    columnTo: -1,
    cos: c,
    sin: s,
    minDot: Math.cos(Math.min(Math.PI, halfAngle)),
    depthPx: deficit.depthPx,
    halfAngle: Math.min(Math.PI, halfAngle),
    centre,
  };
}

/**
 * The fitted shape's radius (full-resolution px) in the direction (c, s): rimRadiusAt, its
 * Fourier terms by the angle-sum recurrence (no trigonometry per point).
 */
function shapeRadius(shape: RimShape, c: number, s: number): number {
  let r = shape.r0;
  let ck = c;
  let sk = s;
  for (let k = 1; k <= shape.cos.length; k++) {
    r += (shape.cos[k - 1] as number) * ck + (shape.sin[k - 1] as number) * sk;
    const next = ck * c - sk * s;
    sk = sk * c + ck * s;
    ck = next;
  }
  return r;
}

/** The depth (full-resolution px) the bites take off the rim in the direction (c, s). */
function bitten(bites: readonly Bite[], c: number, s: number): number {
  let depth = 0;
  for (const bite of bites)
    if (c * bite.cos + s * bite.sin >= bite.minDot && bite.depthPx > depth) depth = bite.depthPx;
  return depth;
}

/**
 * The runs of the measured disk, in map px (the map's pixel x holds full-resolution
 * (x + 0.5) scale - 0.5), shrunk by `marginMapPx`: the rim ring's references are taken from
 * where the wafer really is, not where the fitted circle puts it, so a reference in an edge
 * chip, in the notch or past an out-of-round rim (reading the chuck) is not compared
 * (docs/detector-recall.md round 28). The rim is trusted to `tracePrecisionPx` (full
 * resolution): within it of the circle, the circle's own test decides, as before. The shape is
 * convex (a circle with Fourier terms of a pixel or two), so it leaves one run per row; where a
 * bite splits a row (rows that only graze the disk, beside a chip at the top or bottom), the
 * longer piece is kept: a run must be one interval, and leaving the other out only drops
 * references.
 */
export function measuredDiskRuns(
  shape: RimShape,
  deficits: readonly RimDeficit[],
  circle: Circle,
  scale: number,
  height: number,
  marginMapPx: number,
  tracePrecisionPx: number,
): MeasuredDiskRuns {
  const cx = (circle.cx + 0.5) / scale - 0.5;
  const cy = (circle.cy + 0.5) / scale - 0.5;
  const outer = circle.r / scale - marginMapPx;
  // A radius the shape lies beyond in every direction (sampled every half degree, less a pixel
  // for the samples' spacing).
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 720; i++) {
    const phi = (i * Math.PI) / 360;
    shortest = Math.min(shortest, shapeRadius(shape, Math.cos(phi), Math.sin(phi)));
  }
  const toMap = (v: number) => (v + 0.5) / scale - 0.5;
  const bites = deficits.map((d) => biteOf(d, circle));
  // The box each bite's bitten part can reach: its sector beyond the shape less its depth,
  // sampled along 33 rays, and two pixels more for the chords between them.
  for (const bite of bites) {
    let x0 = Number.POSITIVE_INFINITY;
    let x1 = Number.NEGATIVE_INFINITY;
    let y0 = Number.POSITIVE_INFINITY;
    let y1 = Number.NEGATIVE_INFINITY;
    for (let i = 0; i <= 32; i++) {
      const phi = bite.centre + bite.halfAngle * (i / 16 - 1);
      for (const r of [shortest - bite.depthPx - 1, circle.r]) {
        const x = toMap(circle.cx + r * Math.cos(phi));
        const y = toMap(circle.cy + r * Math.sin(phi));
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
    bite.columnFrom = Math.floor(x0) - 2;
    bite.columnTo = Math.ceil(x1) + 2;
    bite.rowFrom = Math.floor(y0) - 2;
    bite.rowTo = Math.ceil(y1) + 2;
  }
  const shapeInner = (shortest - 1) / scale - marginMapPx;
  const trusted = tracePrecisionPx / scale - marginMapPx;
  const left = new Float64Array(height).fill(1);
  const right = new Float64Array(height).fill(0);
  const noBites: Bite[] = [];
  let rowBites = noBites;
  const onWafer = (x: number, dy: number): boolean => {
    const dx = x - cx;
    const r = Math.sqrt(dx * dx + dy * dy);
    if (r === 0) return true;
    const c = dx / r;
    const s = dy / r;
    return r <= (shapeRadius(shape, c, s) - bitten(rowBites, c, s)) / scale + trusted;
  };
  // Where the run ends between `inside` (on the wafer) and `outside` (off it): the crossing to
  // 1/64 px, on the wafer's side.
  const crossing = (inside: number, outside: number, dy: number): number => {
    let on = inside;
    let off = outside;
    while (Math.abs(off - on) > 1 / 64) {
      const mid = 0.5 * (on + off);
      if (onWafer(mid, dy)) on = mid;
      else off = mid;
    }
    return on;
  };
  for (let y = 0; y < height; y++) {
    const dy = y - cy;
    if (Math.abs(dy) >= outer) continue;
    const halfOuter = Math.sqrt(outer * outer - dy * dy);
    // The circle's own ends: the comparison's circle test already stops a sample there.
    const leftEnd = cx - halfOuter;
    const rightEnd = cx + halfOuter;
    // The shape's run: one crossing per end, searched from its inner chord (or the centre
    // column on rows that graze it), none where the circle's end is on the wafer.
    rowBites = noBites;
    let start: [number, number];
    if (dy * dy < shapeInner * shapeInner) {
      const halfInner = Math.sqrt(shapeInner * shapeInner - dy * dy);
      start = [cx - halfInner, cx + halfInner];
    } else if (onWafer(cx, dy)) start = [cx, cx];
    else continue;
    let l = onWafer(leftEnd, dy) ? Number.NEGATIVE_INFINITY : crossing(start[0], leftEnd, dy);
    let r = onWafer(rightEnd, dy) ? Number.POSITIVE_INFINITY : crossing(start[1], rightEnd, dy);
    // Each bite reaching the row: its columns off the wafer, and the longer side kept.
    for (const bite of bites) {
      if (y < bite.rowFrom || y > bite.rowTo || l > r) continue;
      rowBites = [bite];
      const from = Math.max(bite.columnFrom, Math.ceil(Math.max(l, leftEnd)));
      const to = Math.min(bite.columnTo, Math.floor(Math.min(r, rightEnd)));
      let offFrom = Number.POSITIVE_INFINITY;
      let offTo = Number.NEGATIVE_INFINITY;
      for (let x = from; x <= to; x++) {
        if (onWafer(x, dy)) continue;
        offFrom = Math.min(offFrom, x);
        offTo = Math.max(offTo, x);
      }
      if (offFrom > offTo) continue;
      const leftPiece =
        offFrom - 1 >= Math.max(l, leftEnd) ? offFrom - 1 - Math.max(l, leftEnd) : -1;
      const rightPiece =
        offTo + 1 <= Math.min(r, rightEnd) ? Math.min(r, rightEnd) - offTo - 1 : -1;
      if (leftPiece < 0 && rightPiece < 0) {
        l = 1;
        r = 0;
      } else if (leftPiece >= rightPiece) r = crossing(offFrom - 1, offFrom, dy);
      else l = crossing(offTo + 1, offTo, dy);
    }
    left[y] = l;
    right[y] = r;
  }
  return { left, right };
}
