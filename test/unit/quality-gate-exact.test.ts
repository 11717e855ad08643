// The gate's speed cuts (gate13) give the measures of the plain code they replaced, to the last bit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { LAPLACIAN_GAIN, MAD_TO_SIGMA } from "../../endpoint/detector/noise.ts";
import { type Disk, measureNoise } from "../../endpoint/quality/measures.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/** The k-th smallest by a full sort of a copy: what any exact select must return. */
function sortedKth(values: ArrayLike<number>, count: number, q: number): number {
  // A plain loop, not Float64Array.from with a map function (several times slower per value).
  const copy = new Float64Array(count);
  for (let i = 0; i < count; i++) copy[i] = values[i] as number;
  copy.sort();
  const k = Math.min(count - 1, Math.max(0, Math.round(q * (count - 1))));
  return copy[k] as number;
}

/** measureNoise as it was before gate13, its medians by sorting: the reference. */
function noiseByReference(image: GrayImage, disk: Disk, maxSamples = 60_000): number {
  const { width, height, data } = image;
  const scale = 1 / fullScale(image);
  const area = Math.PI * disk.r * disk.r;
  const step = Math.max(1, Math.round(Math.sqrt(area / maxSamples)));
  const lap: number[] = [];
  const grad: number[] = [];
  const y0 = Math.max(1, Math.ceil(disk.cy - disk.r));
  const y1 = Math.min(height - 2, Math.floor(disk.cy + disk.r));
  for (let y = y0; y <= y1; y += step) {
    const dy = y - disk.cy;
    const half = Math.sqrt(Math.max(0, disk.r * disk.r - dy * dy));
    const xa = Math.max(1, Math.ceil(disk.cx - half));
    const xb = Math.min(width - 2, Math.floor(disk.cx + half));
    for (let x = xa; x <= xb; x += step) {
      const i = y * width + x;
      const c = data[i] as number;
      const l = data[i - 1] as number;
      const r = data[i + 1] as number;
      const u = data[i - width] as number;
      const d = data[i + width] as number;
      lap.push(Math.abs(c - 0.25 * (l + r + u + d)) * scale);
      grad.push(Math.max(Math.abs(r - l), Math.abs(d - u)) * scale);
    }
  }
  const n = lap.length;
  if (n < 16) return 0;
  const first = (MAD_TO_SIGMA * sortedKth(lap, n, 0.5)) / LAPLACIAN_GAIN;
  const gate = 3 * Math.SQRT2 * first;
  const passing = lap.filter((_, i) => (grad[i] as number) <= gate);
  if (passing.length < n * 0.2) return first;
  return (MAD_TO_SIGMA * sortedKth(passing, passing.length, 0.5)) / LAPLACIAN_GAIN;
}

/**
 * A wafer-like frame: a disk of one level with a die grid of darker streets (edges the gate
 * must leave out), Gaussian-ish noise, a few hot pixels, on a darker chuck.
 */
function waferFrame(side: number, bitDepth: 8 | 16, noise: number, seed: number): GrayImage {
  const random = seededRandom(seed);
  const top = bitDepth === 8 ? 255 : 65535;
  const data = bitDepth === 8 ? new Uint8Array(side * side) : new Uint16Array(side * side);
  const c = (side - 1) / 2;
  const r = 0.45 * side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const onWafer = (x - c) ** 2 + (y - c) ** 2 <= r * r;
      const street = x % 37 < 3 || y % 41 < 3;
      const level = onWafer ? (street ? 0.45 : 0.7) : 0.15;
      const gauss = random() + random() + random() - 1.5;
      const v = (level + noise * 2 * gauss) * top;
      data[y * side + x] = Math.min(top, Math.max(0, Math.round(v)));
    }
  }
  for (let k = 0; k < 30; k++) data[Math.floor(random() * data.length)] = random() < 0.5 ? top : 0;
  return { width: side, height: side, bitDepth, data };
}

describe("measureNoise by the histogram select", () => {
  for (const bitDepth of [8, 16] as const) {
    for (const noise of [0.002, 0.01, 0.03]) {
      it(`equals the sorted medians (${bitDepth} bit, noise ${noise})`, () => {
        const image = waferFrame(700, bitDepth, noise, bitDepth * 1000 + noise * 1e4);
        const c = (image.width - 1) / 2;
        // The fitted disk's inner part, an off-centre one, and one clipped by the frame.
        const disks: Disk[] = [
          { cx: c, cy: c, r: 0.97 * 0.45 * image.width },
          { cx: c + 13.4, cy: c - 7.7, r: 200.3 },
          { cx: 30.5, cy: 650.2, r: 120 },
        ];
        for (const disk of disks) {
          for (const maxSamples of [60_000, 5_000, 1_000]) {
            const expected = noiseByReference(image, disk, maxSamples);
            const actual = measureNoise(image, disk, maxSamples);
            assert.ok(
              Object.is(actual, expected),
              `disk ${JSON.stringify(disk)}, ${maxSamples} samples: ${actual} vs ${expected}`,
            );
          }
        }
      });
    }
  }

  it("takes the first median where fewer than a fifth of the samples pass the gradient gate", () => {
    // Stripes two pixels wide: every sample sits on an edge, its central difference far above
    // the gate the first median sets.
    const side = 200;
    const data = new Uint8Array(side * side);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) data[y * side + x] = x % 4 < 2 ? 40 : 200;
    const image: GrayImage = { width: side, height: side, bitDepth: 8, data };
    const disk = { cx: 99.5, cy: 99.5, r: 80 };
    assert.ok(Object.is(measureNoise(image, disk), noiseByReference(image, disk)));
  });
});
