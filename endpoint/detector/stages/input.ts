// Stage "input": the decoded frame and the caller's hints are checked before any pixel is read.
import type { GrayImage } from "../../../lib/gray-image.ts";
import { type DetectionHints, DetectionHintsSchema } from "../../../schemas/detection.ts";
import { InvalidHintsError, InvalidImageError } from "../errors.ts";
import type { DiskSeed } from "../locate.ts";
import { binImage, type FloatMap } from "../raster.ts";
import { SPEC } from "../thresholds.ts";

export function checkImage(image: GrayImage): void {
  const { width, height, bitDepth, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 64 || height < 64) {
    throw new InvalidImageError(
      `image size ${width}x${height} is not a usable frame (need integers >= 64)`,
    );
  }
  if (bitDepth !== 8 && bitDepth !== 16)
    throw new InvalidImageError(`bit depth ${bitDepth} is not 8 or 16`);
  if (bitDepth === 8 && !(data instanceof Uint8Array)) {
    throw new InvalidImageError("8-bit image data must be a Uint8Array");
  }
  if (bitDepth === 16 && !(data instanceof Uint16Array)) {
    throw new InvalidImageError("16-bit image data must be a Uint16Array");
  }
  if (data.length !== width * height) {
    throw new InvalidImageError(
      `image data holds ${data.length} pixels, expected ${width}x${height} = ${width * height}`,
    );
  }
}

export function parseHints(hints: DetectionHints | undefined): DetectionHints {
  if (hints === undefined) return {};
  const parsed = DetectionHintsSchema.safeParse(hints);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidHintsError(
      `invalid detection hint ${issue?.path.join(".")}: ${issue?.message}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/** Full-resolution px per working-map px: the map is about SPEC.workingSide px on the shorter side. */
export function workingScale(image: GrayImage): number {
  return Math.max(1, Math.round(Math.min(image.width, image.height) / SPEC.workingSide));
}

/** The working map's size in map px: what workingMap's buffer must hold. */
export function workingMapSize(image: GrayImage): number {
  const scale = workingScale(image);
  return Math.floor(image.width / scale) * Math.floor(image.height / scale);
}

/** Stage "bin": the binned working map every later stage reads (into `buffer`, zeroed, when given). */
export function workingMap(image: GrayImage, buffer?: Float32Array): FloatMap {
  return binImage(image, workingScale(image), buffer);
}

/*
 * The quality gate bins the frame first (its overview is the working map binned further) and
 * hands the map to the detection of the same pixels, which then need not read the frame again
 * (about 4-5 ms CPU at 2048 px). The gate's map lives in a buffer kept between wafers, as detect
 * keeps its own: a fresh 4 MB array costs page faults and sets off V8's external-memory
 * collections. Only the latest gate's map is held, keyed weakly by the pixel array it was
 * taken of; detection takes it once, and only for that very array (the pipeline never edits
 * pixels after the gate: a repaired frame is a new array).
 */
let gateBuffer = new Float32Array(0);
let handedOver = new WeakMap<object, FloatMap>();

/** The working map of `image`, in the gate's kept buffer (valid until the next call). */
export function gateWorkingMap(image: GrayImage): FloatMap {
  return workingMap(image, gateMapBuffer(image));
}

/** The gate's kept buffer, ready for `image`'s working map (what workingMap's `buffer` needs). */
export function gateMapBuffer(image: GrayImage): Float32Array {
  const size = workingMapSize(image);
  if (gateBuffer.length !== size) gateBuffer = new Float32Array(size);
  // binImage sums into the buffer only for factors above 2; 1 and 2 write every value.
  else if (workingScale(image) > 2) gateBuffer.fill(0);
  return gateBuffer;
}

/** Hands `map` (the working map of `image`'s pixels as they are now) to the next detection of them. */
export function handOverWorkingMap(image: GrayImage, map: FloatMap): void {
  handedOver = new WeakMap([[image.data, map]]);
}

/** The map handed over for exactly these pixels (once), or undefined: then the caller bins. */
export function takeHandedOverMap(image: GrayImage): FloatMap | undefined {
  const map = handedOver.get(image.data);
  if (!map) return undefined;
  handedOver.delete(image.data);
  const scale = workingScale(image);
  const fits =
    map.scale === scale &&
    map.width === Math.floor(image.width / scale) &&
    map.data.length === workingMapSize(image);
  return fits ? map : undefined;
}

/*
 * The gate's disk, handed to locate the same way (keyed weakly by the pixel array, taken once):
 * a seed, or null where the gate's disk is no seed (found by the rim's local step); undefined
 * when nothing was handed over for these pixels (detect then computes the seed as the gate does).
 */
let seedHandedOver = new WeakMap<object, DiskSeed | null>();

/** Hands the gate's disk of `image`'s pixels (as they are now) to their next detection. */
export function handOverDiskSeed(image: GrayImage, seed: DiskSeed | null): void {
  seedHandedOver = new WeakMap([[image.data, seed]]);
}

/** The seed handed over for exactly these pixels (once): a seed, null (none), or undefined. */
export function takeHandedOverSeed(image: GrayImage): DiskSeed | null | undefined {
  if (!seedHandedOver.has(image.data)) return undefined;
  const seed = seedHandedOver.get(image.data) ?? null;
  seedHandedOver.delete(image.data);
  return seed;
}
