// The residual's list of pixels that may stand out (speed14): complete, and the two passes that read it (the interpolation-error gate, the footprints' candidates) give what their walks over the disk give, bit for bit.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import {
  dieToDieResidual,
  float32AtMost,
  type StandingOut,
  useResidualKernel,
} from "../../endpoint/detector/die-to-die.ts";
import { boundInterpolationError } from "../../endpoint/detector/die-to-die-allowance.ts";
import { restoreOneSignedFootprints } from "../../endpoint/detector/die-to-die-footprint.ts";
import { candidateFloor } from "../../endpoint/detector/die-to-die-footprint-candidates.ts";
import { PAIR_DIFFERENCE_GAIN } from "../../endpoint/detector/noise.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { INTERPOLATION_ERROR } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

interface Vec {
  x: number;
  y: number;
}

const sameBits = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );

/** A die grid with a sharp motif, a gradient, noise and bright and dark spots, smoothed. */
function smoothedPattern(width: number, height: number, a: Vec, b: Vec, seed: number) {
  const random = seededRandom(seed);
  const det = a.x * b.y - a.y * b.x;
  const raw = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = (x * b.y - y * b.x) / det;
      const t = (a.x * y - a.y * x) / det;
      const u = s - Math.floor(s);
      const v = t - Math.floor(t);
      const motif = u > 0.3 && u < 0.6 && v > 0.2 && v < 0.7 ? 180 : u < 0.08 || v < 0.08 ? -90 : 0;
      const spot = random() < 0.002 ? (random() < 0.5 ? 60 : -60) : 0;
      raw[y * width + x] = 900 + 0.2 * x - 0.1 * y + motif + spot + 6 * standardNormal(random);
    }
  const data = new Float32Array(width * height);
  binomialBlur3(raw, width, height, data);
  return { width, height, scale: 1, data };
}

const LATTICES: Array<{ a: Vec; b: Vec }> = [
  { a: { x: 23.5, y: 0.5 }, b: { x: -0.5, y: 19.5 } },
  { a: { x: 24.3, y: 0 }, b: { x: 0, y: 21.7 } },
  { a: { x: -26.75, y: 6.72 }, b: { x: 5.17, y: 25.29 } },
];

/** The stage's three passes, with the list handed on or not; the residual after each. */
function passes(
  map: ReturnType<typeof smoothedPattern>,
  a: Vec,
  b: Vec,
  region: { cx: number; cy: number; r: number },
  sigma: number,
  useList: boolean,
) {
  const size = map.width * map.height;
  const residual = new Float32Array(size);
  const edgeMask = new Uint8Array(size);
  const edgeGain = new Uint8Array(size);
  const gate = INTERPOLATION_ERROR.gatePairSigmas * PAIR_DIFFERENCE_GAIN * sigma;
  const standing = dieToDieResidual(
    map,
    a,
    b,
    region,
    region.r + 4,
    sigma,
    residual,
    edgeMask,
    edgeGain,
    Math.min(gate, candidateFloor(sigma)),
  );
  const list = standing ? Array.from(standing.indices.subarray(0, standing.count)) : [];
  const first = residual.slice();
  const lowered = boundInterpolationError(
    map,
    a,
    b,
    region,
    sigma,
    gate,
    edgeMask,
    residual,
    useList ? standing : undefined,
  );
  const second = residual.slice();
  const outcome = restoreOneSignedFootprints(
    map,
    a,
    b,
    region,
    sigma,
    edgeMask,
    residual,
    useList ? standing : undefined,
  );
  return { list, first, lowered, second, outcome, residual, edgeMask, gate };
}

describe("the residual's list of pixels that may stand out", () => {
  afterEach(() => useResidualKernel(true));

  it("float32AtMost is the largest float32 at or below its argument", () => {
    for (const x of [1, 0.1, 1 / 3, 2.5e-5, 7.000000000000001, 123456.789, 3.4e38]) {
      const f = float32AtMost(x);
      assert.equal(Math.fround(f), f);
      assert.ok(f <= x, `${f} > ${x}`);
      // The next float32 up lies above x.
      const word = new Int32Array(new Float32Array([f]).buffer);
      word[0] = (word[0] as number) + 1;
      const next = new Float32Array(word.buffer)[0] as number;
      assert.ok(next > x, `${next} <= ${x}`);
    }
  });

  for (const [k, { a, b }] of LATTICES.entries()) {
    it(`lists every pixel at or over its limit, ascending, kernel and JavaScript alike (lattice ${k})`, () => {
      const map = smoothedPattern(300, 290, a, b, 40 + k);
      const region = { cx: 151.3, cy: 143.8, r: 135 };
      const sigma = 2.5;
      const lists: number[][] = [];
      for (const kernel of [true, false]) {
        useResidualKernel(kernel);
        const { list, first, gate } = passes(map, a, b, region, sigma, false);
        const limit = Math.min(gate, candidateFloor(sigma));
        const listed = new Set(list);
        let over = 0;
        for (let at = 0; at < first.length; at++)
          if (Math.abs(first[at] as number) >= limit) {
            over++;
            assert.ok(listed.has(at), `pixel ${at} (${first[at]}) not listed`);
          }
        assert.ok(over > 50, `${over} pixels over the limit: the case tests little`);
        for (let n = 1; n < list.length; n++)
          assert.ok((list[n] as number) > (list[n - 1] as number), "not ascending");
        // Nothing listed below the float32 bound, nothing outside the disk's rows.
        const bound = float32AtMost(limit);
        for (const at of list) {
          assert.ok(Math.abs(first[at] as number) >= bound);
          const x = at % map.width;
          const y = (at - x) / map.width;
          assert.ok((x - region.cx) ** 2 + (y - region.cy) ** 2 <= region.r ** 2 + 1e-9);
        }
        lists.push(list);
      }
      assert.deepEqual(lists[0], lists[1]);
    });

    it(`the gate and the footprints read from the list give their walks' residual bit for bit (lattice ${k})`, () => {
      for (const kernel of [true, false]) {
        useResidualKernel(kernel);
        // The second disk reaches past the map's sides, where the footprints' spans (HALF + 1
        // from the sides) are narrower than the residual's.
        for (const [seed, sigma, region] of [
          [60 + k, 2.5, { cx: 149.6, cy: 146.1, r: 136.5 }],
          [70 + k, 1.2, { cx: 151.2, cy: 143.7, r: 152.5 }],
        ] as const) {
          const map = smoothedPattern(300, 290, a, b, seed);
          const walked = passes(map, a, b, region, sigma, false);
          const read = passes(map, a, b, region, sigma, true);
          assert.ok(sameBits(read.first, walked.first));
          assert.equal(read.lowered, walked.lowered);
          assert.ok(sameBits(read.second, walked.second), "the gate's residual differs");
          assert.deepEqual(read.outcome, walked.outcome);
          assert.ok(sameBits(read.residual, walked.residual), "the footprints' residual differs");
          // The passes did something here, so the equality says something.
          assert.ok(walked.outcome.candidates > 0, JSON.stringify(walked.outcome));
        }
      }
    });
  }

  it("is not used for another region, another width or a bound under its limit", () => {
    const { a, b } = LATTICES[0] as { a: Vec; b: Vec };
    const map = smoothedPattern(200, 200, a, b, 5);
    const region = { cx: 100, cy: 100, r: 90 };
    const standing = dieToDieResidual(
      map,
      a,
      b,
      region,
      94,
      2,
      new Float32Array(200 * 200),
      new Uint8Array(200 * 200),
      new Uint8Array(200 * 200),
      10,
    ) as StandingOut;
    assert.ok(standing.serves({ ...region }, 200, 10));
    assert.ok(standing.serves(region, 200, 11));
    assert.ok(!standing.serves(region, 200, 9.999));
    assert.ok(!standing.serves({ ...region, r: 89.5 }, 200, 10));
    assert.ok(!standing.serves(region, 201, 10));
    // No limit, no list.
    const none = dieToDieResidual(
      map,
      a,
      b,
      region,
      94,
      2,
      new Float32Array(200 * 200),
      new Uint8Array(200 * 200),
      new Uint8Array(200 * 200),
    );
    assert.equal(none, undefined);
  });
});
