// The detector's rewritten hot loops (rim rays, overview binning, ...) give exactly the numbers of the plain versions written out here.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { detect } from "../../endpoint/detector/index.ts";
import { castRays } from "../../endpoint/detector/locate-rays.ts";
import {
  binMap,
  binomialBlur3,
  type FloatMap,
  sampleBilinear,
} from "../../endpoint/detector/raster.ts";
import { quantileOfMagnitudes, quantilesOfMagnitudes } from "../../endpoint/detector/select.ts";
import { workingMap, workingMapSize } from "../../endpoint/detector/stages/input.ts";
import { countOnes } from "../../endpoint/detector/stages/thresholds.ts";
import type { PatternAwareSigma } from "../../endpoint/detector/threshold.ts";
import { patternActivity } from "../../endpoint/detector/threshold-activity.ts";
import { pixelTailFactor, pixelTailSample } from "../../endpoint/detector/threshold-pixel-tail.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { decodeGray, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";
import { generateWafer } from "../../synth/generate.ts";

/** A disk of `wafer` level on `chuck`, with a notch and noise, as 8-bit, 16-bit or float data. */
function diskRaster(
  width: number,
  height: number,
  disk: { cx: number; cy: number; r: number },
  levels: { wafer: number; chuck: number; noise: number },
  kind: "u8" | "u16" | "f32",
  seed: number,
): Uint8Array | Uint16Array | Float32Array {
  const random = seededRandom(seed);
  const data =
    kind === "u8"
      ? new Uint8Array(width * height)
      : kind === "u16"
        ? new Uint16Array(width * height)
        : new Float32Array(width * height);
  const top = kind === "u8" ? 255 : 65535;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - disk.cx;
      const dy = y - disk.cy;
      const d = Math.hypot(dx, dy);
      const notch = Math.hypot(x - disk.cx, y - (disk.cy + disk.r)) < 0.03 * disk.r;
      // A soft rim over about 2 px, a little illumination falloff, uniform noise.
      const share = Math.min(1, Math.max(0, (disk.r - d) / 2 + 0.5));
      const inside = notch ? 0 : share;
      const level =
        levels.chuck +
        inside * (levels.wafer - levels.chuck) * (1 - 0.1 * (d / disk.r) ** 2) +
        (random() - 0.5) * 2 * levels.noise;
      data[y * width + x] = kind === "f32" ? level : Math.max(0, Math.min(top, Math.round(level)));
    }
  }
  return data;
}

/** castRays as first written: every sample of every ray, then the crossing read off them. */
function plainCastRays(
  data: ArrayLike<number>,
  width: number,
  height: number,
  centre: { x: number; y: number },
  rays: number,
  rFrom: number,
  rTo: number,
  step: number,
  threshold: number | ((phi: number) => number),
  bright: boolean,
): { angles: Float64Array; radii: Float64Array } {
  const angles = new Float64Array(rays);
  const radii = new Float64Array(rays);
  const count = Math.max(8, Math.ceil((rTo - rFrom) / step));
  const samples = new Float64Array(count);
  for (let i = 0; i < rays; i++) {
    const phi = (2 * Math.PI * i) / rays;
    angles[i] = phi;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    let usable = count;
    for (let k = 0; k < count; k++) {
      const r = rFrom + k * step;
      const x = centre.x + r * c;
      const y = centre.y + r * s;
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) {
        usable = k;
        break;
      }
      samples[k] = sampleBilinear(data, width, height, x, y);
    }
    const level = typeof threshold === "number" ? threshold : threshold(phi);
    const k = plainCrossing(samples, usable, level, bright);
    radii[i] = Number.isNaN(k) ? Number.NaN : rFrom + k * step;
  }
  return { angles, radii };
}

function plainCrossing(
  samples: Float64Array,
  count: number,
  threshold: number,
  bright: boolean,
): number {
  const onWafer = (v: number) => (bright ? v > threshold : v < threshold);
  let k = -1;
  let sawChuck = false;
  for (let i = count - 1; i >= 2; i--) {
    const v = samples[i] as number;
    if (!onWafer(v)) {
      sawChuck = true;
      continue;
    }
    if (sawChuck && onWafer(samples[i - 1] as number) && onWafer(samples[i - 2] as number)) {
      k = i;
      break;
    }
  }
  if (k < 0 || k >= count - 1) return Number.NaN;
  const mean = (from: number, to: number): number => {
    let s = 0;
    let n = 0;
    for (let i = Math.max(0, from); i <= Math.min(count - 1, to); i++) {
      s += samples[i] as number;
      n++;
    }
    return n > 0 ? s / n : Number.NaN;
  };
  const inside = mean(k - 6, k - 3);
  const outside = mean(k + 3, k + 6);
  const mid = Number.isNaN(inside) || Number.isNaN(outside) ? threshold : (inside + outside) / 2;
  for (let j = Math.min(count - 2, k + 3); j >= Math.max(0, k - 3); j--) {
    const a = (samples[j] as number) - mid;
    const b = (samples[j + 1] as number) - mid;
    const aOn = bright ? a > 0 : a < 0;
    const bOn = bright ? b > 0 : b < 0;
    if (aOn && !bOn) return j + a / (a - b);
  }
  const a = (samples[k] as number) - threshold;
  const b = (samples[k + 1] as number) - threshold;
  return k + a / (a - b);
}

const sameBits = (a: Float64Array, b: Float64Array) =>
  assert.deepEqual(Array.from(a, String), Array.from(b, String));

describe("rim rays (locate-rays.ts castRays)", () => {
  const cases = [
    // A disk inside the frame; one whose rim leaves the frame (rays cut short); a dark wafer.
    { label: "8 bit, disk inside", kind: "u8", cx: 150.3, cy: 148.7, r: 120, bright: true },
    { label: "16 bit, disk leaves frame", kind: "u16", cx: 160.2, cy: 140.9, r: 150, bright: true },
    { label: "float, dark wafer", kind: "f32", cx: 149.5, cy: 151.5, r: 125, bright: false },
  ] as const;
  for (const c of cases) {
    it(`gives the plain version's radii to the last bit (${c.label})`, () => {
      const width = 300;
      const height = 290;
      const top = c.kind === "u8" ? 255 : c.kind === "u16" ? 65535 : 1000;
      const levels = c.bright
        ? { wafer: 0.7 * top, chuck: 0.15 * top, noise: 0.04 * top }
        : { wafer: 0.2 * top, chuck: 0.8 * top, noise: 0.04 * top };
      const data = diskRaster(width, height, c, levels, c.kind, 11);
      const threshold = 0.5 * (levels.wafer + levels.chuck);
      // One fixed level and one per ray angle, as the two coarse passes give them.
      const perRay = (phi: number) => threshold * (1 + 0.05 * Math.sin(3 * phi));
      for (const level of [threshold, perRay]) {
        for (const [rFrom, rTo, step] of [
          [0.93 * c.r - 4, 1.03 * c.r + 4, 1],
          [0.6 * c.r, 1.35 * c.r, 0.5],
        ] as const) {
          const centre = { x: c.cx + 0.4, y: c.cy - 0.3 };
          const args = [
            data,
            width,
            height,
            centre,
            1024,
            rFrom,
            rTo,
            step,
            level,
            c.bright,
          ] as const;
          const fast = castRays(...args);
          const plain = plainCastRays(...args);
          sameBits(fast.angles, plain.angles);
          sameBits(fast.radii, plain.radii);
          const found = Array.from(fast.radii).filter(Number.isFinite).length;
          assert.ok(found > 500, `only ${found} rays found the rim`);
        }
      }
    });
  }
});

describe("overview binning (raster.ts binMap)", () => {
  for (const factor of [2, 3, 4]) {
    it(`gives the per-block sums' values to the last bit (factor ${factor})`, () => {
      const random = seededRandom(factor);
      const width = 101;
      const height = 67;
      const data = Float32Array.from({ length: width * height }, () => 1000 * random() - 10);
      const map: FloatMap = { width, height, scale: 2, data };
      const binned = binMap(map, factor);
      const w = Math.floor(width / factor);
      const h = Math.floor(height / factor);
      assert.equal(binned.width, w);
      assert.equal(binned.height, h);
      assert.equal(binned.scale, 2 * factor);
      const plain = new Float32Array(w * h);
      for (let by = 0; by < h; by++) {
        for (let bx = 0; bx < w; bx++) {
          let sum = 0;
          for (let dy = 0; dy < factor; dy++)
            for (let dx = 0; dx < factor; dx++)
              sum += data[(by * factor + dy) * width + bx * factor + dx] as number;
          plain[by * w + bx] = sum * (1 / (factor * factor));
        }
      }
      assert.deepEqual(Array.from(binned.data, String), Array.from(plain, String));
    });
  }
});

/**
 * pixelTailFactor as first written (three fresh arrays, a filter and two selections), on the
 * pixels of its sample (pixelTailSample; detector-pixel-tail.test.ts pins which they are).
 */
function plainPixelTailFactor(
  map: FloatMap,
  residual: Float32Array,
  region: { cx: number; cy: number; r: number },
): number {
  const { width, height } = map;
  const centre: number[] = [];
  const aroundAbs: number[] = [];
  for (const i of pixelTailSample(width, height, region)) {
    const at = (j: number) => residual[j] as number;
    const edges = at(i - 1) + at(i + 1) + at(i - width) + at(i + width);
    const corners = at(i - width - 1) + at(i - width + 1) + at(i + width - 1) + at(i + width + 1);
    centre.push(Math.abs(at(i)));
    aroundAbs.push(Math.abs((2 * edges + corners) / 12));
  }
  if (centre.length < 1000) return 1;
  const around = Float64Array.from(aroundAbs);
  const aroundSigma = quantileOfMagnitudes(around, around.length, 0.95) * DETECTION.q95ToSigma;
  const quiet = Float32Array.from(
    centre.filter((_, k) => (aroundAbs[k] as number) < DETECTION.growSigmas * aroundSigma),
  );
  if (quiet.length < 1000) return 1;
  const [tailQuantile, bodyQuantile] = quantilesOfMagnitudes(quiet, quiet.length, [
    DETECTION.pixelTailQuantile,
    0.95,
  ]) as [number, number];
  const tail = tailQuantile / DETECTION.pixelTailGaussianSigmas;
  const body = bodyQuantile * DETECTION.q95ToSigma;
  return body > 0 ? Math.max(1, tail / body) : 1;
}

describe("pixel-tail factor (threshold-pixel-tail.ts pixelTailFactor)", () => {
  // Gaussian-ish noise, mostly exact zeros (a die-to-die residual), a few heavy outliers.
  const width = 700;
  const height = 660;
  const random = seededRandom(9);
  const residual = new Float32Array(width * height);
  for (let i = 0; i < residual.length; i++) {
    const u = random();
    const noise = (random() + random() + random() - 1.5) * 4;
    residual[i] = u < 0.6 ? 0 : u > 0.997 ? 60 * (random() - 0.5) : noise;
  }
  const map: FloatMap = { width, height, scale: 2, data: new Float32Array(width * height) };
  const regions = [
    { cx: 350.3, cy: 329.6, r: 230.2 },
    { cx: 349.7, cy: 330.2, r: 445.5 }, // clipped by the frame
    { cx: 350.2, cy: 330.1, r: 300.4 },
    { cx: 200.5, cy: 240.1, r: 90.3 }, // every pixel of the disk
  ];
  for (const region of regions) {
    it(`gives the plain version's factor to the last bit (r ${region.r})`, () => {
      // Twice: the second call reuses the scratch arrays the first one grew.
      for (let round = 0; round < 2; round++) {
        const factor = pixelTailFactor(map, residual, region);
        assert.ok(Object.is(factor, plainPixelTailFactor(map, residual, region)));
      }
    });
  }
  it("finds the heavy tail it is built for", () => {
    assert.ok(pixelTailFactor(map, residual, regions[0] as (typeof regions)[0]) > 1.5);
  });
});

describe("pattern activity (threshold-activity.ts patternActivity)", () => {
  it("is the smaller 3x3 range of the two neighbour dies, as a plain loop gives it", () => {
    const random = seededRandom(3);
    const width = 90;
    const height = 80;
    const data = Float32Array.from({ length: width * height }, () => Math.round(200 * random()));
    const map: FloatMap = { width, height, scale: 1, data };
    const offset = 7 * width + 11;
    const model: PatternAwareSigma = {
      bounds: Float64Array.of(Number.POSITIVE_INFINITY),
      sigmas: Float64Array.of(1),
      neighbourOffset: offset,
      map,
    };
    const range = (i: number) => {
      const values: number[] = [];
      for (const dy of [-width, 0, width])
        for (const dx of [-1, 0, 1]) values.push(data[i + dy + dx] as number);
      return Math.max(...values) - Math.min(...values);
    };
    const size = data.length - width - 1;
    for (let i = 0; i < data.length; i++) {
      const plus = i + offset;
      const minus = i - offset;
      const a = plus > width && plus < size ? range(plus) : Number.POSITIVE_INFINITY;
      const b = minus > width && minus < size ? range(minus) : Number.POSITIVE_INFINITY;
      const m = Math.min(a, b);
      assert.equal(patternActivity(model, i), Number.isFinite(m) ? m : 0, `pixel ${i}`);
    }
  });
});

describe("mask counts (stages/thresholds.ts countOnes)", () => {
  it("sums every byte, aligned or not, whatever the byte values", () => {
    const random = seededRandom(4);
    const bytes = Uint8Array.from({ length: 4099 }, () =>
      random() < 0.5 ? 0 : random() < 0.9 ? 1 : Math.floor(256 * random()),
    );
    for (const [from, to] of [
      [0, 4099],
      [1, 4099],
      [4, 4096],
      [3, 10],
    ] as const) {
      const view = bytes.subarray(from, to);
      const plain = view.reduce((sum, v) => sum + v, 0);
      assert.equal(countOnes(view), plain, `bytes ${from}-${to}`);
    }
  });
});

describe("binomial smoothing of a residual that is +0 outside a disk (raster.ts binomialBlur3)", () => {
  /** [1 2 1] x [1 2 1] / 16 per pixel with replicated edges, rows first, through float32 rows. */
  function plainBinomial(src: Float32Array, width: number, height: number): Float32Array {
    const rows = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const l = src[y * width + Math.max(0, x - 1)] as number;
        const r = src[y * width + Math.min(width - 1, x + 1)] as number;
        rows[y * width + x] = 0.25 * (l + r) + 0.5 * (src[y * width + x] as number);
      }
    }
    const out = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const u = rows[Math.max(0, y - 1) * width + x] as number;
        const d = rows[Math.min(height - 1, y + 1) * width + x] as number;
        out[y * width + x] = 0.25 * (u + d) + 0.5 * (rows[y * width + x] as number);
      }
    }
    return out;
  }
  const cases = [
    { label: "disk inside the frame", width: 61, height: 53, cx: 30, cy: 26, r: 18 },
    { label: "disk touching every edge", width: 40, height: 40, cx: 19.5, cy: 19.5, r: 30 },
    { label: "one nonzero pixel in a corner", width: 9, height: 7, cx: 0, cy: 0, r: 0.5 },
    { label: "single column", width: 1, height: 9, cx: 0, cy: 4, r: 2 },
    { label: "all zero", width: 12, height: 5, cx: -50, cy: -50, r: 1 },
  ];
  for (const c of cases) {
    it(`matches the per-pixel formula bit for bit, signed zeros included (${c.label})`, () => {
      const random = seededRandom(c.width * 7 + c.height);
      const src = new Float32Array(c.width * c.height);
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          if (Math.hypot(x - c.cx, y - c.cy) >= c.r) continue;
          const u = random();
          // Mostly exact zeros inside too (a die-to-die residual), some -0, the rest noise.
          src[y * c.width + x] = u < 0.5 ? 0 : u < 0.6 ? -0 : 20 * random() - 10;
        }
      }
      // Out of a used buffer: the zeros must be written, not assumed.
      const out = new Float32Array(c.width * c.height).fill(7);
      binomialBlur3(src, c.width, c.height, out);
      const plain = plainBinomial(src, c.width, c.height);
      assert.deepEqual(
        Array.from(out, (v) => (Object.is(v, -0) ? "-0" : String(v))),
        Array.from(plain, (v) => (Object.is(v, -0) ? "-0" : String(v))),
      );
    });
  }
});

describe("frame buffers kept from one detection for the next (index.ts)", () => {
  it("gives every wafer the result it gets first, whatever ran in between", async () => {
    const wafer = async (index: number, size: number, surface: "bare" | "patterned") =>
      decodeGray(
        (await generateWafer(4242, index, { size, surface, format: "png", clean: false })).bytes,
      );
    const bare = await wafer(0, 640, "bare");
    const patterned = await wafer(1, 640, "patterned");
    const small = await wafer(2, 512, "bare");
    const answer = (image: Awaited<ReturnType<typeof wafer>>) => {
      const { timingMs: _times, ...rest } = detect(image);
      return JSON.stringify(rest);
    };
    const first = [answer(bare), answer(patterned), answer(small)];
    // Again, in another order: the buffers now hold the other wafers' maps (or another size).
    assert.equal(answer(small), first[2]);
    assert.equal(answer(patterned), first[1]);
    assert.equal(answer(bare), first[0]);
    assert.equal(answer(small), first[2]);
    assert.ok(JSON.parse(first[1] as string).defects.length > 0, "the patterned wafer has defects");
  });

  it("refuses a working-map buffer of the wrong size, naming both sizes", () => {
    // The check reads the frame's size only: a blank 512 px frame, not a generated wafer.
    const image: GrayImage = {
      width: 512,
      height: 512,
      bitDepth: 8,
      data: new Uint8Array(512 * 512),
    };
    assert.equal(workingMapSize(image), 512 * 512);
    assert.throws(
      () => workingMap(image, new Float32Array(100)),
      /buffer of 100 values for a 512x512 map/,
    );
  });
});
