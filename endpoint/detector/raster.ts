// Pixel-level building blocks: binned working maps, sub-pixel sampling, fast order statistics.
import type { GrayImage } from "../../lib/gray-image.ts";
import { bin2Kernel } from "./frame-passes.ts";
import { type KernelLayout, kernelLayout } from "./kernel.ts";

/** A single-channel float raster; `scale` full-resolution pixels per side of one cell. */
export interface FloatMap {
  width: number;
  height: number;
  scale: number;
  data: Float32Array;
}

/**
 * Averages `factor`x`factor` blocks of the input. Averaging (not decimating) keeps the
 * full photon budget, so noise drops by `factor` and faint defects survive the shrink.
 */
export function binImage(image: GrayImage, factor: number, into?: Float32Array): FloatMap {
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  // `into` (zeroed, the map's size) lets a caller reuse a buffer; the sums below start from 0.
  const out = into ?? new Float32Array(width * height);
  if (out.length !== width * height)
    throw new RangeError(`binImage: buffer of ${out.length} values for a ${width}x${height} map`);
  const src = image.data;
  const stride = image.width;
  const norm = 1 / (factor * factor);
  if (factor === 2) {
    // The common case (2048 px frames): in WebAssembly SIMD where available (frame-passes.ts,
    // the same bits), else a loop without the inner block walk.
    if (bin2Kernel(src, stride, width, height, out))
      return { width, height, scale: factor, data: out };
    for (let by = 0; by < height; by++) {
      let p = 2 * by * stride;
      let q = p + stride;
      const rowOut = by * width;
      for (let bx = 0; bx < width; bx++, p += 2, q += 2) {
        out[rowOut + bx] =
          0.25 *
          ((src[p] as number) +
            (src[p + 1] as number) +
            (src[q] as number) +
            (src[q + 1] as number));
      }
    }
    return { width, height, scale: factor, data: out };
  }
  for (let by = 0; by < height; by++) {
    const rowOut = by * width;
    for (let dy = 0; dy < factor; dy++) {
      let p = (by * factor + dy) * stride;
      if (factor === 1) {
        for (let bx = 0; bx < width; bx++) out[rowOut + bx] = src[p + bx] as number;
        continue;
      }
      for (let bx = 0; bx < width; bx++) {
        let sum = 0;
        for (let dx = 0; dx < factor; dx++) sum += src[p++] as number;
        out[rowOut + bx] = (out[rowOut + bx] as number) + sum;
      }
    }
    if (factor !== 1)
      for (let bx = 0; bx < width; bx++) out[rowOut + bx] = (out[rowOut + bx] as number) * norm;
  }
  return { width, height, scale: factor, data: out };
}

/**
 * Re-bins the blocks of `map` (binImage(image, map.scale) of an earlier state of the image)
 * that hold any of the pixels `changed` (flat indices into the image): with binImage's own
 * arithmetic per block, so the map then equals binImage of the image as it is now, bit for bit.
 * The quality gate bins the frame before it repairs hot pixels, and repairs a few dozen.
 */
export function rebinPixels(image: GrayImage, map: FloatMap, changed: ArrayLike<number>): void {
  const factor = map.scale;
  const { width, height, data: out } = map;
  const src = image.data;
  const stride = image.width;
  const norm = 1 / (factor * factor);
  for (let c = 0; c < changed.length; c++) {
    const index = changed[c] as number;
    const bx = Math.floor((index % stride) / factor);
    const by = Math.floor(Math.floor(index / stride) / factor);
    if (bx >= width || by >= height) continue;
    const p = by * factor * stride + bx * factor;
    if (factor === 2) {
      const q = p + stride;
      out[by * width + bx] =
        0.25 *
        ((src[p] as number) + (src[p + 1] as number) + (src[q] as number) + (src[q + 1] as number));
      continue;
    }
    if (factor === 1) {
      out[by * width + bx] = src[p] as number;
      continue;
    }
    // binImage adds each row's sum into the float32 map, then scales it.
    let value = 0;
    for (let dy = 0; dy < factor; dy++) {
      let sum = 0;
      for (let dx = 0, r = p + dy * stride; dx < factor; dx++) sum += src[r + dx] as number;
      value = Math.fround(value + sum);
    }
    out[by * width + bx] = value * norm;
  }
}

/** Bins an existing map further (the overview is built from the working map, not the image). */
export function binMap(map: FloatMap, factor: number): FloatMap {
  const width = Math.floor(map.width / factor);
  const height = Math.floor(map.height / factor);
  const out = new Float32Array(width * height);
  const norm = 1 / (factor * factor);
  const src = map.data;
  // Each block's sum in double precision, rows of the block in turn and left to right within
  // each (the order of a per-block double loop, so the same sums), kept per output row.
  const sums = new Float64Array(width);
  for (let by = 0; by < height; by++) {
    sums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      let p = (by * factor + dy) * map.width;
      if (factor === 3) {
        for (let bx = 0; bx < width; bx++, p += 3)
          sums[bx] =
            (sums[bx] as number) +
            (src[p] as number) +
            (src[p + 1] as number) +
            (src[p + 2] as number);
      } else {
        for (let bx = 0; bx < width; bx++) {
          let sum = sums[bx] as number;
          for (let dx = 0; dx < factor; dx++) sum += src[p++] as number;
          sums[bx] = sum;
        }
      }
    }
    const rowOut = by * width;
    for (let bx = 0; bx < width; bx++) out[rowOut + bx] = (sums[bx] as number) * norm;
  }
  return { width, height, scale: map.scale * factor, data: out };
}

/** Bilinear sample of a raster given as a flat array; coordinates are clamped to the frame. */
export function sampleBilinear(
  data: ArrayLike<number>,
  width: number,
  height: number,
  x: number,
  y: number,
): number {
  const cx = x < 0 ? 0 : Math.min(x, width - 1.001);
  const cy = y < 0 ? 0 : Math.min(y, height - 1.001);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const fx = cx - x0;
  const fy = cy - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/** In-place quickselect; returns the k-th smallest of values[0..count). */
export function selectKth(values: Float32Array | Float64Array, count: number, k: number): number {
  let lo = 0;
  let hi = count - 1;
  while (hi > lo) {
    const pivot = values[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        const t = values[i] as number;
        values[i] = values[j] as number;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k] as number;
  }
  return values[k] as number;
}

/** Quantile q in [0,1] of values[0..count), reordering the array. */
export function quantileInPlace(
  values: Float32Array | Float64Array,
  count: number,
  q: number,
): number {
  if (count === 0) return Number.NaN;
  const k = Math.min(count - 1, Math.max(0, Math.round(q * (count - 1))));
  return selectKth(values, count, k);
}

/**
 * 3x3 binomial smoothing ([1 2 1] x [1 2 1] / 16), edges replicated; `out` must not alias `src`.
 * Closer to a matched filter than a box for the smallest defects (1-2 px spots, 1 px lines),
 * while still averaging the noise of larger ones.
 * Only the columns within a pixel of a row's nonzero values are smoothed: a residual is +0
 * outside the disk (a third or more of the frame), and smoothing +0 gives +0, which is written
 * there directly. Zero means the bit pattern of +0: a -0 or NaN is smoothed like any value.
 */
export function binomialBlur3(
  src: Float32Array,
  width: number,
  height: number,
  out: Float32Array,
): void {
  const layout = kernelLayout(width, height);
  if (layout) {
    kernelBlur(layout, src, width, height, out);
    return;
  }
  // Per row, the first and last column holding anything but +0 (first > last: none).
  const firstSet = new Int32Array(height);
  const lastSet = new Int32Array(height);
  const bits = new Uint32Array(src.buffer, src.byteOffset, width * height);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let first = 0;
    while (first < width && bits[base + first] === 0) first++;
    let last = width - 1;
    while (last > first && bits[base + last] === 0) last--;
    firstSet[y] = first;
    lastSet[y] = first < width ? last : -1;
  }
  let above = new Float32Array(width);
  let current = new Float32Array(width);
  let below = new Float32Array(width);
  binomialRow(src, 0, width, current, firstSet[0] as number, lastSet[0] as number);
  above.set(current);
  for (let y = 0; y < height; y++) {
    if (y < height - 1) {
      const next = y + 1;
      binomialRow(
        src,
        next * width,
        width,
        below,
        firstSet[next] as number,
        lastSet[next] as number,
      );
    } else below.set(current);
    const base = y * width;
    // Columns where any of the three rows' smoothed values may be nonzero.
    const up = Math.max(0, y - 1);
    const down = Math.min(height - 1, y + 1);
    const from = Math.max(
      0,
      Math.min(firstSet[up] as number, firstSet[y] as number, firstSet[down] as number) - 1,
    );
    const to = Math.min(
      width - 1,
      Math.max(lastSet[up] as number, lastSet[y] as number, lastSet[down] as number) + 1,
    );
    if (from > to) {
      out.fill(0, base, base + width);
    } else {
      out.fill(0, base, base + from);
      for (let x = from; x <= to; x++) {
        out[base + x] =
          0.25 * ((above[x] as number) + (below[x] as number)) + 0.5 * (current[x] as number);
      }
      out.fill(0, base + to + 1, base + width);
    }
    // Rotate the three row buffers instead of recomputing.
    const spare = above;
    above = current;
    current = below;
    below = spare;
  }
}

/**
 * binomialBlur3 through the WebAssembly kernel (kernel.ts): every pixel smoothed with the same
 * arithmetic, two at a time (the +0 shortcut of the JavaScript path gives the bits a full
 * computation gives, so none is needed). Rows stream through five rows of the kernel's memory;
 * a source or output that already lies in that memory (the die-to-die stage smooths into it)
 * is read or written in place.
 */
function kernelBlur(
  layout: KernelLayout,
  src: Float32Array,
  width: number,
  height: number,
  out: Float32Array,
): void {
  const { kernel, buffer, blurOffset, rowBytes } = layout;
  const srcInside = src.buffer === buffer;
  const outInside = out.buffer === buffer;
  const sourceRow = blurOffset + 3 * rowBytes;
  const outputRow = blurOffset + 4 * rowBytes;
  const sourceView = new Float32Array(buffer, sourceRow, width);
  const outputView = new Float32Array(buffer, outputRow, width);
  // Smoothed row y lives in slot y mod 3: rows y - 1, y and y + 1 are there when row y is output.
  const smooth = (y: number): void => {
    let from = sourceRow;
    if (srcInside) from = src.byteOffset + 4 * y * width;
    else sourceView.set(src.subarray(y * width, (y + 1) * width));
    kernel.blurRow(from, blurOffset + (y % 3) * rowBytes, width);
  };
  smooth(0);
  if (height > 1) smooth(1);
  for (let y = 0; y < height; y++) {
    const current = blurOffset + (y % 3) * rowBytes;
    const above = y > 0 ? blurOffset + ((y - 1) % 3) * rowBytes : current;
    const below = y + 1 < height ? blurOffset + ((y + 1) % 3) * rowBytes : current;
    const into = outInside ? out.byteOffset + 4 * y * width : outputRow;
    kernel.blurColumns(above, current, below, into, width);
    if (!outInside) out.set(outputView, y * width);
    // Row y - 1's slot is free now.
    if (y + 2 < height) smooth(y + 2);
  }
}

/**
 * One row of binomialBlur3's horizontal [1 2 1] / 4 pass, edges replicated. Each pixel is read
 * once and carried as the next pixel's left and centre; the arithmetic (and the float32
 * rounding of `into`) is that of the per-pixel formula 0.25 * (l + r) + 0.5 * c. Columns more
 * than a pixel from the row's nonzero span [first, last] are +0 (smoothed +0).
 */
function binomialRow(
  src: Float32Array,
  base: number,
  width: number,
  into: Float32Array,
  first: number,
  last: number,
): void {
  if (first > last) {
    into.fill(0);
    return;
  }
  const from = Math.max(0, first - 1);
  const to = Math.min(width - 1, last + 1);
  into.fill(0, 0, from);
  into.fill(0, to + 1, width);
  let left = src[base + Math.max(0, from - 1)] as number;
  let centre = src[base + from] as number;
  for (let x = from; x < to; x++) {
    const right = src[base + x + 1] as number;
    into[x] = 0.25 * (left + right) + 0.5 * centre;
    left = centre;
    centre = right;
  }
  // The last column computed; at the frame's edge it is its own right neighbour.
  const right = to < width - 1 ? (src[base + to + 1] as number) : centre;
  into[to] = 0.25 * (left + right) + 0.5 * centre;
}
