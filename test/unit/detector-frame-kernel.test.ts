// The frame kernels (frame.wat): 2x2 binning and the gate's hot-pixel scan give the JavaScript's bits and candidates.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import {
  bin2Kernel,
  blockMeansKernel,
  blockSumsKernel,
  scanKernel,
  scanKernelInto,
  useFrameKernels,
} from "../../endpoint/detector/frame-passes.ts";
import { binImage } from "../../endpoint/detector/raster.ts";
import { overviewOf } from "../../endpoint/quality/disk.ts";
import { removeHotPixels } from "../../endpoint/quality/measures.ts";
import { blockSums } from "../../lib/block-sums.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/**
 * A frame of seeded levels: a flat level with small noise (few candidates), spikes of every
 * size, and patches of uniform random values over the whole range, the rails included (many).
 */
function frame(width: number, height: number, bitDepth: 8 | 16, seed: number): GrayImage {
  const random = seededRandom(seed);
  const top = bitDepth === 8 ? 255 : 65535;
  const data = bitDepth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const u = random();
    const x = i % width;
    if (x % 23 < 5) data[i] = u < 0.05 ? 0 : u > 0.95 ? top : Math.floor(random() * (top + 1));
    else if (u < 0.02) data[i] = Math.floor(random() * (top + 1));
    else data[i] = Math.round(top * (0.5 + 0.01 * (random() - 0.5)));
  }
  return { width, height, bitDepth, data };
}

/** The JavaScript scan, as the gate runs it without the kernel (removeHotPixels' own candidates are not exported). */
function scanByJavaScript(image: GrayImage, reach: number): number[] {
  const { width, height, data } = image;
  const found: number[] = [];
  for (let y = 3; y < height - 3; y++) {
    for (let x = 3; x < width - 3; x++) {
      const i = y * width + x;
      const c = data[i] as number;
      const dl = c - (data[i - 1] as number) + reach;
      const du = c - (data[i - width] as number) + reach;
      if (dl >>> 0 <= 2 * reach && du >>> 0 <= 2 * reach) continue;
      found.push(i);
    }
  }
  return found;
}

describe("frame kernels (frame.wat)", () => {
  afterEach(() => useFrameKernels(true));

  for (const bitDepth of [8, 16] as const) {
    // Map widths with and without a partial group of 8 (4) columns, odd frame sides, and
    // heights over several bands of 32 map rows.
    const sizes: Array<[number, number]> = [
      [2, 2],
      [17, 9],
      [16, 70],
      [31, 131],
      [130, 77],
      [515, 200],
    ];
    for (const [width, height] of sizes) {
      it(`bins ${width}x${height} ${bitDepth}-bit frames 2x2 to the JavaScript's bits`, () => {
        const image = frame(width, height, bitDepth, width * height + bitDepth);
        useFrameKernels(false);
        const byJavaScript = binImage(image, 2).data;
        useFrameKernels(true);
        const out = new Float32Array(Math.floor(width / 2) * Math.floor(height / 2));
        const ran = bin2Kernel(
          image.data,
          width,
          Math.floor(width / 2),
          Math.floor(height / 2),
          out,
        );
        assert.ok(ran, "WebAssembly SIMD is available in this Node");
        assert.deepEqual(
          new Uint32Array(out.buffer),
          new Uint32Array(byJavaScript.buffer),
          "the same float32 bits",
        );
        assert.deepEqual(binImage(image, 2).data, byJavaScript, "binImage takes the kernel path");
      });
    }

    const top = bitDepth === 8 ? 255 : 65535;
    const reaches = [0, 1, 7, Math.round(top * 0.08), top - 2, top - 1];
    for (const [width, height] of [
      [7, 7],
      [8, 40],
      [19, 9],
      [22, 75],
      [40, 70],
      [301, 97],
    ] as Array<[number, number]>) {
      it(`scans ${width}x${height} ${bitDepth}-bit frames for the JavaScript's candidates, in its order`, () => {
        const image = frame(width, height, bitDepth, 7 * width + height + bitDepth);
        for (const reach of reaches) {
          const found: number[] = [];
          assert.ok(scanKernel(image.data, width, height, 3, reach, found));
          assert.deepEqual(found, scanByJavaScript(image, reach), `reach ${reach}`);
        }
        const none: number[] = [];
        assert.ok(scanKernel(image.data, width, height, 3, top, none));
        assert.deepEqual(none, [], "no two pixels differ by more than full scale");
        assert.equal(scanKernel(image.data, width, height, 3, -1, []), false, "left to JavaScript");
      });
    }

    for (const factor of [1, 2, 3, 5, 7, 16]) {
      it(`sums ${bitDepth}-bit ${factor}x${factor} blocks as blockSums does`, () => {
        // Partial blocks at the right and bottom, rows over several bands, the lanes' top.
        const image = frame(16 * factor + 35, 9 * factor + 2, bitDepth, 31 * factor + bitDepth);
        image.data.fill(top, 0, 3 * image.width);
        const byKernel = blockSumsKernel(image, factor);
        const byJavaScript = blockSums(image, factor);
        assert.ok(byKernel);
        assert.deepEqual(
          [byKernel.width, byKernel.height],
          [byJavaScript.width, byJavaScript.height],
        );
        assert.deepEqual(byKernel.sums, byJavaScript.sums);
      });
    }

    it(`gives ${bitDepth}-bit block means as float32 of the sums times norm (speed6)`, () => {
      for (const factor of [1, 3, 4, 16]) {
        const image = frame(16 * factor + 35, 9 * factor + 2, bitDepth, 37 * factor + bitDepth);
        image.data.fill(top, 0, 3 * image.width);
        // The overview's norm (1 / (factor^2 full scale)) and one that rounds in float32.
        for (const norm of [1 / (factor * factor * top), Math.PI / 1e5]) {
          const means = blockMeansKernel(image, factor, norm);
          const { width, height, sums } = blockSums(image, factor);
          assert.ok(means);
          assert.deepEqual([means.width, means.height], [width, height]);
          const expected = Float32Array.from(sums, (sum) => sum * norm);
          for (let k = 0; k < expected.length; k++)
            assert.ok(Object.is(means.data[k], expected[k]), `factor ${factor}, block ${k}`);
        }
      }
      assert.equal(blockMeansKernel(frame(40, 40, bitDepth, 1), 17, 1), null);
    });

    it(`gives the gate's ${bitDepth}-bit overview of a frame the map does not tile with and without the kernel`, () => {
      // 1541 x 1600: factor 3, read from the frame (the map's scale 2 does not tile 3 x 3 blocks).
      const image = frame(1541, 1600, bitDepth, 5 + bitDepth);
      const withKernel = overviewOf(image);
      useFrameKernels(false);
      const withoutKernel = overviewOf(image);
      assert.equal(withKernel.factor, 3);
      assert.deepEqual(
        [withKernel.width, withKernel.height],
        [withoutKernel.width, withoutKernel.height],
      );
      assert.ok(withKernel.data.every((v, k) => Object.is(v, withoutKernel.data[k])));
    });

    it(`leaves ${bitDepth}-bit blocks over 16 px to JavaScript (32-bit lanes)`, () => {
      assert.equal(blockSumsKernel(frame(40, 40, bitDepth, 1), 17), null);
    });

    it(`scans ${bitDepth}-bit frames into a kept array, grown and reused with stale values (branch speed12)`, () => {
      const into = { indices: Int32Array.of(-5, 7, 123_456) };
      for (const [width, height] of [
        [301, 97],
        [301, 203],
        [22, 75],
        [301, 97],
      ] as Array<[number, number]>) {
        const image = frame(width, height, bitDepth, 5 * width + height + bitDepth);
        for (const reach of [0, 7, Math.round(top * 0.08)]) {
          const count = scanKernelInto(image.data, width, height, 3, reach, into);
          assert.ok(count !== null, "WebAssembly SIMD is available in this Node");
          assert.deepEqual(
            Array.from(into.indices.subarray(0, count)),
            scanByJavaScript(image, reach),
            `${width}x${height}, reach ${reach}`,
          );
        }
      }
    });

    it(`removes the same hot pixels of ${bitDepth}-bit frames one after another with and without the kernel (kept candidates, branch speed12)`, () => {
      const frames = [
        frame(301, 203, bitDepth, 31),
        frame(97, 61, bitDepth, 32),
        frame(301, 203, bitDepth, 33),
      ];
      for (const image of frames)
        for (let k = 0; k < 12; k++)
          image.data[(7 + 3 * k) * image.width + 8 + 4 * k] = k % 2 ? top : 0;
      const withKernel = frames.map((image) => removeHotPixels(image, 0.003));
      useFrameKernels(false);
      const withoutKernel = frames.map((image) => removeHotPixels(image, 0.003));
      for (const [k, got] of withKernel.entries()) {
        const want = withoutKernel[k] as ReturnType<typeof removeHotPixels>;
        assert.ok(got.removed > 0, `frame ${k} removed ${got.removed}`);
        assert.deepEqual(got.repaired, want.repaired, `frame ${k}`);
        assert.deepEqual(got.image.data, want.image.data, `frame ${k}`);
      }
    });

    it(`removes the same hot pixels of a ${bitDepth}-bit frame with and without the kernel`, () => {
      const image = frame(301, 203, bitDepth, 99 + bitDepth);
      // Isolated spikes on the flat part, away from the random columns.
      for (let k = 0; k < 30; k++) {
        const y = 5 + ((k * 37) % 190);
        const x = 6 + 23 * (k % 12) + 8;
        image.data[y * 301 + x] = k % 2 ? top : 0;
      }
      const withKernel = removeHotPixels(image, 0.003);
      useFrameKernels(false);
      const withoutKernel = removeHotPixels(image, 0.003);
      assert.ok(withKernel.removed >= 20, `removed ${withKernel.removed}`);
      assert.equal(withKernel.removed, withoutKernel.removed);
      assert.deepEqual(withKernel.repaired, withoutKernel.repaired);
      assert.deepEqual(withKernel.image.data, withoutKernel.image.data);
    });
  }
});
