// The rim blur's ray profiles without the clamp where a ray lies inside it (branch speed12) give the clamped samples, to the last bit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { measureRimBlur, sampleRimProfile } from "../../endpoint/quality/measures.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/** The profile as measureRimBlur took it before speed12: every sample through the clamp. */
function clampedProfile(
  image: GrayImage,
  cx: number,
  cy: number,
  dx: number,
  dy: number,
  from: number,
  step: number,
  samples: number,
): Float64Array {
  const { data, width, height } = image;
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t = from + s * step;
    const x = cx + dx * t;
    const y = cy + dy * t;
    const clampedX = x < 0 ? 0 : Math.min(x, width - 1.001);
    const clampedY = y < 0 ? 0 : Math.min(y, height - 1.001);
    const x0 = Math.floor(clampedX);
    const y0 = Math.floor(clampedY);
    const fx = clampedX - x0;
    const fy = clampedY - y0;
    const i = y0 * width + x0;
    const a = data[i] as number;
    const b = data[i + 1] as number;
    const c = data[i + width] as number;
    const d = data[i + width + 1] as number;
    out[s] = (a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy) / fullScale(image);
  }
  return out;
}

/** A bright disk with streets on a dark chuck, noisy, of the given size and depth. */
function frame(width: number, height: number, bitDepth: 8 | 16, seed: number): GrayImage {
  const random = seededRandom(seed);
  const top = bitDepth === 8 ? 255 : 65535;
  const data = bitDepth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  const cx = width / 2 - 3.3;
  const cy = height / 2 + 2.1;
  const r = 0.42 * Math.min(width, height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const level =
        (x - cx) ** 2 + (y - cy) ** 2 <= r * r ? (x % 29 < 3 || y % 31 < 3 ? 0.5 : 0.75) : 0.12;
      data[y * width + x] = Math.round(
        top * Math.min(1, Math.max(0, level + 0.03 * (random() - 0.5))),
      );
    }
  return { width, height, bitDepth, data };
}

const bitsOf = (values: Float64Array) =>
  Array.from(values, (v) => (Object.is(v, -0) ? "-0" : String(v)));

describe("measureRimBlur's ray profile (quality/measures.ts sampleRimProfile)", () => {
  const images = [frame(301, 287, 8, 1), frame(256, 300, 16, 2)];

  it("equals the clamped samples on rays inside the frame, across it, and past each edge", () => {
    const random = seededRandom(3);
    for (const image of images) {
      const { width, height } = image;
      for (let ray = 0; ray < 400; ray++) {
        const angle = 2 * Math.PI * random();
        const cx = width * (0.2 + 0.6 * random());
        const cy = height * (0.2 + 0.6 * random());
        const from = 200 * random() - 20;
        const samples = 1 + Math.floor(240 * random());
        const dx = Math.cos(angle);
        const dy = Math.sin(angle);
        const got = new Float64Array(samples);
        sampleRimProfile(image, cx, cy, dx, dy, from, 0.5, samples, got);
        assert.deepEqual(
          bitsOf(got),
          bitsOf(clampedProfile(image, cx, cy, dx, dy, from, 0.5, samples)),
        );
      }
    }
  });

  it("equals the clamped samples on rays ending just inside and just past the clamp box (width - 1.001)", () => {
    for (const image of images) {
      const { width, height } = image;
      // Rays along +x and +y whose last sample lies 0.0005 px before the last column or row
      // (inside the box the frame's bounds would allow, outside the clamp's), and 0.0015 px
      // before it (inside the clamp's too).
      for (const gap of [0.0005, 0.0015, 0.001]) {
        for (const [dx, dy] of [
          [1, 0],
          [0, 1],
        ] as const) {
          const samples = 81;
          const end = dx === 1 ? width - 1 - gap : height - 1 - gap;
          const from = end - 40 - (dx === 1 ? 100.25 : 90.75);
          const cx = dx === 1 ? 100.25 : 77.4;
          const cy = dy === 1 ? 90.75 : 123.6;
          const got = new Float64Array(samples);
          sampleRimProfile(image, cx, cy, dx, dy, from, 0.5, samples, got);
          const want = clampedProfile(image, cx, cy, dx, dy, from, 0.5, samples);
          assert.deepEqual(bitsOf(got), bitsOf(want), `gap ${gap}, along ${dx ? "x" : "y"}`);
        }
      }
    }
  });

  it("measures a blur on a whole disk (the profiles feed it)", () => {
    for (const image of images) {
      const cx = image.width / 2 - 3.3;
      const cy = image.height / 2 + 2.1;
      const r = 0.42 * Math.min(image.width, image.height);
      const rim = Array.from({ length: 180 }, (_, k) => {
        const angle = (2 * Math.PI * k) / 180;
        return { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle), angle };
      });
      const blur = measureRimBlur(image, { cx, cy, r }, rim);
      assert.ok(blur !== null && blur >= 0 && blur < 2, `blur ${blur}`);
    }
  });
});
