// Unit tests of lib/random.ts: the seeded uniforms repeat per seed, and standardNormal has a standard normal's moments.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { seededRandom, seededUint32At, standardNormal } from "../../lib/random.ts";

describe("seededRandom", () => {
  it("gives the same numbers for the same seed and others for another, all in [0, 1)", () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const first = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      first,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.notDeepEqual(
      first,
      Array.from({ length: 1000 }, () => c()),
    );
    assert.ok(first.every((u) => u >= 0 && u < 1));
  });
});

describe("seededUint32At", () => {
  it("is the stream's number at that index times 2^32, for any seed", () => {
    for (const seed of [0, 1, 42, 0x7a11_5eed, 0xffff_ffff, -5]) {
      const random = seededRandom(seed);
      for (let index = 0; index < 5000; index++)
        assert.equal(seededUint32At(seed, index), random() * 4294967296, `seed ${seed} #${index}`);
    }
  });
});

describe("standardNormal", () => {
  it("has mean 0, variance 1 and a normal's tails over 200,000 draws", () => {
    const random = seededRandom(7);
    const n = 200_000;
    let sum = 0;
    let squares = 0;
    let beyondTwo = 0;
    for (let i = 0; i < n; i++) {
      const z = standardNormal(random);
      sum += z;
      squares += z * z;
      if (Math.abs(z) > 2) beyondTwo++;
    }
    const mean = sum / n;
    // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(squares / n - mean * mean - 1) < 0.015, `variance ${squares / n}`);
    // P(|z| > 2) = 4.55% for a normal (0.05 points is about 10 standard errors).
    assert.ok(Math.abs(beyondTwo / n - 0.0455) < 0.005, `beyond 2 sigma ${beyondTwo / n}`);
  });
});
