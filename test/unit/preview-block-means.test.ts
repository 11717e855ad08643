// The overlay's and preview's 2 x 2 block means take their own one-pass path: the same bytes as the general block sums, on any frame.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { previewPixels } from "../../endpoint/preview.ts";
import { blockSums } from "../../lib/block-sums.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/** The means as preview.ts has always taken them from exact block sums: (sum + offset) x scale, truncated to a byte. */
function referenceHalf(image: GrayImage): Uint8Array {
  const { sums } = blockSums(image, 2);
  const sixteen = image.bitDepth === 16;
  const scale = sixteen ? 1 / (257 * 4) : 1 / 4;
  const offset = sixteen ? 128 * 4 : 2;
  return Uint8Array.from(sums, (sum) => (sum + offset) * scale);
}

/** A frame of seeded noise with runs of full scale and of zero, the lanes' extremes. */
function frame(
  width: number,
  height: number,
  bitDepth: 8 | 16,
  seed: number,
  offset = 0,
): GrayImage {
  const random = seededRandom(seed);
  const top = bitDepth === 8 ? 255 : 65535;
  const bytes = bitDepth === 8 ? 1 : 2;
  // A view that starts `offset` pixels into its buffer: the word path must not read it as aligned.
  const buffer = new ArrayBuffer((width * height + offset) * bytes);
  const data =
    bitDepth === 8
      ? new Uint8Array(buffer, offset, width * height)
      : new Uint16Array(buffer, offset * 2, width * height);
  for (let i = 0; i < data.length; i++) {
    const r = random();
    data[i] = r < 0.1 ? top : r < 0.2 ? 0 : Math.floor(random() * (top + 1));
  }
  return { width, height, bitDepth, data };
}

describe("previewPixels at half size", () => {
  it("gives the general block sums' bytes for 8 and 16 bit, aligned or not, whole words or not", async () => {
    const shapes: Array<[number, number, number]> = [
      [64, 64, 0],
      [128, 66, 0],
      [66, 40, 0], // rows of half words: block by block
      [67, 40, 0], // an odd width: the last column dropped
      [64, 40, 1], // a view one byte into its buffer: block by block
      [1000, 8, 0],
    ];
    for (const bitDepth of [8, 16] as const) {
      for (const [width, height, offset] of shapes) {
        const image = frame(width, height, bitDepth, width * 31 + height + offset, offset);
        const side = Math.max(Math.floor(width / 2), Math.floor(height / 2));
        const pixels = await previewPixels(image, side);
        assert.equal(pixels.width, Math.floor(width / 2));
        assert.equal(pixels.height, Math.floor(height / 2));
        assert.deepEqual(
          Buffer.from(pixels.data),
          Buffer.from(referenceHalf(image)),
          `${bitDepth} bit ${width} x ${height}, offset ${offset}`,
        );
      }
    }
  });

  it("keeps full white white and black black in every lane", async () => {
    for (const value of [0, 1, 2, 3, 254, 255]) {
      const image: GrayImage = {
        width: 8,
        height: 4,
        bitDepth: 8,
        data: new Uint8Array(32).fill(value),
      };
      const pixels = await previewPixels(image, 4);
      assert.deepEqual([...pixels.data], new Array(8).fill(value), `value ${value}`);
    }
  });
});
