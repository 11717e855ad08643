// Unit tests of the detector's geometry: circle fits, pixel-to-millimetre frames, die indices, noise.
import assert from "node:assert/strict";
import { test } from "vitest";
import {
  dieAt,
  fitCircleAlgebraic,
  fitCircleRobust,
  pixelToWaferMm,
  type WaferFrame,
  waferMmToPixel,
} from "../../endpoint/detector/geometry.ts";
import { estimateNoiseSigma } from "../../endpoint/detector/noise.ts";
import { quantileInPlace } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

test("algebraic circle fit recovers an exact circle", () => {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 40; i++) {
    const a = (i / 40) * 2 * Math.PI;
    xs.push(512.5 + 400 * Math.cos(a));
    ys.push(498.25 + 400 * Math.sin(a));
  }
  const c = fitCircleAlgebraic(xs, ys);
  assert.ok(c);
  assert.ok(Math.abs(c.cx - 512.5) < 1e-6);
  assert.ok(Math.abs(c.cy - 498.25) < 1e-6);
  assert.ok(Math.abs(c.r - 400) < 1e-6);
});

test("robust circle fit ignores a notch and chips that pull rim points inwards", () => {
  const random = seededRandom(7);
  const n = 2000;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = (i / n) * 2 * Math.PI;
    let r = 900 + 0.3 * standardNormal(random);
    if (i > 300 && i < 330) r -= 9; // notch-like deficit
    if (i > 1200 && i < 1300) r -= 25; // a wide chip
    xs[i] = 1024 + r * Math.cos(a);
    ys[i] = 1000 + r * Math.sin(a);
  }
  const c = fitCircleRobust(xs, ys, 0.75);
  assert.ok(c);
  assert.ok(Math.abs(c.cx - 1024) < 0.1, `cx ${c.cx}`);
  assert.ok(Math.abs(c.cy - 1000) < 0.1, `cy ${c.cy}`);
  assert.ok(Math.abs(c.r - 900) < 0.1, `r ${c.r}`);
});

test("pixelToWaferMm: notch at the bottom keeps image axes (y flipped), mm scale from the diameter", () => {
  const frame: WaferFrame = {
    cx: 1000,
    cy: 1000,
    radiusPx: 750,
    diameterMm: 300,
    notchAngleDeg: 90,
  };
  const right = pixelToWaferMm(frame, 1750, 1000);
  assert.ok(Math.abs(right.x - 150) < 1e-9 && Math.abs(right.y) < 1e-9);
  const up = pixelToWaferMm(frame, 1000, 250);
  assert.ok(Math.abs(up.x) < 1e-9 && Math.abs(up.y - 150) < 1e-9);
});

test("pixelToWaferMm turns the notch to the bottom of the oriented frame", () => {
  for (const notch of [0, 37.5, 90, 180, 270, 333]) {
    const frame: WaferFrame = {
      cx: 800,
      cy: 820,
      radiusPx: 700,
      diameterMm: 200,
      notchAngleDeg: notch,
    };
    const a = (notch * Math.PI) / 180;
    const notchMm = pixelToWaferMm(frame, 800 + 700 * Math.cos(a), 820 + 700 * Math.sin(a));
    assert.ok(Math.abs(notchMm.x) < 1e-9, `notch ${notch}: x ${notchMm.x}`);
    assert.ok(Math.abs(notchMm.y + 100) < 1e-9, `notch ${notch}: y ${notchMm.y}`);
    const back = waferMmToPixel(frame, pixelToWaferMm(frame, 123, 456));
    assert.ok(Math.abs(back.x - 123) < 1e-9 && Math.abs(back.y - 456) < 1e-9);
  }
});

test("dieAt: die (0,0) holds the centre, columns grow right, rows grow down", () => {
  const grid = { pitchMm: { x: 10, y: 20 }, cornerMm: { x: 3, y: -5 } };
  assert.deepEqual(dieAt(grid, { x: 0, y: 0 }), { row: 0, col: 0 });
  assert.deepEqual(dieAt(grid, { x: 3.5, y: 0 }), { row: 0, col: 1 });
  assert.deepEqual(dieAt(grid, { x: -8, y: 0 }), { row: 0, col: -1 });
  assert.deepEqual(dieAt(grid, { x: 0, y: -6 }), { row: 1, col: 0 });
  assert.deepEqual(dieAt(grid, { x: 0, y: 16 }), { row: -1, col: 0 });
});

test("noise sigma: measured within 5% on white noise, unbiased by a strong grid pattern", () => {
  const random = seededRandom(11);
  const size = 400;
  const sigma = 3.2;
  const flat = new Float32Array(size * size);
  const patterned = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const n = sigma * standardNormal(random);
      flat[y * size + x] = 100 + n;
      const street = x % 37 < 3 || y % 41 < 3;
      const pad = x % 37 > 10 && x % 37 < 20 && y % 41 > 12 && y % 41 < 18;
      patterned[y * size + x] = (street ? 60 : pad ? 140 : 100) + n;
    }
  }
  const region = { cx: 200, cy: 200, r: 190 };
  const flatSigma = estimateNoiseSigma(flat, size, size, region);
  const patternedSigma = estimateNoiseSigma(patterned, size, size, region);
  assert.ok(Math.abs(flatSigma / sigma - 1) < 0.05, `flat: ${flatSigma}`);
  assert.ok(Math.abs(patternedSigma / sigma - 1) < 0.08, `patterned: ${patternedSigma}`);
});

test("quantileInPlace selects order statistics", () => {
  const values = Float64Array.from([5, 1, 4, 2, 3]);
  assert.equal(quantileInPlace(values, 5, 0.5), 3);
  assert.equal(quantileInPlace(values, 5, 0), 1);
  assert.equal(quantileInPlace(values, 5, 1), 5);
});
