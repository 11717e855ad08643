// A small WebP of the raster the endpoint already decoded, so the operator's overlay is drawn without decoding the original again.
import sharp from "sharp";
import { blockSums } from "../lib/block-sums.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import { PREVIEW_MAX_SIDE_LIMIT, type Preview } from "../schemas/detection.ts";

/**
 * Lossy, but above what the operator's overlay keeps: the overlay is drawn on the preview and
 * stored at WebP quality 82. Measured on two 2048 px wafers (8 and 16 bit), the overlay drawn on
 * a quality 85 preview is as close to one drawn on a lossless preview (PSNR 41.4 / 42.9 dB) as
 * the overlay drawn on a quality 90 preview (39.0 / 43.5 dB), and the encode takes 5-7 ms (about
 * 20%) less; a 1024 px preview stays near 50-100 kB (docs/benchmarks.md, round 6).
 */
const PREVIEW_WEBP_QUALITY = 85;
/**
 * libwebp's lowest effort, 0, instead of the default 4: measured on a 1024 px wafer, 42 ms of CPU
 * at effort 1 instead of 100 (about the cost of decoding the 2048 px original) for a file 2%
 * larger; effort 0 takes 7 ms less again (43 against 50 ms with the resize, five 1024-2048 px
 * wafers) for 1% more bytes. The preview is read once, by whoever draws the overlay, so its size
 * hardly matters.
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
 * toEightBit); a last partial block is dropped, as libvips' own shrink does. One pass over the
 * raster in JS costs about 2-3 ms at 2048 px, where handing the full raster to libvips cost
 * 10-26 ms (a copy, 16 -> 8 bit in JS first, a Lanczos-3 resize of every pixel); see
 * docs/benchmarks.md, round 6.
 */
function blockMeans(image: GrayImage, factor: number): GrayImage {
  const { width, height, sums } = blockSums(image, factor);
  const out = new Uint8Array(width * height);
  const area = factor * factor;
  const scale = image.bitDepth === 16 ? 1 / (257 * area) : 1 / area;
  // 8 bit: the rounded mean. 16 bit: the mean to 8 bit by full scale, as toEightBit rounds a pixel.
  const offset = image.bitDepth === 16 ? 128 * area : area / 2;
  for (let i = 0; i < out.length; i++) out[i] = ((sums[i] as number) + offset) * scale;
  return { width, height, bitDepth: 8, data: out };
}

/** Renders the decoded image, downscaled to `maxSide`, as a base64 WebP (the response's `preview`). */
export async function renderPreview(image: GrayImage, maxSide: number): Promise<Preview> {
  if (!Number.isInteger(maxSide) || maxSide < 1 || maxSide > PREVIEW_MAX_SIDE_LIMIT) {
    throw new RangeError(`preview side must be 1-${PREVIEW_MAX_SIDE_LIMIT} px, got ${maxSide}`);
  }
  const { width, height } = previewSize(image, maxSide);
  // Whole blocks are averaged in JS first (2048 -> 1024 px exactly); libvips resamples only what
  // is left (Lanczos-3, as before), and only encodes when the blocks are the preview already.
  const factor = Math.floor(Math.min(image.width / width, image.height / height));
  const reduced = factor >= 2 ? blockMeans(image, factor) : image;
  const pixels = toEightBit(reduced);
  let encoder = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width: reduced.width, height: reduced.height, channels: 1 },
  });
  if (reduced.width !== width || reduced.height !== height) {
    encoder = encoder.resize(width, height, { fit: "fill" });
  }
  const webp = await encoder
    .webp({ quality: PREVIEW_WEBP_QUALITY, effort: PREVIEW_WEBP_EFFORT })
    .toBuffer();
  return { format: "webp", width, height, data: webp.toString("base64") };
}
