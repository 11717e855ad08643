// The gated median (select.ts gatedQuantileOfMagnitudes) equals the compact-then-select path estimateNoiseSigma took before (branch speed10).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { estimateNoiseSigma, LAPLACIAN_GAIN, MAD_TO_SIGMA } from "../../endpoint/detector/noise.ts";
import { gatedQuantileOfMagnitudes, quantileOfMagnitudes } from "../../endpoint/detector/select.ts";
import { seededRandom } from "../../lib/random.ts";

/** The previous path: the passing values moved to the front in place, then quantileOfMagnitudes. */
function compactThenSelect(
  values: Float32Array,
  keys: Float32Array,
  count: number,
  gate: number,
  q: number,
): { quantile: number; passing: number } {
  const copy = values.slice();
  let m = 0;
  for (let i = 0; i < count; i++) if ((keys[i] as number) <= gate) copy[m++] = copy[i] as number;
  return { quantile: quantileOfMagnitudes(copy, m, q), passing: m };
}

/**
 * Magnitudes as an 8-bit map's Laplacians give them (sixteenths: a few hundred distinct values,
 * some held by a twentieth of the sample) or continuous ones, with exact zeros, and keys that
 * fail the gate about one time in `failShare` (more often where the value is large, as at
 * pattern edges).
 */
function sample(count: number, seed: number, binned: boolean, failShare: number) {
  const random = seededRandom(seed);
  const values = new Float32Array(count);
  const keys = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = random();
    const v = u < 0.03 ? 0 : Math.abs(Math.log(1 - random())) * 0.6;
    values[i] = binned ? Math.round(16 * v) / 16 : v;
    keys[i] = random() < failShare * (1 + (values[i] as number)) ? 10 + random() : random();
  }
  return { values, keys };
}

describe("gatedQuantileOfMagnitudes (branch speed10)", () => {
  it("gives the compacted sample's quantile and passing count, binned and continuous, at many gates and ranks", () => {
    let answered = 0;
    // One seed per kind of sample: two more (3 binned, 4 continuous) reached no statement or
    // branch of select.ts these do not (v8 coverage, compared), at twice the cost.
    for (const [seed, binned] of [
      [1, true],
      [2, false],
    ] as const) {
      for (const count of [2048, 5000, 60_000, 231_000]) {
        for (const failShare of [0, 0.1, 0.6]) {
          const { values, keys } = sample(count, seed * 100 + count, binned, failShare);
          const before = values.slice();
          for (const gate of [1, 9.5, Number.POSITIVE_INFINITY]) {
            for (const q of [0.5, 0.05, 0.95, 0, 1]) {
              const expected = compactThenSelect(values, keys, count, gate, q);
              const got = gatedQuantileOfMagnitudes(values, keys, count, gate, q, 0);
              if (!got) continue;
              answered++;
              assert.equal(got.passing, expected.passing, `passing, seed ${seed} n ${count}`);
              assert.ok(
                Object.is(got.quantile, expected.quantile),
                `seed ${seed} n ${count} fail ${failShare} gate ${gate} q ${q}: ${got.quantile} vs ${expected.quantile}`,
              );
            }
          }
          assert.deepEqual(values, before, "the values are never moved");
        }
      }
    }
    // Most calls answer (a null would only cost speed, but an always-null function tests nothing).
    assert.ok(answered > 300, `${answered} calls answered`);
  });

  it("answers a bracket of one or two tied words from their counts alone", () => {
    // Three values only: every bracket is one word or two neighbouring ones.
    const count = 100_000;
    const random = seededRandom(9);
    const values = new Float32Array(count);
    const keys = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = [0.4375, 0.5, 0.5625][Math.floor(random() * 3)] as number;
      keys[i] = random();
    }
    for (const q of [0.1, 0.33, 0.34, 0.5, 0.66, 0.67, 0.9]) {
      for (const gate of [0.3, 1]) {
        const got = gatedQuantileOfMagnitudes(values, keys, count, gate, q, 0);
        assert.ok(got, `q ${q} answered`);
        assert.ok(
          Object.is(got.quantile, compactThenSelect(values, keys, count, gate, q).quantile),
        );
      }
    }
  });

  it("takes the value after the low word's ties at the rank just past them", () => {
    // Two values, half each, shuffled: the median's rank (50,000 of 0..99,999) is the first of
    // the larger value, one past the last of the low word's ties.
    const count = 100_000;
    const random = seededRandom(10);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = i < count / 2 ? 0.4375 : 0.5;
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = values[i] as number;
      values[i] = values[j] as number;
      values[j] = t;
    }
    const keys = new Float32Array(count);
    for (const q of [0.5, 0.49999]) {
      const got = gatedQuantileOfMagnitudes(values, keys, count, 1, q, 0);
      assert.ok(got, `q ${q} answered`);
      assert.ok(Object.is(got.quantile, compactThenSelect(values, keys, count, 1, q).quantile));
    }
  });

  it("gives null for odd passing values, and ignores odd values that fail the gate", () => {
    const { values, keys } = sample(20_000, 5, true, 0.1);
    for (const odd of [-0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const withOdd = values.slice();
      withOdd[1234] = odd;
      const passingKeys = keys.slice();
      passingKeys[1234] = 0;
      assert.equal(gatedQuantileOfMagnitudes(withOdd, passingKeys, 20_000, 1, 0.5, 0), null);
      const failingKeys = keys.slice();
      failingKeys[1234] = Number.NaN;
      const got = gatedQuantileOfMagnitudes(withOdd, failingKeys, 20_000, 1, 0.5, 0);
      assert.ok(got);
      assert.ok(
        Object.is(got.quantile, compactThenSelect(withOdd, failingKeys, 20_000, 1, 0.5).quantile),
      );
    }
  });

  it("reports the passing count alone when fewer than the minimum pass", () => {
    const { values, keys } = sample(50_000, 6, false, 0.6);
    const got = gatedQuantileOfMagnitudes(values, keys, 50_000, 1, 0.5, 49_000);
    assert.ok(got);
    assert.equal(got.passing, compactThenSelect(values, keys, 50_000, 1, 0.5).passing);
    assert.ok(got.passing < 49_000);
  });
});

describe("estimateNoiseSigma with the gated median (branch speed10)", () => {
  /** The previous second pass, on the JavaScript samples: the reference. */
  function previousSigma(data: Float32Array, width: number, height: number, r: number): number {
    const cx = width / 2;
    const cy = height / 2;
    const lap: number[] = [];
    const grad: number[] = [];
    for (
      let y = Math.max(1, Math.ceil(cy - r));
      y <= Math.min(height - 2, Math.floor(cy + r));
      y++
    ) {
      const half = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
      const xa = Math.max(1, Math.ceil(cx - half));
      const xb = Math.min(width - 2, Math.floor(cx + half));
      for (let x = xa; x <= xb; x++) {
        const i = y * width + x;
        const c = data[i] as number;
        const l = data[i - 1] as number;
        const rr = data[i + 1] as number;
        const u = data[i - width] as number;
        const d = data[i + width] as number;
        lap.push(Math.abs(c - 0.25 * (l + rr + u + d)));
        grad.push(Math.max(Math.abs(rr - l), Math.abs(d - u)));
      }
    }
    const l32 = Float32Array.from(lap);
    const g32 = Float32Array.from(grad);
    const n = l32.length;
    const first = (MAD_TO_SIGMA * quantileOfMagnitudes(l32, n, 0.5)) / LAPLACIAN_GAIN;
    const gate = 3 * Math.SQRT2 * first;
    let m = 0;
    for (let i = 0; i < n; i++) if ((g32[i] as number) <= gate) l32[m++] = l32[i] as number;
    if (m < n * 0.2) return first;
    return (MAD_TO_SIGMA * quantileOfMagnitudes(l32, m, 0.5)) / LAPLACIAN_GAIN;
  }

  it("equals the compacting version on binned, striped and noisy maps", () => {
    for (const [seed, stripes, binned] of [
      [1, false, true],
      [2, true, true],
      [3, true, false],
      [4, false, false],
    ] as const) {
      const width = 300;
      const height = 280;
      const random = seededRandom(seed);
      const data = new Float32Array(width * height);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          // Streets every 24 px (pattern edges the gate must drop) on a level with noise.
          const street = stripes && (x % 24 < 3 || y % 24 < 3) ? -40 : 0;
          const v = 120 + street + 3 * (random() + random() + random() - 1.5);
          data[y * width + x] = binned ? Math.round(4 * v) / 4 : v;
        }
      }
      const r = 130;
      // Every row sampled (maxSamples above the disk's pixels), so the reference sees the same samples.
      const got = estimateNoiseSigma(
        data,
        width,
        height,
        { cx: width / 2, cy: height / 2, r },
        1e9,
      );
      assert.ok(Object.is(got, previousSigma(data, width, height, r)), `seed ${seed}`);
    }
  });
});

describe("selectRanksOfMagnitudes on a typed core (branch speed10)", () => {
  it("answers rank lists of every element kind and single ranks as selectKth does", async () => {
    const { selectKth } = await import("../../endpoint/detector/raster.ts");
    const { quantilesOfMagnitudes, selectKthMagnitude, selectRanksOfMagnitudes } = await import(
      "../../endpoint/detector/select.ts"
    );
    const random = seededRandom(12);
    for (const wide of [true, false]) {
      for (const count of [100, 2048, 30_000]) {
        const base = new Float64Array(count);
        for (let i = 0; i < count; i++)
          base[i] =
            random() < 0.1 ? 0 : random() < 0.5 ? Math.round(random() * 64) / 4 : random() * 9;
        const values = wide ? base : Float32Array.from(base);
        const expected = (k: number) => selectKth(values.slice(), count, k);
        const last = count - 1;
        // Small integers, the same as doubles (a kind of their own), a holey list, repeats, unsorted.
        const holey: number[] = new Array(3);
        holey[0] = last;
        holey[1] = 0;
        holey[2] = last >> 1;
        const lists: number[][] = [
          [0],
          [last],
          [last >> 1, 0, last],
          [1.5 * 2, last - 0.5 * 2],
          holey,
          [7, 7, 3],
        ];
        for (const ranks of lists) {
          const got = selectRanksOfMagnitudes(values, count, ranks);
          assert.equal(got.length, ranks.length);
          for (const [j, k] of ranks.entries())
            assert.ok(Object.is(got[j], expected(k)), `rank ${k}`);
          for (const k of ranks)
            assert.ok(Object.is(selectKthMagnitude(values, count, k), expected(k)));
        }
        const [low, high] = quantilesOfMagnitudes(values, count, [0.25, 0.999]);
        assert.ok(Object.is(low, expected(Math.round(0.25 * last))));
        assert.ok(Object.is(high, expected(Math.round(0.999 * last))));
      }
    }
    assert.deepEqual(quantilesOfMagnitudes(new Float64Array(0), 0, [0.5, 0.9]), [
      Number.NaN,
      Number.NaN,
    ]);
  });
});
