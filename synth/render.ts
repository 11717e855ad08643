// Turns a WaferDesign into pixels and the ground truth of what was drawn.
import type { TruthDefect } from "../schemas/truth.ts";
import {
  applyHotPixels,
  frameVignetteGain,
  gaussianBlur,
  gaussianNoiseGain,
  nonWaferLevels,
  rimRadiusAt,
} from "./artefacts.ts";
import type { PatternDesign, WaferDesign } from "./design.ts";
import { dieAt, pixelToCellAffine, pixelToWaferMm } from "./geometry.ts";
import { Random } from "./random.ts";
import { defectMask, type Patch } from "./shapes.ts";

export interface RenderedWafer {
  pixels: Uint8Array | Uint16Array;
  defects: TruthDefect[];
  /** Noise sigma including quantisation, fraction of full scale. */
  effectiveNoiseSigma: number;
}

/** Pixels whose mask reaches this share of the peak count as the defect's visible extent. */
const VISIBLE_SHARE = 0.1;
/** Headroom kept from black and white so noise does not clip defect peaks. */
const CLIP_MARGIN = 0.015;

interface DieTemplate {
  data: Float32Array;
  width: number;
  height: number;
}

/** A view of a full-frame or patch-sized coverage array. */
interface CoverageView {
  data: Float32Array;
  x0: number;
  y0: number;
  stride: number;
}

/**
 * One die cell rasterised finer than the image and box-filtered to one image pixel, so
 * bilinear sampling later gives area-weighted (anti-aliased) streets and pads.
 */
function buildDieTemplate(pattern: PatternDesign, pitchPx: { x: number; y: number }): DieTemplate {
  const supersample = Math.max(1, Math.min(4, 2048 / Math.max(pitchPx.x, pitchPx.y)));
  const width = Math.max(8, Math.round(pitchPx.x * supersample));
  const height = Math.max(8, Math.round(pitchPx.y * supersample));
  const raw = new Float32Array(width * height);
  const halfStreetX = pattern.streetFraction.x / 2;
  const halfStreetY = pattern.streetFraction.y / 2;
  for (let j = 0; j < height; j++) {
    const y = (j + 0.5) / height;
    const inStreetY = y < halfStreetY || y > 1 - halfStreetY;
    for (let i = 0; i < width; i++) {
      const x = (i + 0.5) / width;
      let level = pattern.dieLevel;
      if (inStreetY || x < halfStreetX || x > 1 - halfStreetX) {
        level = pattern.streetLevel;
      } else {
        for (const rect of pattern.motif) {
          if (x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1) level = rect.level;
        }
      }
      raw[j * width + i] = level;
    }
  }
  // One image pixel's footprint, in texels.
  const kernelX = Math.max(1, Math.round(width / pitchPx.x));
  const kernelY = Math.max(1, Math.round(height / pitchPx.y));
  return {
    data: boxBlurWrapped(raw, width, height, kernelX, kernelY),
    width,
    height,
  };
}

function boxBlurWrapped(
  source: Float32Array,
  width: number,
  height: number,
  kernelX: number,
  kernelY: number,
): Float32Array {
  const across = new Float32Array(width * height);
  const startX = -Math.floor(kernelX / 2);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      let sum = 0;
      for (let k = 0; k < kernelX; k++) {
        sum += source[j * width + ((((i + startX + k) % width) + width) % width)] ?? 0;
      }
      across[j * width + i] = sum / kernelX;
    }
  }
  const out = new Float32Array(width * height);
  const startY = -Math.floor(kernelY / 2);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      let sum = 0;
      for (let k = 0; k < kernelY; k++) {
        sum += across[((((j + startY + k) % height) + height) % height) * width + i] ?? 0;
      }
      out[j * width + i] = sum / kernelY;
    }
  }
  return out;
}

/** Wafer-disk coverage per pixel, exact away from the rim and linear across it. */
function diskCoverage(design: WaferDesign): Float32Array {
  const { width, height } = design;
  const { centerPx, radiusPx } = design.frame;
  const coverage = new Float32Array(width * height);
  const innerSq = (radiusPx - 1) ** 2;
  const outerSq = (radiusPx + 1) ** 2;
  const ellipse = design.artefacts?.axisRatio !== undefined;
  for (let v = 0; v < height; v++) {
    const dy = v - centerPx.y;
    const dySq = dy * dy;
    if (dySq > outerSq) continue;
    const row = v * width;
    // Only the columns the disk can reach in this row.
    const halfChord = Math.sqrt(outerSq - dySq);
    const u0 = Math.max(0, Math.floor(centerPx.x - halfChord));
    const u1 = Math.min(width - 1, Math.ceil(centerPx.x + halfChord));
    for (let u = u0; u <= u1; u++) {
      const dx = u - centerPx.x;
      const rSq = dx * dx + dySq;
      if (ellipse) {
        // Distance to a slightly elliptical rim, along the ray from the centre.
        const rim = rimRadiusAt(design, Math.atan2(dy, dx));
        coverage[row + u] = Math.min(1, Math.max(0, rim - Math.sqrt(rSq) + 0.5));
        continue;
      }
      if (rSq <= innerSq) coverage[row + u] = 1;
      else if (rSq < outerSq) {
        coverage[row + u] = Math.min(1, Math.max(0, radiusPx - Math.sqrt(rSq) + 0.5));
      }
    }
  }
  return coverage;
}

/** Cuts the 90-degree V notch, apex notchDepthPx inside the rim, into the coverage. */
function cutNotch(design: WaferDesign, coverage: Float32Array): void {
  const { centerPx, radiusPx, notchAngleDeg } = design.frame;
  const angle = (notchAngleDeg * Math.PI) / 180;
  // Image angles run clockwise because v points down, which matches the notch convention.
  const nx = Math.cos(angle);
  const ny = Math.sin(angle);
  const rim = design.artefacts ? rimRadiusAt(design, angle) : radiusPx;
  const apexX = centerPx.x + nx * (rim - design.notchDepthPx);
  const apexY = centerPx.y + ny * (rim - design.notchDepthPx);
  const reach = design.notchDepthPx * 2 + 3;
  const u0 = Math.max(0, Math.floor(apexX - reach));
  const u1 = Math.min(design.width - 1, Math.ceil(apexX + reach));
  const v0 = Math.max(0, Math.floor(apexY - reach));
  const v1 = Math.min(design.height - 1, Math.ceil(apexY + reach));
  for (let v = v0; v <= v1; v++) {
    for (let u = u0; u <= u1; u++) {
      const px = u - apexX;
      const py = v - apexY;
      const outward = px * nx + py * ny;
      const sideways = Math.abs(-px * ny + py * nx);
      // Signed distance to the wedge's sides (45 degrees each way from the radius).
      const keep = Math.min(1, Math.max(0, 0.5 + (sideways - outward) / Math.SQRT2));
      const k = v * design.width + u;
      coverage[k] = (coverage[k] ?? 0) * keep;
    }
  }
}

/**
 * Writes the defect-free image level (surface or chuck, times illumination) for pixels
 * [u0,u1] x [v0,v1] into out, whose pixel (u, v) lives at (v-outY0)*outStride + (u-outX0).
 */
function composeRegion(
  design: WaferDesign,
  coverage: CoverageView,
  template: DieTemplate | null,
  out: Float32Array,
  outX0: number,
  outY0: number,
  outStride: number,
  bounds: { u0: number; v0: number; u1: number; v1: number },
): void {
  const { centerPx, radiusPx } = design.frame;
  const { gradient, gradientAngleRad, vignette } = design.illumination;
  const gx = (gradient * Math.cos(gradientAngleRad)) / radiusPx;
  const gy = (gradient * Math.sin(gradientAngleRad)) / radiusPx;
  const vig = vignette / (radiusPx * radiusPx);
  const chuck = design.chuckLevel;
  const waferLevel = design.waferLevel;
  const cell =
    design.pattern && template ? pixelToCellAffine(design.frame, design.pattern.grid) : null;
  const tw = template?.width ?? 1;
  const th = template?.height ?? 1;
  const tdata = template?.data ?? new Float32Array(1);
  const artefacts = design.artefacts;
  const reticle = artefacts?.reticle;
  const pattern = design.pattern;
  for (let v = bounds.v0; v <= bounds.v1; v++) {
    const dy = v - centerPx.y;
    const rowGain = 1 + gy * dy + vignette * 0.5 - vig * dy * dy;
    const covRow = (v - coverage.y0) * coverage.stride - coverage.x0;
    const outRow = (v - outY0) * outStride - outX0;
    for (let u = bounds.u0; u <= bounds.u1; u++) {
      const dx = u - centerPx.x;
      const gain = rowGain + gx * dx - vig * dx * dx;
      const c = coverage.data[covRow + u] ?? 0;
      let surface = waferLevel;
      if (cell !== null && c > 0) {
        const cellX = cell.ax * u + cell.bx * v + cell.cx;
        const cellY = cell.ay * u + cell.by * v + cell.cy;
        const tx = (cellX - Math.floor(cellX)) * tw - 0.5;
        const ty = (cellY - Math.floor(cellY)) * th - 0.5;
        const ix = Math.floor(tx);
        const iy = Math.floor(ty);
        const fx = tx - ix;
        const fy = ty - iy;
        const x0 = ix < 0 ? ix + tw : ix;
        const x1 = ix + 1 >= tw ? ix + 1 - tw : ix + 1;
        const y0 = (iy < 0 ? iy + th : iy) * tw;
        const y1 = (iy + 1 >= th ? iy + 1 - th : iy + 1) * tw;
        const top = (tdata[y0 + x0] ?? 0) * (1 - fx) + (tdata[y0 + x1] ?? 0) * fx;
        const bottom = (tdata[y1 + x0] ?? 0) * (1 - fx) + (tdata[y1 + x1] ?? 0) * fx;
        surface = top * (1 - fy) + bottom * fy;
      }
      if (artefacts) {
        if (reticle && cell !== null && c > 0) surface *= reticleGain(reticle, pattern, cell, u, v);
        out[outRow + u] = (surface * c + chuck * (1 - c)) * gain * frameVignetteGain(design, u, v);
        continue;
      }
      out[outRow + u] = (surface * c + chuck * (1 - c)) * gain;
    }
  }
}

/**
 * Reticle fields: dies at each position of a field differ slightly in level, and the streets on
 * field boundaries are a little darker than the others.
 */
function reticleGain(
  reticle: NonNullable<NonNullable<WaferDesign["artefacts"]>["reticle"]>,
  pattern: PatternDesign | null,
  cell: ReturnType<typeof pixelToCellAffine>,
  u: number,
  v: number,
): number {
  if (!pattern) return 1;
  const cellX = cell.ax * u + cell.bx * v + cell.cx;
  const cellY = cell.ay * u + cell.by * v + cell.cy;
  const col = Math.floor(cellX);
  const row = Math.floor(cellY);
  const fx = reticle.fieldDies.x;
  const fy = reticle.fieldDies.y;
  const inX = ((col % fx) + fx) % fx;
  const inY = ((row % fy) + fy) % fy;
  const fracX = cellX - col;
  const fracY = cellY - row;
  const halfX = pattern.streetFraction.x / 2;
  const halfY = pattern.streetFraction.y / 2;
  const boundaryX = (fracX < halfX && inX === 0) || (fracX > 1 - halfX && inX === fx - 1);
  const boundaryY = (fracY < halfY && inY === 0) || (fracY > 1 - halfY && inY === fy - 1);
  const gain = 1 + (reticle.dieGain[inY]?.[inX] ?? 0);
  return boundaryX || boundaryY ? gain * (1 - reticle.boundaryDarkening) : gain;
}

/** Rounds for truth.json: readable numbers, far finer than any pixel or millimetre matters. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Box, centroid and area of the pixels where |values| reaches VISIBLE_SHARE of the peak. */
function measureExtent(patch: Patch, values: Float32Array) {
  let peak = 0;
  for (const value of values) peak = Math.max(peak, Math.abs(value));
  const cut = peak * VISIBLE_SHARE;
  let minI = Number.POSITIVE_INFINITY;
  let minJ = Number.POSITIVE_INFINITY;
  let maxI = -1;
  let maxJ = -1;
  let weight = 0;
  let sumU = 0;
  let sumV = 0;
  let area = 0;
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      const w = Math.abs(values[j * patch.width + i] ?? 0);
      if (w < cut || w === 0) continue;
      minI = Math.min(minI, i);
      maxI = Math.max(maxI, i);
      minJ = Math.min(minJ, j);
      maxJ = Math.max(maxJ, j);
      weight += w;
      sumU += w * (patch.x0 + i);
      sumV += w * (patch.y0 + j);
      area++;
    }
  }
  if (maxI < 0) return null;
  return {
    bbox: {
      x: patch.x0 + minI,
      y: patch.y0 + minJ,
      width: maxI - minI + 1,
      height: maxJ - minJ + 1,
    },
    centroid: { x: sumU / weight, y: sumV / weight },
    area,
  };
}

function truthFor(
  design: WaferDesign,
  kind: TruthDefect["class"],
  patch: Patch,
  values: Float32Array,
  contrast: number,
): TruthDefect | null {
  const extent = measureExtent(patch, values);
  if (!extent) return null;
  const mm = pixelToWaferMm(design.frame, extent.centroid.x, extent.centroid.y);
  return {
    class: kind,
    bbox: extent.bbox,
    centroidPx: { x: round(extent.centroid.x, 2), y: round(extent.centroid.y, 2) },
    waferMm: { x: round(mm.x, 3), y: round(mm.y, 3) },
    die: design.pattern ? dieAt(design.pattern.grid, mm) : null,
    contrast: round(contrast, 5),
  };
}

export function renderWafer(design: WaferDesign): RenderedWafer {
  const { width, height } = design;
  const fullScale = design.bitDepth === 16 ? 65535 : 255;
  const effectiveNoiseSigma = Math.sqrt(design.noiseSigma ** 2 + 1 / (12 * fullScale * fullScale));
  const coverage = diskCoverage(design);
  cutNotch(design, coverage);

  const pattern = design.pattern;
  const pitchPx = pattern
    ? {
        x: pattern.grid.pitchMm.x / (design.frame.diameterMm / (2 * design.frame.radiusPx)),
        y: pattern.grid.pitchMm.y / (design.frame.diameterMm / (2 * design.frame.radiusPx)),
      }
    : null;
  const template = pattern && pitchPx ? buildDieTemplate(pattern, pitchPx) : null;

  // Edge chips change the wafer outline, so they are cut before the frame is composed.
  const chips: Array<{ patch: Patch; before: Float32Array }> = [];
  for (const defect of design.defects) {
    if (defect.shape.kind !== "edge_chip") continue;
    const patch = defectMask(defect.shape, width, height);
    const before = new Float32Array(patch.width * patch.height);
    for (let j = 0; j < patch.height; j++) {
      for (let i = 0; i < patch.width; i++) {
        const k = (patch.y0 + j) * width + patch.x0 + i;
        const c = coverage[k] ?? 0;
        before[j * patch.width + i] = c;
        coverage[k] = c * (1 - (patch.data[j * patch.width + i] ?? 0));
      }
    }
    chips.push({ patch, before });
  }

  const level = new Float32Array(width * height);
  const full = { u0: 0, v0: 0, u1: width - 1, v1: height - 1 };
  composeRegion(
    design,
    { data: coverage, x0: 0, y0: 0, stride: width },
    template,
    level,
    0,
    0,
    width,
    full,
  );

  const defects: TruthDefect[] = [];
  let chipIndex = 0;
  const blurPx = design.artefacts?.blurPx ?? 0;
  for (const defect of design.defects) {
    if (defect.shape.kind === "edge_chip") {
      const chip = chips[chipIndex++];
      if (!chip) continue;
      const { patch, before } = chip;
      const unchipped = new Float32Array(patch.width * patch.height);
      const bounds = {
        u0: patch.x0,
        v0: patch.y0,
        u1: patch.x0 + patch.width - 1,
        v1: patch.y0 + patch.height - 1,
      };
      composeRegion(
        design,
        { data: before, x0: patch.x0, y0: patch.y0, stride: patch.width },
        template,
        unchipped,
        patch.x0,
        patch.y0,
        patch.width,
        bounds,
      );
      const delta = new Float32Array(patch.width * patch.height);
      let peak = 0;
      for (let j = 0; j < patch.height; j++) {
        for (let i = 0; i < patch.width; i++) {
          const k = j * patch.width + i;
          const d = (level[(patch.y0 + j) * width + patch.x0 + i] ?? 0) - (unchipped[k] ?? 0);
          delta[k] = d;
          if (Math.abs(d) > Math.abs(peak)) peak = d;
        }
      }
      const truth = truthFor(design, "edge_chip", patch, delta, peak);
      if (truth) defects.push(truth);
      continue;
    }
    const patch = defectMask(defect.shape, width, height);
    let backgroundMin = Number.POSITIVE_INFINITY;
    let backgroundMax = 0;
    for (let j = 0; j < patch.height; j++) {
      for (let i = 0; i < patch.width; i++) {
        if ((patch.data[j * patch.width + i] ?? 0) < VISIBLE_SHARE) continue;
        const b = level[(patch.y0 + j) * width + patch.x0 + i] ?? 0;
        backgroundMin = Math.min(backgroundMin, b);
        backgroundMax = Math.max(backgroundMax, b);
      }
    }
    if (backgroundMax === 0) continue;
    // The spec's detectability rule, taken against the brightest local level to be safe.
    const threshold = Math.max(5 * effectiveNoiseSigma, 0.04 * backgroundMax);
    let magnitude = threshold * defect.contrastFactor;
    const headroomBright = 1 - CLIP_MARGIN - 3 * design.noiseSigma - backgroundMax;
    const headroomDark = backgroundMin - CLIP_MARGIN - 3 * design.noiseSigma;
    let bright = defect.preferBright;
    if (bright && magnitude > headroomBright && headroomDark >= magnitude) bright = false;
    else if (!bright && magnitude > headroomDark && headroomBright >= magnitude) bright = true;
    const headroom = bright ? headroomBright : headroomDark;
    if (magnitude > headroom) magnitude = Math.max(threshold * 1.1, headroom);
    // A camera blur in spec lowers a small defect's peak: draw it stronger so the peak seen is the one recorded.
    const attenuation = blurPx > 0 ? blurAttenuation(patch, blurPx) : 1;
    const contrast = bright ? magnitude : -magnitude;
    const drawn = contrast / attenuation;
    const values = new Float32Array(patch.data.length);
    for (let j = 0; j < patch.height; j++) {
      for (let i = 0; i < patch.width; i++) {
        const k = j * patch.width + i;
        const d = (patch.data[k] ?? 0) * contrast;
        values[k] = d;
        const target = (patch.y0 + j) * width + patch.x0 + i;
        level[target] =
          (level[target] ?? 0) + (attenuation === 1 ? d : (patch.data[k] ?? 0) * drawn);
      }
    }
    const truth = truthFor(design, defect.shape.kind, patch, values, contrast);
    if (truth) defects.push(truth);
  }

  let final: Float32Array = level;
  const spec = design.outOfSpec;
  if (blurPx > 0) final = gaussianBlur(final, width, height, blurPx);
  if (spec) final = outOfSpecLevels(design, final);
  const pixels = quantise(design, final, fullScale);
  return {
    pixels,
    defects: spec?.kind === "noise" || spec?.kind === "checkerboard" ? [] : defects,
    effectiveNoiseSigma,
  };
}

/** Renders, then adds what happens after the sensor's read-out: here, hot and dead pixels. */
export function renderWithFaults(design: WaferDesign): RenderedWafer {
  const rendered = renderWafer(design);
  applyHotPixels(design, rendered.pixels);
  return rendered;
}

/** The image an out-of-spec camera would give instead of `level`. */
function outOfSpecLevels(design: WaferDesign, level: Float32Array): Float32Array {
  const spec = design.outOfSpec;
  if (!spec) return level;
  const replaced = nonWaferLevels(design, spec);
  if (replaced) return replaced;
  switch (spec.kind) {
    case "defocus":
      return gaussianBlur(level, design.width, design.height, spec.amount);
    case "overexposed": {
      // The wafer ends up well above full scale.
      const gain = (spec.amount * 0.6) / design.waferLevel;
      return level.map((v) => v * gain);
    }
    case "underexposed": {
      const floor = design.waferLevel * 0.8;
      return level.map((v) => (v - floor) * spec.amount);
    }
    default:
      return level;
  }
}

/** Peak of the defect's mask after the camera blur (the mask's own peak is 1). */
function blurAttenuation(patch: Patch, sigma: number): number {
  const pad = Math.ceil(3 * sigma) + 1;
  const width = patch.width + 2 * pad;
  const height = patch.height + 2 * pad;
  const padded = new Float32Array(width * height);
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      padded[(j + pad) * width + i + pad] = patch.data[j * patch.width + i] ?? 0;
    }
  }
  let peak = 0;
  for (const v of gaussianBlur(padded, width, height, sigma)) peak = Math.max(peak, v);
  return Math.max(0.05, Math.min(1, peak));
}

/** Adds Gaussian sensor noise and rounds to the output bit depth. */
export function quantise(
  design: WaferDesign,
  level: Float32Array,
  fullScale: number,
): Uint8Array | Uint16Array {
  // A table of normals indexed by a fast integer hash keeps noise at a few ns per pixel. Each pixel sums two
  // independent draws, scaled by 1/sqrt(2): one table alone repeats its 65,536 values about 64 times over a
  // 2048 px frame, so its single deepest entry (about -5 sigma) came back as a cluster of equally deep pixels
  // that the detector rightly calls a particle (docs/detector-recall.md round 27, B). A sum of two draws has
  // 2^32 values and the same Gaussian law.
  const tableBits = 16;
  const table = new Float32Array(1 << tableBits);
  const random = new Random(design.noiseSeed);
  const sigma = (design.noiseSigma * fullScale) / Math.SQRT2;
  for (let k = 0; k < table.length; k++) table[k] = random.normal() * sigma;
  let state = (design.noiseSeed | 1) >>> 0 || 1;
  const pixels = fullScale === 255 ? new Uint8Array(level.length) : new Uint16Array(level.length);
  const shift = 32 - tableBits;
  const correlation = design.artefacts?.noiseCorrelationPx;
  if (correlation !== undefined) {
    // Spatially correlated noise at the same per-pixel sigma: white noise, blurred, rescaled.
    const white = new Float32Array(level.length);
    for (let k = 0; k < level.length; k++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const first = table[(state >>> shift) & 0xffff] ?? 0;
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      white[k] = first + (table[(state >>> shift) & 0xffff] ?? 0);
    }
    const kernelSigma = correlation / 2;
    const gain = 1 / gaussianNoiseGain(kernelSigma);
    const noise = gaussianBlur(white, design.width, design.height, kernelSigma);
    for (let k = 0; k < level.length; k++) {
      const value = (level[k] ?? 0) * fullScale + (noise[k] ?? 0) * gain + 0.5;
      pixels[k] = value <= 0 ? 0 : Math.min(value, fullScale);
    }
    return pixels;
  }
  for (let k = 0; k < level.length; k++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const first = table[(state >>> shift) & 0xffff] ?? 0;
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value =
      (level[k] ?? 0) * fullScale + first + (table[(state >>> shift) & 0xffff] ?? 0) + 0.5;
    pixels[k] = value <= 0 ? 0 : Math.min(value, fullScale);
  }
  return pixels;
}
