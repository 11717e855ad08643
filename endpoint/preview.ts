// A small WebP of the raster the endpoint already decoded (the answer's `preview`), and the downscaled picture the endpoint's overlay is drawn on.
import sharp, { type Sharp } from "sharp";
import { blockSums } from "../lib/block-sums.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import { PREVIEW_MAX_SIDE_LIMIT, type Preview } from "../schemas/detection.ts";
import { blockSumsKernel } from "./detector/frame-passes.ts";

/**
 * Lossy, for a client that draws its own marks on it (the pipeline asks for the overlay instead):
 * quality 85 kept an overlay drawn on it within 41-43 dB PSNR of one drawn on a lossless preview,
 * about 20% cheaper to encode than 90 (docs/benchmarks.md, round 6).
 */
const PREVIEW_WEBP_QUALITY = 85;
/**
 * libwebp's lowest effort, 0, instead of the default 4: measured on a 1024 px wafer, 42 ms of CPU
 * at effort 1 instead of 100 (about the cost of decoding the 2048 px original) for a file 2%
 * larger; effort 0 takes 7 ms less again for 1% more bytes.
 */
const PREVIEW_WEBP_EFFORT = 0;

/** The preview's size: the image scaled so its longer side is at most `maxSide` (never enlarged). */
export function previewSize(
  image: Pick<GrayImage, "width" | "height">,
  maxSide: number,
): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  return {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
  };
}

/** 16-bit pixels to 8 bit by full scale, as an 8-bit viewer shows them. */
function toEightBit(image: GrayImage): Uint8Array {
  if (image.bitDepth === 8) return image.data as Uint8Array;
  const source = image.data;
  const out = new Uint8Array(source.length);
  for (let i = 0; i < source.length; i++) out[i] = ((source[i] as number) + 128) / 257;
  return out;
}

/**
 * The mean of each factor x factor block, in 8 bit (16-bit means scaled by full scale as in
 * toEightBit); a last partial block is dropped, as libvips' own shrink does. Handing the full
 * raster to libvips cost 10-26 ms (a copy, 16 -> 8 bit in JS first, a Lanczos-3 resize of every
 * pixel; docs/benchmarks.md, round 6). The sums come from the frame kernel (WebAssembly SIMD, the
 * same whole numbers as lib/block-sums.ts): the JS loop took 12-17 ms of CPU per 2048 px wafer
 * at load 24, about a fifth of the whole overlay (docs/benchmarks.md, round 9). Factor 2, the
 * common one, takes its own pass (halve8, halve16), with the same bytes.
 */
function blockMeans(image: GrayImage, factor: number): GrayImage {
  if (factor === 2) return image.data instanceof Uint8Array ? halve8(image) : halve16(image);
  const { width, height, sums } = blockSumsKernel(image, factor) ?? blockSums(image, factor);
  const out = new Uint8Array(width * height);
  const area = factor * factor;
  const scale = image.bitDepth === 16 ? 1 / (257 * area) : 1 / area;
  // 8 bit: the rounded mean. 16 bit: the mean to 8 bit by full scale, as toEightBit rounds a pixel.
  const offset = image.bitDepth === 16 ? 128 * area : area / 2;
  for (let i = 0; i < out.length; i++) out[i] = ((sums[i] as number) + offset) * scale;
  return { width, height, bitDepth: 8, data: out };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * blockMeans at factor 2 of an 8-bit frame (a 2048 px wafer's 1024 px overlay), the same bytes,
 * in one pass and without the array of sums: the kernel's sums went through a fresh 8 MB array of
 * doubles and a second loop to bytes, and the overlay cost the inference thread 4.5 ms more CPU
 * per 2048 px wafer that way (docs/benchmarks.md, round 16). Rows of whole 32-bit
 * words take four pixels of each of two rows per two reads (halveWords); other widths, one
 * block at a time.
 */
function halve8(image: GrayImage): GrayImage {
  const { width, height } = image;
  const data = image.data as Uint8Array;
  const outWidth = Math.floor(width / 2);
  const outHeight = Math.floor(height / 2);
  const out = new Uint8Array(outWidth * outHeight);
  if (LITTLE_ENDIAN && width % 4 === 0 && data.byteOffset % 4 === 0) {
    halveWords(data, width, outHeight, out);
  } else {
    for (let y = 0; y < outHeight; y++) {
      let upper = 2 * y * width;
      let lower = upper + width;
      let o = y * outWidth;
      for (let x = 0; x < outWidth; x++, upper += 2, lower += 2, o++) {
        const sum =
          (data[upper] as number) +
          (data[upper + 1] as number) +
          (data[lower] as number) +
          (data[lower + 1] as number);
        out[o] = (sum + 2) >> 2;
      }
    }
  }
  return { width: outWidth, height: outHeight, bitDepth: 8, data: out };
}

/**
 * halve8 on rows of whole 32-bit words (little-endian): two reads give two blocks' sums side by
 * side in 16-bit lanes (at most 4 x 255 + 2, so no lane carries into the next), and
 * floor((sum + 2) / 4) is bits 2-9 of each lane.
 */
function halveWords(data: Uint8Array, width: number, outHeight: number, out: Uint8Array): void {
  const rowWords = width / 4;
  const outWidth = width / 2;
  const words = new Uint32Array(data.buffer, data.byteOffset, 2 * outHeight * rowWords);
  for (let y = 0; y < outHeight; y++) {
    let upper = 2 * y * rowWords;
    let lower = upper + rowWords;
    let o = y * outWidth;
    for (let x = 0; x < rowWords; x++, upper++, lower++, o += 2) {
      const u = words[upper] as number;
      const l = words[lower] as number;
      const lanes =
        (u & 0x00ff00ff) +
        ((u >>> 8) & 0x00ff00ff) +
        (l & 0x00ff00ff) +
        ((l >>> 8) & 0x00ff00ff) +
        0x00020002;
      // A Uint8Array keeps the low 8 bits of what is stored.
      out[o] = lanes >>> 2;
      out[o + 1] = lanes >>> 18;
    }
  }
}

/**
 * blockMeans at factor 2 of a 16-bit frame, the same bytes (the same sum, offset and scale), in
 * one pass without the array of sums.
 */
function halve16(image: GrayImage): GrayImage {
  const { width, height } = image;
  const data = image.data as Uint16Array;
  const outWidth = Math.floor(width / 2);
  const outHeight = Math.floor(height / 2);
  const out = new Uint8Array(outWidth * outHeight);
  const scale = 1 / (257 * 4);
  for (let y = 0; y < outHeight; y++) {
    let upper = 2 * y * width;
    let lower = upper + width;
    let o = y * outWidth;
    for (let x = 0; x < outWidth; x++, upper += 2, lower += 2, o++) {
      const sum =
        (data[upper] as number) +
        (data[upper + 1] as number) +
        (data[lower] as number) +
        (data[lower + 1] as number);
      out[o] = (sum + 128 * 4) * scale;
    }
  }
  return { width: outWidth, height: outHeight, bitDepth: 8, data: out };
}

/** Checks a requested picture side (preview_px, overlay_px) before any work is done for it. */
export function checkPictureSide(maxSide: number): void {
  if (!Number.isInteger(maxSide) || maxSide < 1 || maxSide > PREVIEW_MAX_SIDE_LIMIT) {
    throw new RangeError(`preview side must be 1-${PREVIEW_MAX_SIDE_LIMIT} px, got ${maxSide}`);
  }
}

/** Whole blocks averaged in JS (2048 -> 1024 px exactly), and the size libvips must still resample them to. */
function reduce(
  image: GrayImage,
  maxSide: number,
): { reduced: GrayImage; width: number; height: number } {
  checkPictureSide(maxSide);
  const { width, height } = previewSize(image, maxSide);
  const factor = Math.floor(Math.min(image.width / width, image.height / height));
  const reduced = factor >= 2 ? blockMeans(image, factor) : image;
  return { reduced, width, height };
}

/** A sharp pipeline over the reduced raster, resampled (Lanczos-3) to the picture's size when the blocks are not it. */
function pictureOf(reduced: GrayImage, width: number, height: number): Sharp {
  const pixels = toEightBit(reduced);
  const picture = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width: reduced.width, height: reduced.height, channels: 1 },
  });
  return reduced.width !== width || reduced.height !== height
    ? picture.resize(width, height, { fit: "fill" })
    : picture;
}

/**
 * The decoded image downscaled to `maxSide`, in 8 bit, as a sharp pipeline not yet encoded: the
 * preview encodes it as it is. Whole blocks are averaged in JS first (2048 -> 1024 px exactly);
 * libvips resamples only what is left (Lanczos-3), and only encodes when the blocks are the
 * picture already.
 */
export function previewPicture(
  image: GrayImage,
  maxSide: number,
): { picture: Sharp; width: number; height: number } {
  const { reduced, width, height } = reduce(image, maxSide);
  return { picture: pictureOf(reduced, width, height), width, height };
}

/**
 * previewPicture's pixels, 8-bit grey, row by row, for a caller that draws from them itself (the
 * overlay); read-only (they may be the image's own pixels). When whole blocks are the picture
 * already (2048 -> 1024 px), libvips is not involved.
 */
export async function previewPixels(
  image: GrayImage,
  maxSide: number,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { reduced, width, height } = reduce(image, maxSide);
  if (reduced.width === width && reduced.height === height) {
    return { data: toEightBit(reduced), width, height };
  }
  const data = await pictureOf(reduced, width, height).toColourspace("b-w").raw().toBuffer();
  return { data, width, height };
}

/** Renders the decoded image, downscaled to `maxSide`, as a base64 WebP (the response's `preview`). */
export async function renderPreview(image: GrayImage, maxSide: number): Promise<Preview> {
  const { picture, width, height } = previewPicture(image, maxSide);
  const webp = await picture
    .webp({ quality: PREVIEW_WEBP_QUALITY, effort: PREVIEW_WEBP_EFFORT })
    .toBuffer();
  return { format: "webp", width, height, data: webp.toString("base64") };
}
