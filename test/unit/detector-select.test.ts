// The detector's exact order statistics on magnitudes (select.ts) give what a quickselect gives, digit for digit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { quantileInPlace, selectKth } from "../../endpoint/detector/raster.ts";
import {
  quantileOfMagnitudes,
  quantilesOfMagnitudes,
  selectKthMagnitude,
  selectRanksOfMagnitudes,
} from "../../endpoint/detector/select.ts";
import { seededRandom } from "../../lib/random.ts";

function magnitudes(count: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const u = random();
    // Gaussian-like bulk, a heavy tail, exact zeros and many ties (binned raw levels).
    values[i] =
      u < 0.05 ? 0 : u < 0.3 ? Math.round(random() * 40) / 4 : Math.abs(Math.log(1 - random())) * 3;
  }
  return values;
}

describe("selectKthMagnitude", () => {
  it("returns the k-th smallest, the same value as selectKth, at every rank tried", () => {
    const values = magnitudes(60_000, 7);
    for (const k of [0, 1, 2999, 30_000, 56_999, 57_000, 59_940, 59_998, 59_999]) {
      const expected = selectKth(values.slice(), values.length, k);
      assert.equal(selectKthMagnitude(values, values.length, k), expected, `rank ${k}`);
    }
  });

  it("reads float32 samples exactly like float64 ones", () => {
    const values = Float32Array.from(magnitudes(60_000, 11));
    for (const k of [0, 30_000, 57_000, 59_940, 59_999]) {
      const expected = selectKth(values.slice(), values.length, k);
      assert.equal(selectKthMagnitude(values, values.length, k), expected, `rank ${k}`);
    }
  });

  it("leaves the values where they were, also when it falls back", () => {
    for (const odd of [undefined, -1]) {
      const values = magnitudes(20_000, 8);
      if (odd !== undefined) values[77] = odd;
      const copy = values.slice();
      selectKthMagnitude(values, values.length, 19_000);
      assert.deepEqual(values, copy);
    }
  });

  it("uses only the first `count` values", () => {
    const values = magnitudes(40_000, 9);
    values.fill(1e9, 20_000);
    assert.equal(
      selectKthMagnitude(values, 20_000, 19_999),
      selectKth(values.slice(), 20_000, 19_999),
    );
  });

  it("falls back to a quickselect when a value is negative, -0 or not finite", () => {
    for (const odd of [-1, -0, Number.POSITIVE_INFINITY]) {
      const values = magnitudes(30_000, 10);
      values[1234] = odd;
      const expected = selectKth(values.slice(), values.length, 29_000);
      assert.equal(selectKthMagnitude(values, values.length, 29_000), expected);
      const narrow = Float32Array.from(values);
      const expectedNarrow = selectKth(narrow.slice(), narrow.length, 29_000);
      assert.equal(selectKthMagnitude(narrow, narrow.length, 29_000), expectedNarrow);
    }
  });

  it("quantileOfMagnitudes matches quantileInPlace, small and large samples", () => {
    for (const count of [0, 1, 17, 16_383, 150_000]) {
      const values = magnitudes(count, count + 1);
      for (const q of [0, 0.5, 0.95, 0.999, 1]) {
        const expected = quantileInPlace(values.slice(), count, q);
        assert.ok(Object.is(quantileOfMagnitudes(values, count, q), expected), `${count} ${q}`);
      }
    }
  });

  it("selects several ranks in one pass: neighbouring, repeated and far apart", () => {
    for (const values of [magnitudes(80_000, 13), Float32Array.from(magnitudes(80_000, 14))]) {
      const ranks = [79_999, 76_000, 76_001, 76_000, 0, 40_000, 79_920];
      const expected = ranks.map((k) => selectKth(values.slice(), values.length, k));
      assert.deepEqual(selectRanksOfMagnitudes(values, values.length, ranks), expected);
      const qs = [0.999, 0.95, 0.5];
      assert.deepEqual(
        quantilesOfMagnitudes(values, values.length, qs),
        qs.map((q) => quantileInPlace(values.slice(), values.length, q)),
      );
    }
  });
});

describe("selectRanksOfMagnitudes: the histogram shared between calls (branch thr3)", () => {
  it("gives selectKth's values call after call on samples of other ranges and sizes", () => {
    const random = seededRandom(41);
    // Sizes from just over the quickselect cut to large; ranges far apart, so a bin left
    // filled by one call, or a walk started below the lowest filled bin, would show.
    for (let call = 0; call < 40; call++) {
      const count = 2048 + Math.floor(random() * 30_000);
      const scale = 10 ** Math.floor(random() * 12 - 6);
      const wide = call % 2 === 0;
      const values = wide ? new Float64Array(count) : new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = scale * Math.abs(Math.log(1 - random()));
      const ranks = [0, Math.floor(count / 2), Math.floor(0.95 * (count - 1)), count - 1];
      const got = selectRanksOfMagnitudes(values, count, ranks);
      ranks.forEach((k, j) => {
        assert.ok(Object.is(got[j], selectKth(values.slice(), count, k)), `call ${call} rank ${k}`);
      });
    }
  });

  it("recovers after a call that left its pass early (a negative value)", () => {
    const values = magnitudes(20_000, 43);
    const spoiled = values.slice();
    spoiled[15_000] = -1;
    assert.equal(
      selectKthMagnitude(spoiled, spoiled.length, 10_000),
      selectKth(spoiled.slice(), spoiled.length, 10_000),
    );
    for (const k of [0, 10_000, 19_999])
      assert.equal(
        selectKthMagnitude(values, values.length, k),
        selectKth(values.slice(), values.length, k),
      );
  });
});

describe("selectKthMagnitude: one pass inside a bracket from a sample (branch speed6)", () => {
  const expectSame = (values: Float32Array | Float64Array, k: number, what: string) =>
    assert.ok(
      Object.is(
        selectKthMagnitude(values, values.length, k),
        selectKth(values.slice(), values.length, k),
      ),
      `${what}, rank ${k}`,
    );

  it("gives selectKth's value at every rank, ends and bracket edges included", () => {
    const random = seededRandom(51);
    for (const count of [2048, 2049, 8191, 8193, 50_001, 230_000]) {
      for (const wide of [true, false]) {
        const values = wide ? new Float64Array(count) : new Float32Array(count);
        for (let i = 0; i < count; i++) values[i] = Math.abs(Math.log(1 - random())) * 2.5;
        for (const q of [0, 0.001, 0.25, 0.5, 0.95, 0.999, 1]) {
          expectSame(values, Math.round(q * (count - 1)), `${count} ${wide ? "f64" : "f32"}`);
        }
      }
    }
  });

  it("still answers when the sample lies about the rest (every sampled place holds a small value)", () => {
    // 20,000 values sample every 2nd one: even places tiny, odd places large. The bracket
    // the sample gives for rank 15,000 holds only tiny values, the rank lies among the large.
    const random = seededRandom(52);
    for (const wide of [true, false]) {
      const values = wide ? new Float64Array(20_000) : new Float32Array(20_000);
      for (let i = 0; i < values.length; i++)
        values[i] = i % 2 === 0 ? random() * 1e-3 : 1000 + random() * 1000;
      for (const k of [0, 5_000, 9_999, 10_000, 15_000, 19_999])
        expectSame(values, k, "lying sample");
    }
  });

  it("still answers when ties fill the bracket past its room", () => {
    const random = seededRandom(53);
    for (const wide of [true, false]) {
      const values = wide ? new Float64Array(40_000) : new Float32Array(40_000);
      // 60% of the values are one level (binned raw levels tie), the rest spread around it.
      for (let i = 0; i < values.length; i++) values[i] = random() < 0.6 ? 1.5 : random() * 3;
      for (const k of [0, 8_000, 20_000, 39_999]) expectSame(values, k, "ties");
    }
  });

  it("counts a value in the bracket's lowest and highest word on the right side", () => {
    // Whole quarters: many values share each word, so words equal to the bracket's ends abound.
    const random = seededRandom(54);
    const values = new Float32Array(100_000);
    for (let i = 0; i < values.length; i++)
      values[i] = Math.round(Math.abs(Math.log(1 - random())) * 12) / 4;
    for (let k = 0; k < values.length; k += 4_999) expectSame(values, k, "quarters");
  });
});

describe("selectKthMagnitude: kept scratch, one pass per width, the high word from the tail (branch speed9)", () => {
  const same = (values: Float32Array | Float64Array, count: number, k: number, what: string) => {
    const expected = selectKth(values.slice(0, count), count, k);
    const got = selectKthMagnitude(values, count, k);
    assert.ok(Object.is(got, expected), `${what}, rank ${k}: ${got} against ${expected}`);
  };

  it("gives selectKth's value call after call, large then small, float32 and float64 in turn", () => {
    // A large call grows the kept sample and gathered arrays; the smaller calls after it
    // must read only what they wrote (stale values past their own count would show).
    const random = seededRandom(91);
    for (let call = 0; call < 30; call++) {
      const count =
        call % 3 === 0
          ? 200_000 + Math.floor(random() * 50_000)
          : 2048 + Math.floor(random() * 9_000);
      const wide = call % 2 === 1;
      const values = wide ? new Float64Array(count) : new Float32Array(count);
      const scale = 10 ** Math.floor(random() * 8 - 4);
      for (let i = 0; i < count; i++) values[i] = scale * Math.abs(Math.log(1 - random()));
      for (const q of [0, 0.001, 0.5, 0.95, 0.999, 1])
        same(
          values,
          count,
          Math.round(q * (count - 1)),
          `call ${call} ${wide ? "f64" : "f32"} ${count}`,
        );
    }
  });

  it("keeps signed zeros, denormals and the largest finite values apart, and sends odd words to quickselect", () => {
    const random = seededRandom(92);
    for (const wide of [true, false]) {
      const tiny = wide ? 5e-324 : 1.401298464324817e-45;
      const huge = wide ? Number.MAX_VALUE : 3.4028234663852886e38;
      const base = [0, tiny, 2 * tiny, 1e-300, 1, 1.5, huge];
      const count = 30_000;
      const values = wide ? new Float64Array(count) : new Float32Array(count);
      for (let i = 0; i < count; i++)
        values[i] = base[Math.floor(random() * base.length)] as number;
      for (const k of [0, 1, 4_285, 4_286, 15_000, 25_714, 25_715, 29_999])
        same(values, count, k, "specials");
      for (const odd of [-0, -tiny, Number.POSITIVE_INFINITY, Number.NaN]) {
        const spoiled = values.slice();
        spoiled[count - 1] = odd;
        for (const k of [0, 15_000, 29_998])
          same(spoiled, count - 1, k, `odd word past count ${odd}`);
        spoiled[12_345] = odd;
        if (!Number.isNaN(odd))
          for (const k of [0, 15_000, 29_999]) same(spoiled, count, k, `odd word ${odd}`);
      }
    }
  });

  it("finds the high word from the first quickselect's tail at every bracket position", () => {
    // Ranks at both ends put one bracket word outside the sample (lowIndex < 0, highIndex
    // past it) and the rest in between; ties make the two bracket words equal.
    const random = seededRandom(93);
    for (const tied of [false, true]) {
      const values = new Float64Array(70_000);
      for (let i = 0; i < values.length; i++)
        values[i] = tied ? Math.round(random() * 6) / 2 : Math.abs(Math.log(1 - random()));
      for (let k = 0; k < values.length; k += 997) same(values, values.length, k, `tied ${tied}`);
      same(values, values.length, values.length - 1, `tied ${tied}`);
    }
  });
});

describe("selectRanksOfMagnitudes: one walk for all ranks, one pool for the wanted bins (branch speed9)", () => {
  it("gives selectKth's values for ranks in any order, repeated, in one bin or far apart, zeros in the sample", () => {
    const random = seededRandom(94);
    for (let call = 0; call < 24; call++) {
      const wide = call % 2 === 0;
      const count = 3_000 + Math.floor(random() * 40_000);
      const values = wide ? new Float64Array(count) : new Float32Array(count);
      // Binned levels with many zeros (bin 0, far below the rest) and ties, or a spread.
      for (let i = 0; i < count; i++)
        values[i] =
          call % 3 === 0
            ? Math.abs(Math.log(1 - random())) * 10 ** (call % 5)
            : Math.round(Math.abs(Math.log(1 - random())) * 6) / 2;
      const last = count - 1;
      const rankSets = [
        [1, 2, 3, 4, 5].map((c) => Math.floor((c / 6) * last)),
        [Math.round(0.999 * last), Math.round(0.95 * last)],
        [last, 0, Math.floor(last / 2), Math.floor(last / 2), Math.floor(last / 2) + 1],
        [Math.floor(random() * count), Math.floor(random() * count), Math.floor(random() * count)],
      ];
      for (const ranks of rankSets) {
        const got = selectRanksOfMagnitudes(values, count, ranks);
        ranks.forEach((k, j) => {
          const expected = selectKth(values.slice(), count, k);
          assert.ok(Object.is(got[j], expected), `call ${call} ranks ${ranks} rank ${k}`);
        });
      }
    }
  });
});
