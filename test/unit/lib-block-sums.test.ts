// blockSums: exact block sums for both pixel types, partial blocks dropped, a bad factor refused.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { blockSums } from "../../lib/block-sums.ts";
import type { GrayImage } from "../../lib/gray-image.ts";

function image(width: number, height: number, bitDepth: 8 | 16): GrayImage {
  const data = bitDepth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % (bitDepth === 8 ? 256 : 65536);
  return { width, height, bitDepth, data };
}

describe("blockSums", () => {
  for (const bitDepth of [8, 16] as const) {
    it(`sums each whole block of a ${bitDepth}-bit image, as a plain loop does`, () => {
      const img = image(11, 7, bitDepth);
      const { width, height, sums } = blockSums(img, 3);
      assert.deepEqual([width, height], [3, 2], "the last partial column and row are dropped");
      for (let by = 0; by < height; by++) {
        for (let bx = 0; bx < width; bx++) {
          let expected = 0;
          for (let y = 0; y < 3; y++)
            for (let x = 0; x < 3; x++)
              expected += img.data[(by * 3 + y) * img.width + bx * 3 + x] as number;
          assert.equal(sums[by * width + bx], expected, `block ${bx},${by}`);
        }
      }
    });
  }

  it("refuses a factor that is not a whole number from 1, naming it", () => {
    assert.throws(() => blockSums(image(4, 4, 8), 0), /block factor .* got 0/);
    assert.throws(() => blockSums(image(4, 4, 8), 1.5), /got 1\.5/);
  });
});
