// Reading the rim profile: the orientation notch (V, ~1% of the radius deep) and edge chips.
import { angleDistanceDeg, type Circle } from "./geometry.ts";
import type { RimProfile } from "./locate.ts";

export interface RimDeficit {
  /** Centre angle in degrees, clockwise from image +x. */
  angleDeg: number;
  depthPx: number;
  widthPx: number;
  areaPx: number;
  /** How far the deficit is from a 90-degree V of ~1% radius depth (0 = perfect notch). */
  notchCost: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
  centroid: { x: number; y: number };
}

export interface RimReading {
  notchAngleDeg: number;
  notchSource: "metadata" | "detected";
  /** False when no rim deficit looked like the notch and the angle is a default. */
  notchFound: boolean;
  chips: RimDeficit[];
  /** Minimum depth a rim deficit needed to count, px. */
  deficitThresholdPx: number;
}

const NOTCH_DEPTH_FRACTION = 0.01;

/** Contiguous runs (circularly) of rays whose deficit exceeds `low`, keeping those peaking over `high`. */
function deficitRuns(deficit: Float64Array, low: number, high: number): number[][] {
  const n = deficit.length;
  const above = (i: number) => (deficit[(i + n) % n] as number) > low;
  let start = 0;
  while (start < n && above(start)) start++;
  if (start === n) return [];
  const runs: number[][] = [];
  let current: number[] = [];
  for (let step = 1; step <= n; step++) {
    const i = (start + step) % n;
    if (above(i)) current.push(i);
    else if (current.length > 0) {
      if (current.some((j) => (deficit[j] as number) > high)) runs.push(current);
      current = [];
    }
  }
  return runs;
}

function describeRun(
  run: number[],
  rim: RimProfile,
  deficit: Float64Array,
  circle: Circle,
): RimDeficit {
  const n = rim.angles.length;
  const first = rim.angles[run[0] as number] as number;
  const unwrap = (phi: number) => {
    let d = phi - first;
    if (d < -Math.PI) d += 2 * Math.PI;
    if (d > Math.PI) d -= 2 * Math.PI;
    return d;
  };
  let depth = 0;
  let weight = 0;
  let angleSum = 0;
  let cxSum = 0;
  let cySum = 0;
  let area = 0;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  const spacing = (2 * Math.PI) / n;
  const offsets: number[] = [];
  for (const i of run) {
    const d = deficit[i] as number;
    const phi = rim.angles[i] as number;
    const rel = unwrap(phi);
    offsets.push(rel * circle.r);
    depth = Math.max(depth, d);
    weight += d;
    angleSum += d * rel;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    const mid = circle.r - d / 2;
    cxSum += d * (circle.cx + mid * c);
    cySum += d * (circle.cy + mid * s);
    area += d * spacing * circle.r;
    for (const r of [circle.r - d, circle.r]) {
      const x = circle.cx + r * c;
      const y = circle.cy + r * s;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const centreRel = angleSum / weight;
  const widthPx = (run.length + 1) * spacing * circle.r;
  // Best 90-degree V (sides at 45 degrees, so half-width equals depth) through the profile.
  const centreS = centreRel * circle.r;
  let best = Number.POSITIVE_INFINITY;
  for (let k = -10; k <= 10; k++) {
    const s0 = centreS + (k / 10) * spacing * circle.r;
    for (let scale = 0.7; scale <= 1.3001; scale += 0.05) {
      const vDepth = depth * scale;
      let err = 0;
      run.forEach((i, j) => {
        const model = Math.max(0, vDepth - Math.abs((offsets[j] as number) - s0));
        err += ((deficit[i] as number) - model) ** 2;
      });
      best = Math.min(best, Math.sqrt(err / run.length) / depth);
    }
  }
  const expected = NOTCH_DEPTH_FRACTION * circle.r;
  const notchCost = Math.abs(Math.log(depth / expected)) / Math.log(2) + best / 0.15;
  const angleDeg = (((((first + centreRel) * 180) / Math.PI) % 360) + 360) % 360;
  return {
    angleDeg,
    depthPx: depth,
    widthPx,
    areaPx: area,
    notchCost,
    bbox: { x0, y0, x1, y1 },
    centroid: { x: cxSum / weight, y: cySum / weight },
  };
}

/** Splits the rim's deficits into the notch and edge chips. */
export function readRim(
  rim: RimProfile,
  circle: Circle,
  rimSigmaPx: number,
  hintedNotchDeg: number | undefined,
): RimReading {
  const n = rim.radii.length;
  const deficit = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rim.radii[i] as number;
    deficit[i] = Number.isNaN(r) ? 0 : circle.r - r;
  }
  const high = Math.max(4 * rimSigmaPx, 1.2, 0.0015 * circle.r);
  const low = Math.max(2 * rimSigmaPx, 0.5);
  const deficits = deficitRuns(deficit, low, high)
    .filter((run) => run.length >= 2)
    .map((run) => describeRun(run, rim, deficit, circle));
  let notch: RimDeficit | undefined;
  if (hintedNotchDeg !== undefined) {
    // The notch spans ~1.2 degrees of arc; 2 degrees either side absorbs rounded metadata.
    const tolerance = 2;
    notch = deficits
      .filter((d) => angleDistanceDeg(d.angleDeg, hintedNotchDeg) <= tolerance)
      .sort(
        (a, b) =>
          angleDistanceDeg(a.angleDeg, hintedNotchDeg) -
          angleDistanceDeg(b.angleDeg, hintedNotchDeg),
      )[0];
  } else {
    const candidates = deficits
      .filter(
        (d) =>
          d.depthPx > 0.4 * NOTCH_DEPTH_FRACTION * circle.r &&
          d.depthPx < 2.5 * NOTCH_DEPTH_FRACTION * circle.r,
      )
      .sort((a, b) => a.notchCost - b.notchCost);
    notch = candidates[0];
  }
  // A chip is a bite: about as deep as half its width (a V or a round scoop). Deficits much
  // deeper than wide are slots, i.e. dark die streets running out to the rim, not chips.
  const chips = deficits.filter((d) => d !== notch && d.depthPx <= 0.9 * d.widthPx);
  return {
    notchAngleDeg: hintedNotchDeg ?? notch?.angleDeg ?? 90,
    notchSource: hintedNotchDeg !== undefined ? "metadata" : "detected",
    notchFound: hintedNotchDeg !== undefined || notch !== undefined,
    chips,
    deficitThresholdPx: high,
  };
}
