// The fixed per-defect feature vector the learned second stage reads: shape, contrast, edges and position on the wafer.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { DEFECT_CLASSES } from "../../schemas/common.ts";
import type { Defect, Wafer } from "../../schemas/detection.ts";

/** Bump when any feature's definition changes: models record it and the stage refuses others. */
export const FEATURE_SET = "waferflow-features-v2";

export const FEATURE_NAMES = [
  "log_area_over_r2",
  "log_long_side_over_r",
  "log_short_side_over_r",
  "log_bbox_aspect",
  "fill_ratio",
  "log_elongation",
  "log1p_snr",
  "relative_contrast",
  "polarity",
  "rim_sharpness",
  "interior_over_rim_gradient",
  "flatness",
  "core_fraction",
  "log_compactness",
  "radial_position",
  "log1p_rim_distance_mm",
  "patterned",
  "detector_score",
  ...DEFECT_CLASSES.map((c) => `detector_is_${c}`),
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

/** Sub-sampling cap for the background ring, so huge stains cost no more than small ones. */
const RING_SAMPLES = 4096;

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[index] as number;
}

/**
 * Share of the defect (above 30% of its smoothed peak) that is also above 70%: near 1 for a
 * sharp-rimmed plateau, small for a soft-edged blob whose flanks spread wide.
 */
function coreShare(
  deviations: Float64Array,
  width: number,
  height: number,
  polarity: number,
): number {
  const smoothed = new Float64Array(deviations.length);
  let peak = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          sum += polarity * (deviations[yy * width + xx] as number);
          n++;
        }
      }
      const value = sum / n;
      smoothed[y * width + x] = value;
      if (value > peak) peak = value;
    }
  }
  if (!(peak > 0)) return 0;
  let halo = 0;
  let core = 0;
  for (const value of smoothed) {
    if (value > 0.3 * peak) halo++;
    if (value > 0.7 * peak) core++;
  }
  return halo > 0 ? core / halo : 0;
}

/**
 * Features of one reported defect, computed from the pixels in and around its box and from
 * the wafer the detector found. Sizes are relative to the wafer radius and contrasts to the
 * measured noise, because the spec scales defects with the image and varies the camera.
 */
export function defectFeatures(image: GrayImage, wafer: Wafer, defect: Defect): Float32Array {
  const { width: W, height: H, data } = image;
  const full = fullScale(image);
  const R = wafer.radiusPx;
  const { x: bx, y: by, width: bw, height: bh } = defect.bbox;
  const bx1 = Math.min(W, bx + bw);
  const by1 = Math.min(H, by + bh);
  const at = (x: number, y: number) => data[y * W + x] as number;
  const inDisk = (x: number, y: number) =>
    (x - wafer.centerPx.x) ** 2 + (y - wafer.centerPx.y) ** 2 < (R - 1) ** 2;

  // Local background: the median of a ring around the box, on the wafer only (edge chips sit
  // on the rim, where the chuck would otherwise pull the level).
  const margin = Math.max(3, Math.round(0.5 * Math.max(bw, bh)));
  const rx0 = Math.max(0, bx - margin);
  const ry0 = Math.max(0, by - margin);
  const rx1 = Math.min(W, bx1 + margin);
  const ry1 = Math.min(H, by1 + margin);
  const ringArea = (rx1 - rx0) * (ry1 - ry0) - bw * bh;
  const stride = Math.max(1, Math.floor(Math.sqrt(ringArea / RING_SAMPLES)));
  const ring: number[] = [];
  for (let y = ry0; y < ry1; y += stride) {
    for (let x = rx0; x < rx1; x += stride) {
      const insideBox = x >= bx - 1 && x <= bx1 && y >= by - 1 && y <= by1;
      if (!insideBox && inDisk(x, y)) ring.push(at(x, y));
    }
  }
  const background = ring.length >= 8 ? median(ring) : wafer.waferLevel * full;
  const sigma = Math.max(wafer.noiseSigma * full, 1e-4 * full);

  // Polarity and peak from robust extremes of the deviation inside the box.
  const boxPixels = (bx1 - bx) * (by1 - by);
  const deviations = new Float64Array(boxPixels);
  let k = 0;
  for (let y = by; y < by1; y++)
    for (let x = bx; x < bx1; x++) deviations[k++] = at(x, y) - background;
  const sorted = deviations.slice().sort();
  const low = quantile(sorted, 0.05);
  const high = quantile(sorted, 0.95);
  const polarity = Math.abs(low) > Math.abs(high) ? -1 : 1;
  const peak = Math.max(Math.abs(polarity < 0 ? low : high), 1e-9);

  // The defect's own pixels: clearly above noise and a fair share of the peak.
  const threshold = Math.max(2.5 * sigma, 0.4 * peak);
  const mask = new Uint8Array(boxPixels);
  let area = 0;
  let sx = 0;
  let sy = 0;
  let signal = 0;
  for (let y = by, i = 0; y < by1; y++) {
    for (let x = bx; x < bx1; x++, i++) {
      const v = polarity * (deviations[i] as number);
      if (v > threshold) {
        mask[i] = 1;
        area++;
        sx += x;
        sy += y;
        signal += v;
      }
    }
  }
  let elongation = 0;
  let rimGradient = 0;
  let interiorGradient = 0;
  let rimCount = 0;
  if (area > 0) {
    const mx = sx / area;
    const my = sy / area;
    let cxx = 0;
    let cyy = 0;
    let cxy = 0;
    let interiorCount = 0;
    const bw1 = bx1 - bx;
    for (let y = by, i = 0; y < by1; y++) {
      for (let x = bx; x < bx1; x++, i++) {
        if (!mask[i]) continue;
        cxx += (x - mx) ** 2;
        cyy += (y - my) ** 2;
        cxy += (x - mx) * (y - my);
        const gx = at(Math.min(W - 1, x + 1), y) - at(Math.max(0, x - 1), y);
        const gy = at(x, Math.min(H - 1, y + 1)) - at(x, Math.max(0, y - 1));
        const gradient = 0.5 * Math.hypot(gx, gy);
        const lx = x - bx;
        const ly = y - by;
        const onRim =
          lx === 0 ||
          ly === 0 ||
          lx === bw1 - 1 ||
          y === by1 - 1 ||
          !mask[i - 1] ||
          !mask[i + 1] ||
          !mask[i - bw1] ||
          !mask[i + bw1];
        if (onRim) {
          rimGradient += gradient;
          rimCount++;
        } else {
          interiorGradient += gradient;
          interiorCount++;
        }
      }
    }
    // A single pixel's own extent (1/12) keeps thin lines and dots finite.
    const a = cxx / area + 1 / 12;
    const c = cyy / area + 1 / 12;
    const b = cxy / area;
    const root = Math.sqrt(((a - c) / 2) ** 2 + b * b);
    const major = (a + c) / 2 + root;
    const minor = Math.max((a + c) / 2 - root, 1 / 12);
    elongation = 0.5 * Math.log(major / minor);
    rimGradient = rimCount ? rimGradient / rimCount : 0;
    interiorGradient = interiorCount ? interiorGradient / interiorCount : 0;
  }

  const coreFraction = coreShare(deviations, bx1 - bx, by1 - by, polarity);
  // Perimeter squared over 4 pi area: about 1 for a disk, larger for ragged or thin shapes.
  const compactness = area > 0 ? (rimCount * rimCount) / (4 * Math.PI * area) : 1;
  const distance = Math.hypot(
    defect.centroidPx.x - wafer.centerPx.x,
    defect.centroidPx.y - wafer.centerPx.y,
  );
  const rimDistanceMm = Math.max(0, (R - distance) * wafer.mmPerPx);
  const longSide = Math.max(bw, bh);
  const shortSide = Math.min(bw, bh);
  const values: number[] = [
    Math.log(Math.max(defect.areaPx, 1) / (R * R)),
    Math.log(longSide / R),
    Math.log(shortSide / R),
    Math.log(longSide / shortSide),
    area / boxPixels,
    elongation,
    Math.log1p(peak / sigma),
    peak / Math.max(Math.abs(background), 0.02 * full),
    polarity,
    rimGradient / peak,
    interiorGradient / Math.max(rimGradient, 1e-9),
    area > 0 ? signal / area / peak : 0,
    coreFraction,
    Math.log(Math.max(compactness, 1e-3)),
    distance / R,
    Math.log1p(rimDistanceMm),
    wafer.surface === "patterned" ? 1 : 0,
    defect.score,
    ...DEFECT_CLASSES.map((c) => (defect.class === c ? 1 : 0)),
  ];
  return Float32Array.from(values);
}
