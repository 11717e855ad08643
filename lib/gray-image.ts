// Decoding wafer images into one grayscale pixel buffer, the form every detector stage reads.
import sharp, { type Metadata } from "sharp";
import { ImageDecodeError, ImageSizeError } from "./image-errors.ts";

/** A decoded single-channel image; full scale is 255 (8 bit) or 65535 (16 bit). */
export interface GrayImage {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
}

export interface DecodeLimits {
  minSide: number;
  maxSide: number;
  /** Refuse images whose pixel count exceeds this before decoding (decompression bombs). */
  maxPixels: number;
}

/** docs/wafer-images.md: 512 to 8192 px on a side. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  minSide: 512,
  maxSide: 8192,
  maxPixels: 8192 * 8192,
};

export function fullScale(image: Pick<GrayImage, "bitDepth">): number {
  return image.bitDepth === 16 ? 65535 : 255;
}

export interface ImageHeader {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  format: "png" | "tiff";
}

/** Reads only the header: PNG or TIFF, within the size limits, or a named error. */
export async function readImageHeader(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<ImageHeader> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new ImageDecodeError(`not a decodable image: ${(cause as Error).message}`, { cause });
  }
  if (meta.format !== "png" && meta.format !== "tiff") {
    throw new ImageDecodeError(`unsupported image format '${meta.format}': expected PNG or TIFF`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  checkSize(width, height, limits);
  const bitDepth = meta.depth === "ushort" || meta.depth === "short" ? 16 : 8;
  return { width, height, bitDepth, format: meta.format };
}

/**
 * Decodes PNG or TIFF (8 or 16 bit, gray or colour) to luminance. Colour is converted with
 * libvips' sRGB-to-b-w luminance; 16-bit input stays 16 bit so no precision is lost.
 */
export async function decodeGray(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<GrayImage> {
  const sixteen = (await readImageHeader(bytes, limits)).bitDepth === 16;
  try {
    const pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels }).removeAlpha();
    if (sixteen) {
      const { data, info } = await pipeline
        .toColourspace("grey16")
        .raw({ depth: "ushort" })
        .toBuffer({ resolveWithObject: true });
      const pixels = new Uint16Array(data.buffer, data.byteOffset, info.width * info.height);
      return { width: info.width, height: info.height, bitDepth: 16, data: pixels };
    }
    const { data, info } = await pipeline
      .greyscale()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new ImageDecodeError(`expected 1 channel, got ${info.channels}`);
    return {
      width: info.width,
      height: info.height,
      bitDepth: 8,
      data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height),
    };
  } catch (cause) {
    if (cause instanceof ImageDecodeError) throw cause;
    throw new ImageDecodeError(`image data is corrupt: ${(cause as Error).message}`, { cause });
  }
}

export function checkSize(width: number, height: number, limits: DecodeLimits): void {
  if (width * height > limits.maxPixels) {
    throw new ImageSizeError(
      `image is ${width}x${height} (${width * height} px), over the ${limits.maxPixels} px limit`,
    );
  }
  if (Math.min(width, height) < limits.minSide || Math.max(width, height) > limits.maxSide) {
    throw new ImageSizeError(
      `image is ${width}x${height}; sides must be ${limits.minSide}-${limits.maxSide} px`,
    );
  }
}
