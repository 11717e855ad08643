// The rim by its local step along rays, for frames where no global level splits wafer from chuck (vignetting).

import type { RimProfile } from "./locate-rays.ts";
import { sampleBilinear } from "./raster.ts";

export interface StepRim extends RimProfile {
  /** Local wafer and chuck levels beside the rim per ray (NaN where the ray found none). */
  waferLevels: Float64Array;
  chuckLevels: Float64Array;
  waferIsBright: boolean;
  /** Median local step between wafer and chuck over the rays that found the rim. */
  contrast: number;
}

/**
 * The rim found by its local step instead of one global level: along each ray from `centre`
 * to the frame edge, the outermost place where the means of `baseline` samples either side
 * (the two samples at the edge itself left out: blur) differ by at least `minStep`. Frame-
 * centred vignetting (cos^4, +-12%) can leave the chuck in the frame's corners as dark as the
 * wafer's centre, so that no global threshold separates them, while the rim itself remains a
 * local step of most of the spec's 20% of full scale. The wafer is the side most rays find on
 * the inside of their step; a ray whose step has the other sign started on the wafer (a disk
 * leaving the frame) and met a street or motif edge: it is dropped.
 */
export function findRimBySteps(
  data: ArrayLike<number>,
  width: number,
  height: number,
  centre: { x: number; y: number },
  rays: number,
  minStep: number,
  baseline = 3,
): StepRim {
  const angles = new Float64Array(rays);
  const radii = new Float64Array(rays).fill(Number.NaN);
  const waferLevels = new Float64Array(rays).fill(Number.NaN);
  const chuckLevels = new Float64Array(rays).fill(Number.NaN);
  const signs = new Int8Array(rays);
  const maxReach = Math.ceil(Math.hypot(width, height));
  const samples = new Float64Array(maxReach + 1);
  const mean = (from: number, to: number) => {
    let sum = 0;
    for (let j = from; j <= to; j++) sum += samples[j] as number;
    return sum / (to - from + 1);
  };
  for (let i = 0; i < rays; i++) {
    const phi = (2 * Math.PI * i) / rays;
    angles[i] = phi;
    const c = Math.cos(phi);
    const sn = Math.sin(phi);
    let count = 0;
    for (let t = 0; t <= maxReach; t++) {
      const x = centre.x + t * c;
      const y = centre.y + t * sn;
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) break;
      samples[count++] = sampleBilinear(data, width, height, x, y);
    }
    const step = (k: number) => mean(k - 1 - baseline, k - 2) - mean(k + 2, k + 1 + baseline);
    let k = -1;
    for (let j = count - 2 - baseline; j >= baseline + 1; j--) {
      if (Math.abs(step(j)) >= minStep) {
        k = j;
        break;
      }
    }
    if (k < 0) continue;
    // Inward to the strongest step nearby: the outermost sample above minStep is its outer flank.
    while (k - 1 >= baseline + 1 && Math.abs(step(k - 1)) > Math.abs(step(k))) k--;
    const inner = mean(k - 1 - baseline, k - 2);
    const outer = mean(k + 2, k + 1 + baseline);
    const mid = 0.5 * (inner + outer);
    let at = k;
    for (let j = k + 2; j >= k - 2; j--) {
      const a = (samples[j] as number) - mid;
      const b = (samples[j + 1] as number) - mid;
      if ((inner > outer ? a > 0 && b <= 0 : a < 0 && b >= 0) && a !== b) {
        at = j + a / (a - b);
        break;
      }
    }
    radii[i] = at;
    waferLevels[i] = inner;
    chuckLevels[i] = outer;
    signs[i] = inner > outer ? 1 : -1;
  }
  let brighter = 0;
  let darker = 0;
  for (const sign of signs) {
    if (sign > 0) brighter++;
    else if (sign < 0) darker++;
  }
  const waferIsBright = brighter >= darker;
  const steps: number[] = [];
  for (let i = 0; i < rays; i++) {
    if ((signs[i] as number) === (waferIsBright ? -1 : 1) || (signs[i] as number) === 0) {
      radii[i] = Number.NaN;
      waferLevels[i] = Number.NaN;
      chuckLevels[i] = Number.NaN;
      continue;
    }
    steps.push(Math.abs((waferLevels[i] as number) - (chuckLevels[i] as number)));
  }
  steps.sort((a, b) => a - b);
  const contrast = steps.length > 0 ? (steps[Math.floor(steps.length / 2)] as number) : 0;
  return { angles, radii, waferLevels, chuckLevels, waferIsBright, contrast };
}
