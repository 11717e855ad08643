// Exact order statistics of large non-negative samples in about two linear passes (noise tails of the residual).
import { selectKth } from "./raster.ts";

/** Below this many values one quickselect is as cheap as the histogram. */
const SMALL = 4096;
/** Top 16 bits of a double's high word: sign, the 11 exponent bits and 4 mantissa bits. */
const BINS = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * The k-th smallest of values[0..count), the same value selectKth returns, for samples of
 * magnitudes (all >= +0, none NaN). A non-negative double's bit pattern orders like its value,
 * so a histogram of the top bits names the bin holding rank k, and only that bin's values go
 * through a quickselect: on 550,000 |residual| samples about 1-2 ms instead of 5-25 ms. The
 * values are left in place; a sample with a sign bit, an infinity or a NaN goes to selectKth
 * on the whole array, so the answer never differs from it.
 */
export function selectKthMagnitude(values: Float64Array, count: number, k: number): number {
  if (count < SMALL || !LITTLE_ENDIAN) return selectKth(values, count, k);
  const words = new Uint32Array(values.buffer, values.byteOffset, 2 * count);
  const histogram = new Int32Array(BINS);
  for (let i = 1; i < 2 * count; i += 2) {
    const high = words[i] as number;
    // >= 0x7ff00000: infinity, NaN or a set sign bit (negative values, -0).
    if (high >= 0x7ff00000) return selectKth(values, count, k);
    const bin = high >>> 16;
    histogram[bin] = (histogram[bin] as number) + 1;
  }
  let below = 0;
  let bin = 0;
  while (below + (histogram[bin] as number) <= k) below += histogram[bin++] as number;
  const members = new Float64Array(histogram[bin] as number);
  let m = 0;
  for (let i = 0; i < count; i++)
    if ((words[2 * i + 1] as number) >>> 16 === bin) members[m++] = values[i] as number;
  return selectKth(members, m, k - below);
}

/** quantileInPlace's quantile q in [0,1] of values[0..count), by selectKthMagnitude. */
export function quantileOfMagnitudes(values: Float64Array, count: number, q: number): number {
  if (count === 0) return Number.NaN;
  const k = Math.min(count - 1, Math.max(0, Math.round(q * (count - 1))));
  return selectKthMagnitude(values, count, k);
}
