// Public entry points of the synthetic wafer generator: one wafer from a seed, or whole lots on disk.
import sharp from "sharp";
import type { Point } from "../schemas/common.ts";
import type { TruthWafer } from "../schemas/truth.ts";
import {
  ARTEFACT_KINDS,
  type ArtefactKind,
  applyHotPixels,
  jpegPass,
  OUT_OF_SPEC_KINDS,
  type OutOfSpecKind,
} from "./artefacts.ts";
import { SYNTH_DEFECT_CLASSES, type SynthDefectClass, type WaferDesign } from "./design.ts";
import { SynthOptionsError, SynthOutputError } from "./errors.ts";
import { type PlanOptions, planWafer } from "./plan.ts";
import { renderWafer, renderWithFaults, round } from "./render.ts";

export const GENERATOR_NAME = "waferflow-synth";
export const GENERATOR_VERSION = "1";
export const MIN_SIDE = 512;
export const MAX_SIDE = 8192;

export interface WaferOptions {
  /** Side of a square frame in px (512-8192); default 1024. */
  size?: number;
  /** Pick each wafer's side from these instead (e.g. [1024, 2048, 4096]). */
  sizes?: number[];
  bitDepth?: 8 | 16;
  format?: "png" | "tiff";
  surface?: "bare" | "patterned";
  /** Classes to draw from; when given, the first defects go through them in order. */
  defectClasses?: SynthDefectClass[];
  /** true: no defects; false: always defects; unset: clean with probability cleanFraction. */
  clean?: boolean;
  /** Default 0.25. */
  cleanFraction?: number;
  diameterMm?: 200 | 300;
  notchAngleDeg?: number;
  /** Exact number of defects on a defective wafer (1-6 drawn when unset). */
  defectCount?: number;
  /** Die pitch in mm on patterned wafers (drawn when unset). */
  diePitchMm?: Point;
  /** Seeds the die layout so wafers of one product share it. */
  patternSeed?: number;
  /** Lowest contrast as a multiple of the detection threshold (default 1.25; max is 4.5). */
  minContrastFactor?: number;
  /** Write neutral RGB instead of grayscale (the spec accepts colour files as luminance). */
  colour?: boolean;
  /** Spend more CPU for about 10% smaller PNGs (committed fixtures). */
  compactPng?: boolean;
  /** Exact frame width and height, overriding size/sizes (nearly square frames). */
  frame?: { width: number; height: number };
  /** Camera and process artefacts every wafer gets (docs/wafer-images.md); default none. */
  artefacts?: ArtefactKind[];
  /** Probability (0-1) with which each artefact is added to a wafer; default 0. */
  artefactMix?: number;
  /** Make every image this kind of out-of-spec image (truth: expected unusable). */
  outOfSpec?: OutOfSpecKind;
  /** Probability (0-1) that an image is out of spec, of a random kind; default 0. */
  outOfSpecFraction?: number;
}

export interface GeneratedWafer {
  fileName: string;
  bytes: Buffer;
  truth: TruthWafer;
}

const DEFAULT_CLEAN_FRACTION = 0.25;
const MAX_CONTRAST_FACTOR = 4.5;

function checkSide(value: number, what: string): void {
  if (!Number.isInteger(value) || value < MIN_SIDE || value > MAX_SIDE) {
    throw new SynthOptionsError(
      `${what} must be an integer from ${MIN_SIDE} to ${MAX_SIDE} px, got ${value}`,
    );
  }
}

/** Checks options against the input spec and fills defaults, naming the first bad field. */
export function planOptionsFrom(options: WaferOptions): PlanOptions {
  if (options.size !== undefined) checkSide(options.size, "size");
  for (const side of options.sizes ?? []) checkSide(side, "each of sizes");
  if (options.frame) {
    checkSide(options.frame.width, "frame.width");
    checkSide(options.frame.height, "frame.height");
  }
  if (options.bitDepth !== undefined && options.bitDepth !== 8 && options.bitDepth !== 16) {
    throw new SynthOptionsError(`bitDepth must be 8 or 16, got ${options.bitDepth}`);
  }
  if (options.format !== undefined && options.format !== "png" && options.format !== "tiff") {
    throw new SynthOptionsError(`format must be 'png' or 'tiff', got '${options.format}'`);
  }
  if (
    options.surface !== undefined &&
    options.surface !== "bare" &&
    options.surface !== "patterned"
  ) {
    throw new SynthOptionsError(`surface must be 'bare' or 'patterned', got '${options.surface}'`);
  }
  for (const kind of options.defectClasses ?? []) {
    if (!SYNTH_DEFECT_CLASSES.includes(kind)) {
      throw new SynthOptionsError(
        `defectClasses: '${kind}' is not one of ${SYNTH_DEFECT_CLASSES.join(", ")}`,
      );
    }
  }
  const cleanFraction = options.cleanFraction ?? DEFAULT_CLEAN_FRACTION;
  if (!(cleanFraction >= 0 && cleanFraction <= 1)) {
    throw new SynthOptionsError(
      `cleanFraction must be between 0 and 1, got ${options.cleanFraction}`,
    );
  }
  if (
    options.diameterMm !== undefined &&
    options.diameterMm !== 200 &&
    options.diameterMm !== 300
  ) {
    throw new SynthOptionsError(`diameterMm must be 200 or 300, got ${options.diameterMm}`);
  }
  if (
    options.notchAngleDeg !== undefined &&
    !(
      Number.isFinite(options.notchAngleDeg) &&
      options.notchAngleDeg >= 0 &&
      options.notchAngleDeg < 360
    )
  ) {
    throw new SynthOptionsError(`notchAngleDeg must be in [0, 360), got ${options.notchAngleDeg}`);
  }
  if (
    options.defectCount !== undefined &&
    !(
      Number.isInteger(options.defectCount) &&
      options.defectCount >= 1 &&
      options.defectCount <= 12
    )
  ) {
    throw new SynthOptionsError(
      `defectCount must be an integer from 1 to 12, got ${options.defectCount}`,
    );
  }
  const minContrastFactor = options.minContrastFactor ?? 1.25;
  if (!(minContrastFactor >= 1.05 && minContrastFactor <= MAX_CONTRAST_FACTOR)) {
    throw new SynthOptionsError(
      `minContrastFactor must be from 1.05 to ${MAX_CONTRAST_FACTOR}, got ${options.minContrastFactor}`,
    );
  }
  for (const kind of options.artefacts ?? []) {
    if (!ARTEFACT_KINDS.includes(kind)) {
      throw new SynthOptionsError(
        `artefacts: '${kind}' is not one of ${ARTEFACT_KINDS.join(", ")}`,
      );
    }
  }
  if (options.outOfSpec !== undefined && !OUT_OF_SPEC_KINDS.includes(options.outOfSpec)) {
    throw new SynthOptionsError(
      `outOfSpec: '${options.outOfSpec}' is not one of ${OUT_OF_SPEC_KINDS.join(", ")}`,
    );
  }
  for (const [name, value] of [
    ["artefactMix", options.artefactMix],
    ["outOfSpecFraction", options.outOfSpecFraction],
  ] as const) {
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new SynthOptionsError(`${name} must be between 0 and 1, got ${value}`);
    }
  }
  const diameter = options.diameterMm ?? 300;
  if (options.diePitchMm) {
    for (const axis of ["x", "y"] as const) {
      const pitch = options.diePitchMm[axis];
      if (!(pitch >= 0.02 * diameter && pitch <= 0.1 * diameter)) {
        throw new SynthOptionsError(
          `diePitchMm.${axis} must be 2-10% of the ${diameter} mm diameter, got ${pitch}`,
        );
      }
    }
  }
  const plan: PlanOptions = {
    cleanFraction,
    minDefects: options.defectCount ?? 1,
    maxDefects: options.defectCount ?? 6,
    contrastFactor: [minContrastFactor, Math.max(minContrastFactor * 1.2, MAX_CONTRAST_FACTOR)],
  };
  if (options.frame) {
    plan.width = options.frame.width;
    plan.height = options.frame.height;
  } else if (options.sizes?.length) plan.sizes = options.sizes;
  else plan.width = options.size ?? 1024;
  if (options.bitDepth !== undefined) plan.bitDepth = options.bitDepth;
  if (options.format !== undefined) plan.format = options.format;
  if (options.surface !== undefined) plan.surface = options.surface;
  if (options.defectClasses?.length) plan.defectClasses = options.defectClasses;
  if (options.clean !== undefined) plan.clean = options.clean;
  if (options.diameterMm !== undefined) plan.diameterMm = options.diameterMm;
  if (options.notchAngleDeg !== undefined) plan.notchAngleDeg = options.notchAngleDeg;
  if (options.diePitchMm !== undefined) plan.diePitchMm = options.diePitchMm;
  if (options.patternSeed !== undefined) plan.patternSeed = options.patternSeed;
  if (options.artefacts?.length) plan.artefacts = options.artefacts;
  if (options.artefactMix) plan.artefactMix = options.artefactMix;
  if (options.outOfSpec !== undefined) plan.outOfSpec = options.outOfSpec;
  if (options.outOfSpecFraction) plan.outOfSpecFraction = options.outOfSpecFraction;
  return plan;
}

export function waferFileName(index: number, format: "png" | "tiff"): string {
  return `wafer-${String(index + 1).padStart(3, "0")}.${format === "png" ? "png" : "tif"}`;
}

async function encode(
  design: WaferDesign,
  pixels: Uint8Array | Uint16Array,
  compactPng: boolean,
  colour: boolean,
): Promise<Buffer> {
  try {
    const image = sharp(pixels, {
      raw: { width: design.width, height: design.height, channels: 1 },
      limitInputPixels: false,
    }).toColourspace(
      colour
        ? design.bitDepth === 16
          ? "rgb16"
          : "srgb"
        : design.bitDepth === 16
          ? "grey16"
          : "b-w",
    );
    return design.format === "png"
      ? await image
          .png(
            compactPng ? { compressionLevel: 9, adaptiveFiltering: true } : { compressionLevel: 6 },
          )
          .toBuffer()
      : await image.tiff({ compression: "lzw" }).toBuffer();
  } catch (cause) {
    throw new SynthOutputError(
      `encoding a ${design.width}x${design.height} ${design.format} failed`,
      {
        cause,
      },
    );
  }
}

/** Renders the design and returns its pixels untouched by any encoder (for tests and benchmarks). */
export function renderDesign(design: WaferDesign) {
  return renderWithFaults(design);
}

export function designWafer(seed: number, index: number, options: WaferOptions = {}): WaferDesign {
  if (!Number.isSafeInteger(seed))
    throw new SynthOptionsError(`seed must be an integer, got ${seed}`);
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new SynthOptionsError(`index must be a non-negative integer, got ${index}`);
  }
  return planWafer(seed, index, planOptionsFrom(options));
}

export async function generateWafer(
  seed: number,
  index: number,
  options: WaferOptions = {},
): Promise<GeneratedWafer> {
  const design = designWafer(seed, index, options);
  const rendered = renderWafer(design);
  // After the sensor: a JPEG pass (if any), then hot and dead pixels, which stay single pixels.
  const pixels = await jpegPass(design, rendered.pixels);
  applyHotPixels(design, pixels);
  const fileName = waferFileName(index, design.format);
  const scale = design.frame.diameterMm / (2 * design.frame.radiusPx);
  const truth: TruthWafer = {
    fileName,
    width: design.width,
    height: design.height,
    bitDepth: design.bitDepth,
    format: design.format,
    surface: design.pattern ? "patterned" : "bare",
    diameterMm: design.frame.diameterMm === 200 ? 200 : 300,
    centerPx: { x: round(design.frame.centerPx.x, 3), y: round(design.frame.centerPx.y, 3) },
    radiusPx: round(design.frame.radiusPx, 3),
    notchAngleDeg: design.frame.notchAngleDeg,
    diePitchPx: design.pattern
      ? {
          x: round(design.pattern.grid.pitchMm.x / scale, 3),
          y: round(design.pattern.grid.pitchMm.y / scale, 3),
        }
      : null,
    noiseSigma: round(rendered.effectiveNoiseSigma, 6),
    defects: rendered.defects,
  };
  if (design.artefacts?.kinds.length) truth.artefacts = [...design.artefacts.kinds];
  if (design.outOfSpec) {
    truth.expected = "unusable";
    truth.outOfSpec = design.outOfSpec.kind;
  }
  return {
    fileName,
    bytes: await encode(design, pixels, options.compactPng ?? false, options.colour ?? false),
    truth,
  };
}

export type { LotOptions } from "./lots.ts";
export { generateLots, lotIdFor, writeLot } from "./lots.ts";
