// What real cameras and processes add (docs/wafer-images.md), as seeded knobs, and images outside the spec.
import sharp from "sharp";
import type { WaferDesign } from "./design.ts";
import { type Random, streamFor } from "./random.ts";

/** Every artefact of the spec's "What real cameras and processes add", one knob each. */
export const ARTEFACT_KINDS = [
  "hot_pixels",
  "correlated_noise",
  "blur",
  "jpeg",
  "frame_vignetting",
  "out_of_round",
  "frame_clip",
  "die_aspect",
  "dark_streets",
  "reticle",
  "soft_void_rim",
] as const;
export type ArtefactKind = (typeof ARTEFACT_KINDS)[number];

/** Images the spec calls unusable: not a wafer, or noise, blur or exposure clearly out of range. */
export const OUT_OF_SPEC_KINDS = [
  "noise",
  "checkerboard",
  "defocus",
  "overexposed",
  "underexposed",
  "noisy",
] as const;
export type OutOfSpecKind = (typeof OUT_OF_SPEC_KINDS)[number];

/** Artefacts that only exist on patterned wafers. */
export const PATTERN_ARTEFACTS: readonly ArtefactKind[] = ["die_aspect", "dark_streets", "reticle"];

/** Drawn strengths of one wafer's artefacts, in image pixels and fractions of full scale. */
export interface ArtefactDesign {
  kinds: ArtefactKind[];
  hotPixels?: number;
  /**
   * Correlation length (px) of the sensor noise: the distance at which its autocorrelation falls
   * to 1/e. White noise blurred by a Gaussian of sigma L/2 has exactly that; its sigma is kept.
   */
  noiseCorrelationPx?: number;
  /** Gaussian blur sigma in image px. */
  blurPx?: number;
  jpegQuality?: number;
  /** cos^4 vignetting centred on the frame: gain 1 + a at the centre, 1 - a at the shorter side's edge. */
  frameVignette?: number;
  /** Minor / major axis of the wafer outline, and the major axis' angle. */
  axisRatio?: number;
  axisAngleRad?: number;
  /** Void rims soft over this many image px. */
  voidRimSoftnessPx?: number;
  reticle?: {
    fieldDies: { x: number; y: number };
    /** Gain - 1 of each die position in a field, [row][col]. */
    dieGain: number[][];
    /** Field-boundary streets are this much darker (fraction of their level). */
    boundaryDarkening: number;
  };
}

export interface OutOfSpecDesign {
  kind: OutOfSpecKind;
  /** noise / noisy: sigma; defocus: blur sigma px; over/underexposed: gain; checkerboard: square px. */
  amount: number;
  seed: number;
}

/** Draws the strength of each requested artefact within the spec's ranges (scale = shorter / 2048). */
export function drawArtefacts(
  random: Random,
  kinds: readonly ArtefactKind[],
  scale: number,
  patterned: boolean,
): ArtefactDesign {
  const applied = kinds.filter((k) => patterned || !PATTERN_ARTEFACTS.includes(k));
  const design: ArtefactDesign = { kinds: applied };
  for (const kind of applied) {
    switch (kind) {
      case "hot_pixels":
        design.hotPixels = random.int(1, 50);
        break;
      case "correlated_noise":
        design.noiseCorrelationPx = random.uniform(0.5, 1);
        break;
      case "blur":
        design.blurPx = random.uniform(0.4, 1) * scale;
        break;
      case "jpeg":
        design.jpegQuality = random.int(85, 95);
        break;
      case "frame_vignetting":
        design.frameVignette = random.uniform(0.04, 0.12);
        break;
      case "out_of_round":
        design.axisRatio = random.uniform(0.993, 0.998);
        design.axisAngleRad = random.uniform(0, Math.PI);
        break;
      case "soft_void_rim":
        design.voidRimSoftnessPx = Math.max(1, random.uniform(2, 5) * scale);
        break;
      case "reticle": {
        const fx = random.int(2, 3);
        const fy = random.int(2, 3);
        design.reticle = {
          fieldDies: { x: fx, y: fy },
          dieGain: Array.from({ length: fy }, () =>
            Array.from({ length: fx }, () => random.uniform(-0.0075, 0.0075)),
          ),
          boundaryDarkening: random.uniform(0.01, 0.03),
        };
        break;
      }
      // Applied where the wafer is planned (frame, pitch and streets), not when rendering.
      case "frame_clip":
      case "die_aspect":
      case "dark_streets":
        break;
    }
  }
  return design;
}

/** Which artefacts a wafer gets: all that were asked for, and each of the mix with its probability. */
export function chooseArtefacts(
  seed: number,
  index: number,
  fixed: readonly ArtefactKind[],
  mix: number,
): ArtefactKind[] {
  const random = streamFor(seed, index, "artefact-choice");
  const chosen = new Set(fixed);
  if (mix > 0) for (const kind of ARTEFACT_KINDS) if (random.chance(mix)) chosen.add(kind);
  return ARTEFACT_KINDS.filter((k) => chosen.has(k));
}

/** Outline radius of a slightly elliptical wafer along image angle `angle` (radians). */
export function rimRadiusAt(
  design: Pick<WaferDesign, "frame" | "artefacts">,
  angle: number,
): number {
  const ratio = design.artefacts?.axisRatio;
  if (ratio === undefined) return design.frame.radiusPx;
  const phi = angle - (design.artefacts?.axisAngleRad ?? 0);
  const c = Math.cos(phi);
  const s = Math.sin(phi) / ratio;
  return design.frame.radiusPx / Math.sqrt(c * c + s * s);
}

/** Separable Gaussian blur with edges replicated; returns a new array. */
export function gaussianBlur(
  data: Float32Array,
  width: number,
  height: number,
  sigma: number,
): Float32Array {
  if (sigma <= 0) return data.slice();
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp((-k * k) / (2 * sigma * sigma));
    kernel[k + radius] = w;
    total += w;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] = (kernel[k] as number) / total;
  const across = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = x + k < 0 ? 0 : x + k >= width ? width - 1 : x + k;
        sum += (kernel[k + radius] as number) * (data[row + xx] as number);
      }
      across[row + x] = sum;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = y + k < 0 ? 0 : y + k >= height ? height - 1 : y + k;
        sum += (kernel[k + radius] as number) * (across[yy * width + x] as number);
      }
      out[y * width + x] = sum;
    }
  }
  return out;
}

/** Noise variance kept by a normalised Gaussian of this sigma (sum of squared weights, 2-D). */
export function gaussianNoiseGain(sigma: number): number {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  let total = 0;
  let squares = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp((-k * k) / (2 * sigma * sigma));
    total += w;
    squares += w * w;
  }
  const oneD = squares / (total * total);
  return Math.sqrt(oneD * oneD);
}

/** Frame-centred cos^4 vignetting gain at pixel (u, v). */
export function frameVignetteGain(design: WaferDesign, u: number, v: number): number {
  const amplitude = design.artefacts?.frameVignette;
  if (amplitude === undefined) return 1;
  const half = Math.min(design.width, design.height) / 2;
  // cos^4(atan(r/f)) = 1 / (1 + (r/f)^2)^2; f puts (1-a)/(1+a) at the shorter side's edge.
  const edge = (1 - amplitude) / (1 + amplitude);
  const f2 = (half * half) / (1 / Math.sqrt(edge) - 1);
  const dx = u - (design.width - 1) / 2;
  const dy = v - (design.height - 1) / 2;
  const q = 1 + (dx * dx + dy * dy) / f2;
  return (1 + amplitude) / (q * q);
}

/** Stuck-high (hot) or dead pixels, kept apart so each stays a single-pixel outlier. */
export function applyHotPixels(design: WaferDesign, pixels: Uint8Array | Uint16Array): void {
  const count = design.artefacts?.hotPixels ?? 0;
  if (count === 0) return;
  const random = streamFor(design.noiseSeed, 0, "hot-pixels");
  const full = design.bitDepth === 16 ? 65535 : 255;
  const { width, height } = design;
  const { centerPx, radiusPx } = design.frame;
  const placed: Array<[number, number]> = [];
  for (let attempt = 0; placed.length < count && attempt < count * 20; attempt++) {
    // Mostly on the wafer, where they could be taken for particles.
    const r = radiusPx * 0.97 * Math.sqrt(random.next());
    const a = random.uniform(0, 2 * Math.PI);
    const u = Math.round(centerPx.x + r * Math.cos(a));
    const v = Math.round(centerPx.y + r * Math.sin(a));
    if (u < 2 || v < 2 || u >= width - 2 || v >= height - 2) continue;
    if (placed.some(([pu, pv]) => Math.abs(pu - u) < 4 && Math.abs(pv - v) < 4)) continue;
    placed.push([u, v]);
    const k = v * width + u;
    const level = (pixels[k] as number) / full;
    const hot = random.chance(0.7);
    const value = hot
      ? Math.min(1, level + random.uniform(0.25, 0.6))
      : random.uniform(0, Math.min(0.03, Math.max(0, level - 0.25)));
    pixels[k] = Math.round(value * full);
  }
}

/** One pass through JPEG at the given quality, as a camera that saves JPEG first would leave it. */
export async function jpegPass(
  design: WaferDesign,
  pixels: Uint8Array | Uint16Array,
): Promise<Uint8Array | Uint16Array> {
  const quality = design.artefacts?.jpegQuality;
  if (quality === undefined) return pixels;
  const eight =
    pixels instanceof Uint8Array ? pixels : Uint8Array.from(pixels, (v) => Math.round(v / 257));
  const jpeg = await sharp(eight, {
    raw: { width: design.width, height: design.height, channels: 1 },
  })
    .jpeg({ quality, chromaSubsampling: "4:4:4" })
    .toBuffer();
  const { data } = await sharp(jpeg).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  if (pixels instanceof Uint8Array)
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  return Uint16Array.from(data, (v) => v * 257);
}

/** Levels (fractions of full scale) of an image with no wafer at all: noise or a checkerboard. */
export function nonWaferLevels(design: WaferDesign, spec: OutOfSpecDesign): Float32Array | null {
  const { width, height } = design;
  const level = new Float32Array(width * height);
  const random = streamFor(spec.seed, 0, "out-of-spec");
  if (spec.kind === "noise") {
    for (let k = 0; k < level.length; k++) level[k] = 0.5 + spec.amount * random.normal();
    return level;
  }
  if (spec.kind === "checkerboard") {
    const low = random.uniform(0.1, 0.35);
    const high = random.uniform(0.6, 0.9);
    const phaseX = random.uniform(0, spec.amount);
    const phaseY = random.uniform(0, spec.amount);
    for (let v = 0; v < height; v++) {
      const row = Math.floor((v + phaseY) / spec.amount);
      for (let u = 0; u < width; u++) {
        const col = Math.floor((u + phaseX) / spec.amount);
        level[v * width + u] = (row + col) % 2 === 0 ? high : low;
      }
    }
    return level;
  }
  return null;
}

/** Draws one out-of-spec image's kind and amount (scale = shorter / 2048). */
export function drawOutOfSpec(random: Random, kind: OutOfSpecKind, scale: number): OutOfSpecDesign {
  const seed = random.nextUint32();
  switch (kind) {
    case "noise":
      return { kind, amount: random.uniform(0.1, 0.25), seed };
    case "checkerboard":
      return { kind, amount: Math.round(2048 * scale * random.uniform(0.04, 0.15)), seed };
    case "defocus":
      return { kind, amount: random.uniform(8, 24) * scale, seed };
    case "overexposed":
      return { kind, amount: random.uniform(1.8, 3), seed };
    case "underexposed":
      return { kind, amount: random.uniform(0.02, 0.06), seed };
    case "noisy":
      return { kind, amount: random.uniform(0.05, 0.1), seed };
  }
}
