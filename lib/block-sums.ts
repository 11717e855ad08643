// Exact sums of factor x factor pixel blocks of a decoded image, for the gate's overview and the endpoint's preview.
import type { GrayImage } from "./gray-image.ts";

export interface BlockSums {
  width: number;
  height: number;
  /** One sum per block, row by row; whole numbers, exact in double precision. A last partial block is dropped. */
  sums: Float64Array;
}

/**
 * Sums each whole factor x factor block of the image. Written once per pixel type so that V8
 * compiles each loop for one array type: it reads every pixel of the frame.
 */
export function blockSums(image: GrayImage, factor: number): BlockSums {
  if (!Number.isInteger(factor) || factor < 1)
    throw new RangeError(`block factor must be a whole number from 1, got ${factor}`);
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  const sums = new Float64Array(width * height);
  if (image.data instanceof Uint8Array)
    addBlockSums8(image.data, image.width, factor, width, height, sums);
  else addBlockSums16(image.data, image.width, factor, width, height, sums);
  return { width, height, sums };
}

function addBlockSums8(
  src: Uint8Array,
  srcWidth: number,
  factor: number,
  width: number,
  height: number,
  sums: Float64Array,
): void {
  for (let by = 0; by < height; by++) {
    const out = by * width;
    for (let dy = 0; dy < factor; dy++) {
      let p = (by * factor + dy) * srcWidth;
      for (let bx = 0; bx < width; bx++) {
        let sum = 0;
        for (let dx = 0; dx < factor; dx++) sum += src[p++] as number;
        sums[out + bx] = (sums[out + bx] as number) + sum;
      }
    }
  }
}

/** addBlockSums8 for 16-bit pixels (the same code, compiled for the other array type). */
function addBlockSums16(
  src: Uint16Array,
  srcWidth: number,
  factor: number,
  width: number,
  height: number,
  sums: Float64Array,
): void {
  for (let by = 0; by < height; by++) {
    const out = by * width;
    for (let dy = 0; dy < factor; dy++) {
      let p = (by * factor + dy) * srcWidth;
      for (let bx = 0; bx < width; bx++) {
        let sum = 0;
        for (let dx = 0; dx < factor; dx++) sum += src[p++] as number;
        sums[out + bx] = (sums[out + bx] as number) + sum;
      }
    }
  }
}
