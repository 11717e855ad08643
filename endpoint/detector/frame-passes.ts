// The whole-frame passes in WebAssembly SIMD (frame.wat): 2x2 binning and the gate's hot-pixel candidate scan, fed a band of rows at a time.
import { KERNEL_BASE64 } from "./frame-kernel.ts";
import { instantiateKernel, type KernelMemory, memoryOfAtLeast } from "./wasm-module.ts";

/**
 * frame.wat, assembled into frame-kernel.ts by npm run build:wasm: the same results as the
 * JavaScript of binImage (factor 2) and of the gate's candidate scan, 8 or 16 pixels per
 * instruction (why they are exact: the WAT source's head). Its memory is its own (not the
 * die-to-die kernels'), and holds one band of rows of the frame and the band's output: the
 * frame is copied in band by band, so the memory stays under 2 MB whatever the frame's size.
 */
/** Each pass has an 8-bit and a 16-bit export of the same signature (byte offsets into memory). */
type Bin2Pass = (src: number, stride: number, dst: number, width: number, rows: number) => void;
type ScanPass = (
  src: number,
  width: number,
  from: number,
  to: number,
  rows: number,
  reach: number,
  out: number,
) => number;
type BlockSumsPass = (
  src: number,
  stride: number,
  factor: number,
  width: number,
  rows: number,
  acc: number,
  out: number,
) => void;

type NoiseSamplesPass = (
  table: number,
  rows: number,
  stride: number,
  lapOut: number,
  gradOut: number,
) => number;

type NormalSumsPass = (
  basis: number,
  columns: number,
  blocks: number,
  weights: number,
  out: number,
  terms: number,
  full: number,
) => void;

/** out[k] = float32(sums[k] * norm), k < count (byte offsets; f64 in, f32 out). */
type ScalePass = (src: number, count: number, norm: number, dst: number) => void;

interface FrameKernel extends KernelMemory {
  noiseSamples: NoiseSamplesPass;
  scaleToFloat32: ScalePass;
  normalSums: NormalSumsPass;
  bin2U8: Bin2Pass;
  bin2U16: Bin2Pass;
  scanU8: ScanPass;
  scanU16: ScanPass;
  blockSumsU8: BlockSumsPass;
  blockSumsU16: BlockSumsPass;
}

/** Image rows per band: 32 rows of an 8192 px 16-bit frame are 512 kB, their candidates 1 MB. */
const BAND_ROWS = 32;
/** Bytes a kernel may read past a band (its last 16-byte load of a row). */
const PAD = 64;

let loaded: FrameKernel | null | undefined;
let enabled = true;

/** Turns the frame kernels off (false) or back on: the JavaScript runs, with the same results. */
export function useFrameKernels(on: boolean): void {
  enabled = on;
}

function kernel(): FrameKernel | null {
  if (!enabled) return null;
  if (loaded !== undefined) return loaded;
  // A runtime without SIMD cannot validate it: the JavaScript does the same work.
  loaded = instantiateKernel<FrameKernel>(KERNEL_BASE64);
  return loaded;
}

/** Copies pixels [from, to) of `src` into the kernel's memory at byte 0. */
function copyIn(buffer: ArrayBuffer, src: Uint8Array | Uint16Array, from: number, to: number) {
  if (src instanceof Uint8Array) new Uint8Array(buffer, 0, to - from).set(src.subarray(from, to));
  else new Uint16Array(buffer, 0, to - from).set(src.subarray(from, to));
}

/**
 * binImage's factor-2 map of the frame (width x height map px) into `out`, through the kernel;
 * false (nothing written) where it is not available.
 */
export function bin2Kernel(
  src: Uint8Array | Uint16Array,
  stride: number,
  width: number,
  height: number,
  out: Float32Array,
): boolean {
  const k = kernel();
  if (!k) return false;
  const bytesPerPixel = src instanceof Uint8Array ? 1 : 2;
  const bandBytes = 2 * BAND_ROWS * stride * bytesPerPixel + PAD;
  const outOffset = Math.ceil(bandBytes / 16) * 16;
  const buffer = memoryOfAtLeast(k, outOffset + 4 * BAND_ROWS * width + PAD);
  const bin = bytesPerPixel === 1 ? k.bin2U8 : k.bin2U16;
  for (let y = 0; y < height; y += BAND_ROWS) {
    const rows = Math.min(BAND_ROWS, height - y);
    copyIn(buffer, src, 2 * y * stride, 2 * (y + rows) * stride);
    bin(0, stride * bytesPerPixel, outOffset, width, rows);
    out.set(new Float32Array(buffer, outOffset, rows * width), y * width);
  }
  return true;
}

/**
 * The gate's hot-pixel candidates: indices of the pixels at x, y in [margin, side - margin) that
 * differ from their left or upper neighbour by more than `reach`, row by row, into `found`;
 * false (nothing found) where the kernel is not available or reach is outside its lanes.
 */
export function scanKernel(
  src: Uint8Array | Uint16Array,
  width: number,
  height: number,
  margin: number,
  reach: number,
  found: number[],
): boolean {
  const into = { indices: new Int32Array(0) };
  const count = scanKernelInto(src, width, height, margin, reach, into);
  if (count === null) return false;
  for (let i = 0; i < count; i++) found.push(into.indices[i] as number);
  return true;
}

/**
 * scanKernel's candidates into `into.indices` (grown, never shrunk: the caller may keep it
 * between calls), in the same order: their count, or null where the kernel is not available or
 * reach is outside its lanes. Typed all the way: some 60,000 candidates of a patterned 2048 px
 * frame (die edges) cost about a quarter of a ms pushed one by one onto an array of numbers.
 */
export function scanKernelInto(
  src: Uint8Array | Uint16Array,
  width: number,
  height: number,
  margin: number,
  reach: number,
  into: { indices: Int32Array },
): number | null {
  const k = kernel();
  const top = src instanceof Uint8Array ? 255 : 65535;
  if (!k || !Number.isInteger(reach) || reach < 0 || margin < 1) return null;
  // No difference of two pixels exceeds the lane's top: no candidates.
  if (reach >= top) return 0;
  const bytesPerPixel = top === 255 ? 1 : 2;
  const bandBytes = (BAND_ROWS + 1) * width * bytesPerPixel + PAD;
  const outOffset = Math.ceil(bandBytes / 16) * 16;
  const buffer = memoryOfAtLeast(k, outOffset + 4 * BAND_ROWS * width);
  const scan = bytesPerPixel === 1 ? k.scanU8 : k.scanU16;
  const indices = new Int32Array(buffer, outOffset, BAND_ROWS * width);
  let count = 0;
  for (let y = margin; y < height - margin; y += BAND_ROWS) {
    const rows = Math.min(BAND_ROWS, height - margin - y);
    // The band's rows and the row above it.
    copyIn(buffer, src, (y - 1) * width, (y + rows) * width);
    const n = scan(width * bytesPerPixel, width, margin, width - margin, rows, reach, outOffset);
    if (into.indices.length < count + n) {
      const grown = new Int32Array(Math.max(count + n, 2 * into.indices.length, 4096));
      grown.set(into.indices.subarray(0, count));
      into.indices = grown;
    }
    const out = into.indices;
    const base = y * width;
    for (let i = 0; i < n; i++) out[count + i] = base + (indices[i] as number);
    count += n;
  }
  return count;
}

/**
 * lib/block-sums.ts blockSums (whole factor x factor blocks, a last partial block dropped, exact
 * whole numbers) through the kernel, a band of block rows at a time; null where it is not
 * available or the sums could leave its 32-bit lanes (factor above 16).
 */
export function blockSumsKernel(
  image: { width: number; height: number; data: Uint8Array | Uint16Array },
  factor: number,
): { width: number; height: number; sums: Float64Array } | null {
  let sums = new Float64Array(0);
  const size = blockBands(image, factor, (width, height) => {
    sums = new Float64Array(width * height);
    return (band, at) => sums.set(band, at);
  });
  return size && { ...size, sums };
}

/**
 * The blocks' sums times `norm`, as float32 (the gate's overview: each value is the double
 * sum times norm, rounded as a Float32Array store rounds, as overviewOf took it from
 * blockSumsKernel's sums), without the sums' own map of doubles; null as blockSumsKernel.
 */
export function blockMeansKernel(
  image: { width: number; height: number; data: Uint8Array | Uint16Array },
  factor: number,
  norm: number,
): { width: number; height: number; data: Float32Array } | null {
  let data = new Float32Array(0);
  const size = blockBands(image, factor, (width, height) => {
    data = new Float32Array(width * height);
    return (_band, at, scaled) => data.set(scaled(norm), at);
  });
  return size && { ...size, data };
}

/** The block sums band by band: `start` gets the blocks' map size and gives what takes each band's sums. */
function blockBands(
  image: { width: number; height: number; data: Uint8Array | Uint16Array },
  factor: number,
  start: (
    width: number,
    height: number,
  ) => (
    band: Float64Array,
    at: number,
    /** The band's sums times `norm` as float32 (scaleToFloat32: each double sum times norm, rounded as a Float32Array store rounds), in the kernel's memory. */
    scaled: (norm: number) => Float32Array,
  ) => void,
): { width: number; height: number } | null {
  const k = kernel();
  if (!k || !Number.isInteger(factor) || factor < 1 || factor > 16) return null;
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  const take = start(width, height);
  const src = image.data;
  const bytesPerPixel = src instanceof Uint8Array ? 1 : 2;
  const stride = image.width;
  // Block rows per band: about BAND_ROWS image rows.
  const band = Math.max(1, Math.floor(BAND_ROWS / factor));
  const bandBytes = band * factor * stride * bytesPerPixel + PAD;
  const accOffset = Math.ceil(bandBytes / 16) * 16;
  const outOffset = accOffset + Math.ceil((4 * width * factor + PAD) / 16) * 16;
  const meansOffset = outOffset + Math.ceil((8 * band * width + PAD) / 16) * 16;
  const buffer = memoryOfAtLeast(k, meansOffset + 4 * band * width + PAD);
  const sum = bytesPerPixel === 1 ? k.blockSumsU8 : k.blockSumsU16;
  for (let by = 0; by < height; by += band) {
    const rows = Math.min(band, height - by);
    copyIn(buffer, src, by * factor * stride, (by + rows) * factor * stride);
    sum(0, stride * bytesPerPixel, factor, width, rows, accOffset, outOffset);
    take(new Float64Array(buffer, outOffset, rows * width), by * width, (norm) => {
      k.scaleToFloat32(outOffset, rows * width, norm, meansOffset);
      return new Float32Array(buffer, meansOffset, rows * width);
    });
  }
  return { width, height };
}

/**
 * bin2Kernel's map (into `out`, width x height map px) and blockMeansKernel's means (factor x
 * factor blocks times `norm`) of one frame in one pass: each band of rows is copied into the
 * kernel's memory once and both kernels read it, where the two calls copied the frame twice
 * (the gate's working map and its overview, where the overview's blocks do not tile the map's:
 * 1536-2047 px frames). Bands are whole map rows and whole block rows (a multiple of both 2
 * and factor), and the kernels keep nothing from one band to the next, so both results are the
 * separate calls' to the bit. Null (nothing written) where the kernel is not available or
 * blockMeansKernel would return null.
 */
export function bin2AndBlockMeansKernel(
  image: { width: number; height: number; data: Uint8Array | Uint16Array },
  out: Float32Array,
  factor: number,
  norm: number,
): { width: number; height: number; data: Float32Array } | null {
  const k = kernel();
  if (!k || !Number.isInteger(factor) || factor < 1 || factor > 16) return null;
  const src = image.data;
  const stride = image.width;
  const mapWidth = Math.floor(image.width / 2);
  const mapHeight = Math.floor(image.height / 2);
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  const bytesPerPixel = src instanceof Uint8Array ? 1 : 2;
  // Image rows per band: a multiple of 2 and of factor, about BAND_ROWS.
  const unit = factor % 2 === 0 ? factor : 2 * factor;
  const bandRows = Math.max(unit, Math.floor(BAND_ROWS / unit) * unit);
  const bandBytes = bandRows * stride * bytesPerPixel + PAD;
  const binOffset = Math.ceil(bandBytes / 16) * 16;
  const accOffset = binOffset + Math.ceil((4 * (bandRows / 2) * mapWidth + PAD) / 16) * 16;
  const sumsOffset = accOffset + Math.ceil((4 * width * factor + PAD) / 16) * 16;
  // The band's means as float32, scaled in the kernel (scaleToFloat32: each double sum times norm, rounded as a Float32Array store rounds).
  const meansOffset = sumsOffset + Math.ceil((8 * (bandRows / factor) * width + PAD) / 16) * 16;
  const buffer = memoryOfAtLeast(k, meansOffset + 4 * (bandRows / factor) * width + PAD);
  const bin = bytesPerPixel === 1 ? k.bin2U8 : k.bin2U16;
  const sum = bytesPerPixel === 1 ? k.blockSumsU8 : k.blockSumsU16;
  const data = new Float32Array(width * height);
  for (let y = 0; ; y += bandRows) {
    const binRows = Math.max(0, Math.min(bandRows / 2, mapHeight - y / 2));
    const blockRows = Math.max(0, Math.min(bandRows / factor, height - y / factor));
    if (binRows === 0 && blockRows === 0) break;
    copyIn(buffer, src, y * stride, (y + Math.max(2 * binRows, factor * blockRows)) * stride);
    if (binRows > 0) {
      bin(0, stride * bytesPerPixel, binOffset, mapWidth, binRows);
      out.set(new Float32Array(buffer, binOffset, binRows * mapWidth), (y / 2) * mapWidth);
    }
    if (blockRows > 0) {
      sum(0, stride * bytesPerPixel, factor, width, blockRows, accOffset, sumsOffset);
      k.scaleToFloat32(sumsOffset, blockRows * width, norm, meansOffset);
      data.set(new Float32Array(buffer, meansOffset, blockRows * width), (y / factor) * width);
    }
  }
  return { width, height, data };
}

/** Map rows per band of the noise samples (with the rows above and below the band's first and last). */
const NOISE_BAND_ROWS = 64;

/**
 * estimateNoiseSigma's samples through the kernel: for sample row k (map row rows[k], the
 * pixels x = starts[k] ... starts[k] + counts[k] - 1, each with its four neighbours inside the
 * map), |c - 0.25 (l + r + u + d)| into lap and max(|r - l|, |d - u|) into grad, packed from
 * index 0 in row order: the same float32 values as noise.ts's loop. The map is copied in bands
 * of whole rows (sample rows and the rows next to them); false (nothing written) where the
 * kernel is not available.
 */
export function noiseSamplesKernel(
  data: Float32Array,
  width: number,
  rows: Int32Array,
  starts: Int32Array,
  counts: Int32Array,
  lap: Float32Array,
  grad: Float32Array,
): boolean {
  const k = kernel();
  if (!k) return false;
  const sampleRows = rows.length;
  let n = 0;
  for (let first = 0; first < sampleRows; ) {
    // The band: sample rows while their map rows (one above, one below each) span at most
    // NOISE_BAND_ROWS + 2 rows.
    const top = (rows[first] as number) - 1;
    let last = first;
    let total = counts[first] as number;
    while (last + 1 < sampleRows && (rows[last + 1] as number) + 1 - top < NOISE_BAND_ROWS + 2) {
      last++;
      total += counts[last] as number;
    }
    const bandRows = (rows[last] as number) + 2 - top;
    const bandBytes = 4 * bandRows * width + PAD;
    const tableOffset = Math.ceil(bandBytes / 16) * 16;
    const lapOffset = tableOffset + 8 * (last - first + 1) + PAD;
    const gradOffset = Math.ceil((lapOffset + 4 * total + PAD) / 16) * 16;
    const buffer = memoryOfAtLeast(k, gradOffset + 4 * total + PAD);
    new Float32Array(buffer, 0, bandRows * width).set(
      data.subarray(top * width, (top + bandRows) * width),
    );
    const table = new Int32Array(buffer, tableOffset, 2 * (last - first + 1));
    for (let r = first; r <= last; r++) {
      const at = 2 * (r - first);
      table[at] = 4 * (((rows[r] as number) - top) * width + (starts[r] as number));
      table[at + 1] = counts[r] as number;
    }
    const written = k.noiseSamples(tableOffset, last - first + 1, 4 * width, lapOffset, gradOffset);
    lap.set(new Float32Array(buffer, lapOffset, written), n);
    grad.set(new Float32Array(buffer, gradOffset, written), n);
    n += written;
    first = last + 1;
  }
  return true;
}

/**
 * The illumination fit's normal equations in the kernel's memory (frame.wat normalSums): the
 * caller fills `basis` (block-major: each block's terms, then its value) once and `weights`
 * before each `sums`, whose result holds, at r columns + c for c >= r, the sums the fit's
 * JavaScript takes (a[r][c] for c < terms, b[r] at c = terms), to the last bit; with `full`,
 * for every c (each row's own sums below the diagonal too: the rim fit's). The views stay
 * valid until the next call of another frame kernel (which may grow the memory).
 */
export interface NormalEquationsKernel {
  basis: Float64Array;
  weights: Float64Array;
  sums(): Float64Array;
}

/** Room for `blocks` blocks of `terms` terms and a value; null where the kernel is not available. */
export function normalEquationsKernel(
  blocks: number,
  terms: number,
  full = false,
): NormalEquationsKernel | null {
  const k = kernel();
  if (!k) return null;
  const columns = terms + 1;
  const basisBytes = 8 * blocks * columns + PAD;
  const weightsOffset = Math.ceil(basisBytes / 16) * 16;
  const outOffset = weightsOffset + Math.ceil((8 * blocks + PAD) / 16) * 16;
  const buffer = memoryOfAtLeast(k, outOffset + 8 * terms * columns + PAD);
  const out = new Float64Array(buffer, outOffset, terms * columns);
  return {
    basis: new Float64Array(buffer, 0, blocks * columns),
    weights: new Float64Array(buffer, weightsOffset, blocks),
    sums: () => {
      k.normalSums(0, columns, blocks, weightsOffset, outOffset, terms, full ? 1 : 0);
      return out;
    },
  };
}
