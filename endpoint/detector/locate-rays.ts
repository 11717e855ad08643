// The rim along radial rays: each ray's outermost wafer-to-chuck crossing at a given level, refined between the local levels, and the robust circle through them.

import { type Circle, fitCircleRobust } from "./geometry.ts";

export interface RimProfile {
  /** Ray angles in radians, clockwise from image +x (image y points down). */
  angles: Float64Array;
  /** Measured rim radius per ray (full-resolution px); NaN where the ray saw no rim. */
  radii: Float64Array;
}

/**
 * Bilinear sample at (x, y), clamped to the frame: sampleBilinear's arithmetic, in a copy of
 * its own so that V8's type feedback here sees only the rays' rasters (the image and the
 * overview), not every raster the detector samples.
 */
function sampleRay(
  data: ArrayLike<number>,
  width: number,
  height: number,
  x: number,
  y: number,
): number {
  const cx = x < 0 ? 0 : Math.min(x, width - 1.001);
  const cy = y < 0 ? 0 : Math.min(y, height - 1.001);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const fx = cx - x0;
  const fy = cy - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * Rays from `centre`, each traced to its outermost crossing from wafer to chuck and refined
 * to the midpoint of the local inside/outside levels so that illumination falloff does not
 * bias the radius. A ray is sampled from its outer end inwards, only as far as the crossing
 * and the six samples inside it that the refinement reads (the crossing lies in the outer
 * part of the reach): the same samples, and so the same radii, as sampling the whole ray.
 */
export function castRays(
  data: ArrayLike<number>,
  width: number,
  height: number,
  centre: { x: number; y: number },
  rays: number,
  rFrom: number,
  rTo: number,
  step: number,
  threshold: number | ((phi: number) => number),
  bright: boolean,
): RimProfile {
  const angles = new Float64Array(rays);
  const radii = new Float64Array(rays);
  const count = Math.max(8, Math.ceil((rTo - rFrom) / step));
  const samples = new Float64Array(count);
  for (let ray = 0; ray < rays; ray++) {
    const phi = (2 * Math.PI * ray) / rays;
    angles[ray] = phi;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    // A ray leaving the frame never sees chuck beyond that point: cut it there. The sample
    // positions move monotonically along the ray (in floating point too): when both ends lie
    // in the frame, every sample does.
    let usable = count;
    const rEnd = rFrom + (count - 1) * step;
    const whole =
      inFrame(centre.x + rFrom * c, centre.y + rFrom * s, width, height) &&
      inFrame(centre.x + rEnd * c, centre.y + rEnd * s, width, height);
    for (let k = 0; !whole && k < count; k++) {
      const r = rFrom + k * step;
      const x = centre.x + r * c;
      const y = centre.y + r * s;
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) {
        usable = k;
        break;
      }
    }
    const level = typeof threshold === "number" ? threshold : threshold(phi);
    // Where every sample lies inside sampleRay's clamp, the unclamped sample is the same.
    const inside =
      whole &&
      inClamp(centre.x + rFrom * c, centre.y + rFrom * s, width, height) &&
      inClamp(centre.x + rEnd * c, centre.y + rEnd * s, width, height);
    const sample = inside ? sampleUnclamped : sampleRay;
    // samples[filled..usable) are taken.
    let filled = usable;
    // The outermost wafer sample with two more wafer samples inside it and chuck beyond it.
    let k = -1;
    let sawChuck = false;
    for (let i = usable - 1; i >= 2; i--) {
      while (filled > i - 2) {
        filled--;
        const r = rFrom + filled * step;
        samples[filled] = sample(data, width, height, centre.x + r * c, centre.y + r * s);
      }
      const v = samples[i] as number;
      if (!(bright ? v > level : v < level)) {
        sawChuck = true;
        continue;
      }
      const v1 = samples[i - 1] as number;
      const v2 = samples[i - 2] as number;
      if (sawChuck && (bright ? v1 > level : v1 < level) && (bright ? v2 > level : v2 < level)) {
        k = i;
        break;
      }
    }
    if (k < 0 || k >= usable - 1) {
      radii[ray] = Number.NaN;
      continue;
    }
    const lowest = Math.max(0, k - 6);
    while (filled > lowest) {
      filled--;
      const r = rFrom + filled * step;
      samples[filled] = sample(data, width, height, centre.x + r * c, centre.y + r * s);
    }
    const at = refineCrossing(samples, usable, k, level, bright);
    radii[ray] = rFrom + at * step;
  }
  return { angles, radii };
}

/**
 * sampleRay at a point inside its clamp ([0, width - 1.001] x [0, height - 1.001]): the clamp
 * returns x and y themselves there, and truncation is the floor of a non-negative coordinate.
 */
function sampleUnclamped(
  data: ArrayLike<number>,
  width: number,
  _height: number,
  x: number,
  y: number,
): number {
  const x0 = x | 0;
  const y0 = y | 0;
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/** Whether sampleRay's clamp leaves (x, y) as it is. */
function inClamp(x: number, y: number, width: number, height: number): boolean {
  return x >= 0 && y >= 0 && x <= width - 1.001 && y <= height - 1.001;
}

function inFrame(x: number, y: number, width: number, height: number): boolean {
  return x >= 0 && y >= 0 && x <= width - 1 && y <= height - 1;
}

/** Mean of samples[from..to], both clamped to [0, count - 1]; NaN when that is empty. */
function meanOf(samples: Float64Array, count: number, from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let i = Math.max(0, from); i <= Math.min(count - 1, to); i++) {
    s += samples[i] as number;
    n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

/**
 * The crossing at sample k (wafer at k, chuck beyond), to a fraction of a sample: where the
 * ray crosses the midpoint of the levels 3-6 samples either side, else the threshold.
 * Reads samples[k - 6 .. k + 6] only.
 */
function refineCrossing(
  samples: Float64Array,
  count: number,
  k: number,
  threshold: number,
  bright: boolean,
): number {
  const inside = meanOf(samples, count, k - 6, k - 3);
  const outside = meanOf(samples, count, k + 3, k + 6);
  const mid = Number.isNaN(inside) || Number.isNaN(outside) ? threshold : (inside + outside) / 2;
  for (let j = Math.min(count - 2, k + 3); j >= Math.max(0, k - 3); j--) {
    const a = (samples[j] as number) - mid;
    const b = (samples[j + 1] as number) - mid;
    const aOn = bright ? a > 0 : a < 0;
    const bOn = bright ? b > 0 : b < 0;
    if (aOn && !bOn) return j + a / (a - b);
  }
  const a = (samples[k] as number) - threshold;
  const b = (samples[k + 1] as number) - threshold;
  return k + a / (a - b);
}

export function fitRim(
  rim: RimProfile,
  centre: { x: number; y: number },
  minTolerancePx: number,
  start?: Circle,
): Circle | null {
  let valid = 0;
  for (let i = 0; i < rim.radii.length; i++) if (!Number.isNaN(rim.radii[i] as number)) valid++;
  if (valid < rim.radii.length * 0.4) return null;
  const xs = new Float64Array(valid);
  const ys = new Float64Array(valid);
  let j = 0;
  for (let i = 0; i < rim.radii.length; i++) {
    const r = rim.radii[i] as number;
    if (Number.isNaN(r)) continue;
    const phi = rim.angles[i] as number;
    xs[j] = centre.x + r * Math.cos(phi);
    ys[j] = centre.y + r * Math.sin(phi);
    j++;
  }
  return fitCircleRobust(xs, ys, minTolerancePx, start);
}
