// The gate's hot-pixel scan (measures.ts removeHotPixels) replaces exactly the pixels a plain per-pixel scan does.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { removeHotPixels } from "../../endpoint/quality/measures.ts";
import {
  HOT_PIXEL_ISOLATION,
  HOT_PIXEL_MIN_STEP,
  HOT_PIXEL_SIGMAS,
  NOISE_FLOOR,
} from "../../endpoint/quality/thresholds.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/** Every interior pixel tested on its own, in the order the rule is written: the reference. */
function referenceScan(image: GrayImage, noiseSigma: number): { data: number[]; removed: number } {
  const { width, height, data: src } = image;
  const threshold =
    Math.max(HOT_PIXEL_SIGMAS * Math.max(noiseSigma, NOISE_FLOOR), HOT_PIXEL_MIN_STEP) *
    fullScale(image);
  const quick = threshold * HOT_PIXEL_ISOLATION;
  const out = Array.from(src);
  let removed = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const c = src[i] as number;
      const dl = c - (src[i - 1] as number);
      const dr = c - (src[i + 1] as number);
      if (Math.abs(dl) < quick || Math.abs(dr) < quick || dl * dr <= 0) continue;
      const around = [-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1]
        .map((d) => src[i + d] as number)
        .sort((a, b) => a - b);
      const med = 0.5 * ((around[3] as number) + (around[4] as number));
      const spike = Math.abs(c - med);
      if (spike < threshold) continue;
      const nearest = c > med ? c - (around[7] as number) : (around[0] as number) - c;
      if (nearest < HOT_PIXEL_ISOLATION * spike) continue;
      out[i] = Math.round(med);
      removed++;
    }
  }
  return { data: out, removed };
}

describe("removeHotPixels", () => {
  it("matches the per-pixel reference with faults at every column parity, in pairs and at the row ends", () => {
    const random = seededRandom(12);
    for (const bitDepth of [8, 16] as const) {
      const width = 67;
      const height = 41;
      const full = bitDepth === 8 ? 255 : 65535;
      const data =
        bitDepth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
      for (let i = 0; i < data.length; i++) data[i] = Math.round(full * (0.4 + 0.02 * random()));
      for (let k = 0; k < 150; k++) {
        const x = 1 + Math.floor(random() * (width - 2));
        const y = 1 + Math.floor(random() * (height - 2));
        const value = random() < 0.5 ? full : 0;
        data[y * width + x] = value;
        // Some faults come in horizontal pairs (not isolated) and some sit at the row ends.
        if (k % 5 === 0 && x < width - 2) data[y * width + x + 1] = value;
        if (k % 7 === 0) data[y * width + (k % 2 ? 1 : width - 2)] = value;
      }
      const image: GrayImage = { width, height, bitDepth, data };
      const expected = referenceScan(image, 0.01);
      const got = removeHotPixels(image, 0.01);
      assert.ok(expected.removed > 20, "the planted faults are found");
      assert.equal(got.removed, expected.removed);
      assert.deepEqual(Array.from(got.image.data), expected.data);
    }
  });
});
