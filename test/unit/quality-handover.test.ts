// The gate's working map handed to the detector: the same bits as binning the cleaned frame, the overview from it, taken once.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "vitest";
import { detect } from "../../endpoint/detector/index.ts";
import { otsuThreshold } from "../../endpoint/detector/locate-coarse.ts";
import { binImage, rebinPixels } from "../../endpoint/detector/raster.ts";
import {
  gateWorkingMap,
  handOverWorkingMap,
  takeHandedOverMap,
  workingMap,
} from "../../endpoint/detector/stages/input.ts";
import { otsu, overviewOf } from "../../endpoint/quality/disk.ts";
import { assessQuality, gatedDetect } from "../../endpoint/quality/index.ts";
import { decodeGray, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures");

/**
 * A frame of seeded random levels over the whole range (the rails included). The draws are
 * lib/random.ts's seededRandom inlined (the same sequence), and floor(random() * 2^bits) taken as
 * the draw's top bits (the same integer): the frame `seededRandom(seed)` gave, at a third of the
 * CPU (36 M pixels in this file).
 */
function randomImage(width: number, height: number, bitDepth: 8 | 16, seed: number): GrayImage {
  const n = width * height;
  const top = bitDepth === 8 ? 255 : 65535;
  const drop = bitDepth === 8 ? 24 : 16;
  const levels = new Int32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    if (u < 0.02 || u > 0.98) {
      levels[i] = u < 0.02 ? 0 : top;
      continue;
    }
    state = (state + 0x6d2b79f5) >>> 0;
    t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    levels[i] = (t ^ (t >>> 14)) >>> drop;
  }
  const data = bitDepth === 8 ? new Uint8Array(n) : new Uint16Array(n);
  data.set(levels);
  return { width, height, bitDepth, data };
}

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

describe("rebinPixels", () => {
  for (const bitDepth of [8, 16] as const) {
    for (const factor of [1, 2, 3, 4, 8]) {
      it(`re-bins the blocks of changed pixels as binImage does (${bitDepth} bit, factor ${factor})`, () => {
        // Sides that leave a partial block: its pixels are outside the map and skipped.
        const image = randomImage(8 * 9 + 5, 8 * 7 + 3, bitDepth, 100 * factor + bitDepth);
        const map = binImage(image, factor);
        const changedImage = { ...image, data: image.data.slice() };
        const random = seededRandom(factor);
        const changed: number[] = [0, image.data.length - 1];
        for (let k = 0; k < 40; k++) changed.push(Math.floor(random() * image.data.length));
        for (const i of changed) changedImage.data[i] = (changedImage.data[i] as number) ^ 0x5a;
        rebinPixels(changedImage, map, changed);
        sameBits(map.data, binImage(changedImage, factor).data, "re-binned map");
      });
    }
  }
});

describe("overviewOf from the working map", () => {
  // 2048 and 1024 px frames (scale 2 and 1), 4096 (scale 4), and sides that leave partial blocks.
  const cases: Array<[number, number]> = [
    [2048, 2048],
    [2051, 2049],
    [1024, 1030],
    [4100, 4096],
  ];
  for (const bitDepth of [8, 16] as const) {
    for (const [width, height] of cases) {
      // One 4096 px case is enough for scale 4 (the random frame costs a second to draw).
      if (width > 4000 && bitDepth === 16) continue;
      it(`gives the levels the frame's own block sums give (${width}x${height}, ${bitDepth} bit)`, () => {
        const image = randomImage(width, height, bitDepth, width + height + bitDepth);
        const fromMap = overviewOf(image, workingMap(image));
        const fromFrame = overviewOf(image);
        assert.deepEqual(
          [fromMap.width, fromMap.height, fromMap.factor],
          [fromFrame.width, fromFrame.height, fromFrame.factor],
        );
        sameBits(fromMap.data, fromFrame.data, "overview");
      });
    }
  }

  it("reads the frame where the map's blocks do not tile the overview's (1536 px: scale 2, factor 3)", () => {
    const image = randomImage(1536, 1536, 8, 7);
    const work = workingMap(image);
    // A map of other values: an overview taken from it would show them.
    const decoy = { ...work, data: new Float32Array(work.data.length).fill(1) };
    sameBits(overviewOf(image, decoy).data, overviewOf(image).data, "overview");
  });
});

describe("the working map the gate hands over", () => {
  it("equals binning the cleaned frame, bit for bit, with hot pixels repaired", async () => {
    // lot-quality's wafer-001 carries 50 hot and dead pixels, which the gate repairs.
    const image = await decodeGray(await readFile(join(FIXTURES, "lot-quality/wafer-001.png")));
    const assessment = assessQuality(image);
    assert.ok(assessment.usable);
    assert.ok(assessment.quality.hotPixelsRemoved > 0, "the fixture has pixels to repair");
    assert.notEqual(assessment.image.data, image.data);
    const handed = takeHandedOverMap(assessment.image);
    assert.ok(handed, "a usable image's map is handed over");
    sameBits(handed.data, workingMap(assessment.image).data, "handed-over map");
    assert.equal(takeHandedOverMap(assessment.image), undefined, "it is taken once");
  });

  it("gives the same detection as binning in detect", async () => {
    const image = await decodeGray(await readFile(join(FIXTURES, "lot-quality/wafer-001.png")));
    const handed = await gatedDetect(image, {}, detect);
    const cleaned = assessQuality(image).image;
    // Taken away first: detect then bins the frame itself.
    assert.ok(takeHandedOverMap(cleaned));
    const binned = detect(cleaned);
    assert.equal(handed.status, "inspected");
    const { timingMs: _a, ...withMap } = handed as Extract<typeof handed, { status: "inspected" }>;
    const { timingMs: _b, ...withoutMap } = binned;
    assert.deepEqual(
      { wafer: withMap.wafer, defects: withMap.defects },
      { wafer: withoutMap.wafer, defects: withoutMap.defects },
    );
  });

  it("is not taken for other pixels, nor after a later gate's map", () => {
    const first = randomImage(600, 600, 8, 1);
    const second = randomImage(600, 600, 8, 2);
    handOverWorkingMap(first, gateWorkingMap(first));
    assert.equal(takeHandedOverMap({ ...first, data: first.data.slice() }), undefined);
    assert.equal(takeHandedOverMap(second), undefined);
    handOverWorkingMap(second, gateWorkingMap(second));
    assert.equal(takeHandedOverMap(first), undefined, "only the latest gate's map is held");
    assert.ok(takeHandedOverMap(second));
  });
});

describe("Otsu's histograms by truncation", () => {
  // Bin boundaries, the ends, values past them, and a NaN: every path of the clamp.
  function awkwardValues(nan: boolean): Float32Array {
    const random = seededRandom(11);
    const values = new Float32Array(5000);
    for (let i = 0; i < values.length; i++) values[i] = random() * 1.2 - 0.1;
    values.set([0, 1, 1 / 256, 255 / 256, -0, -1e-9, 1.0000001, 0.5, 0.25 + 1e-7], 0);
    if (nan) values[100] = Number.NaN;
    return values;
  }

  /** The class split of a histogram as both functions take it (their shared Otsu sweep). */
  function plainHistogram(data: Float32Array, bin: (v: number) => number): Float64Array {
    const hist = new Float64Array(256);
    for (const v of data) {
      const b = bin(v);
      hist[b] = (hist[b] as number) + 1;
    }
    return hist;
  }

  /**
   * Values at the centres of the histogram's bins, in [0, 1): every function bins them alike;
   * and the NaN again (it is counted in the total, in no bin).
   */
  function fromHistogram(hist: Float64Array, nan: boolean): Float32Array {
    const centres = Array.from(hist).flatMap((n, b) => Array<number>(n).fill((b + 0.5) / 256));
    return Float32Array.from(nan ? [...centres, Number.NaN] : centres);
  }

  it("otsu (gate) bins as the plain floor-and-clamp does", () => {
    for (const nan of [false, true]) {
      const values = awkwardValues(nan);
      const hist = plainHistogram(values, (v) => Math.min(255, Math.max(0, Math.floor(v * 256))));
      // The split depends on the histogram only: the plain histogram's values give the same split.
      assert.deepEqual(otsu(values), otsu(fromHistogram(hist, nan)), `NaN ${nan}`);
    }
  });

  it("otsuThreshold (locate) bins as the plain floor-and-clamp does", () => {
    // Values already in [0, 1] with 0 and 1 present: min 0 and span 1 map each value to itself.
    for (const nan of [false, true]) {
      const values = awkwardValues(nan).map((v) => Math.max(0, Math.min(1, v)));
      const hist = plainHistogram(values, (v) => Math.min(255, Math.floor(v * 256)));
      const rebuilt = fromHistogram(hist, nan);
      // The extremes stay (they set the span): the first value of bin 0 and the last of bin 255.
      rebuilt[0] = 0;
      rebuilt[(hist[0] as number) + (hist.slice(1).reduce((a, b) => a + b, 0) - 1)] = 1;
      assert.deepEqual(otsuThreshold(values), otsuThreshold(rebuilt), `NaN ${nan}`);
    }
  });
});
