// fitRimShape's seven-function normal equations in locals (branch speed9) give the general loop's fit, digit for digit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { solveLinear } from "../../endpoint/detector/background.ts";
import type { RimProfile } from "../../endpoint/detector/locate-rays.ts";
import { selectKth } from "../../endpoint/detector/raster.ts";
import { fitRimShape } from "../../endpoint/detector/rim.ts";
import { seededRandom } from "../../lib/random.ts";

/** fitRimShape as it was before speed9 (the general loop for every order), kept as the reference. */
function referenceFit(rim: RimProfile, r0: number, order: number) {
  const n = rim.radii.length;
  const m = 1 + 2 * order;
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) weights[i] = Number.isNaN(rim.radii[i] as number) ? 0 : 1;
  let coef: Float64Array = new Float64Array(m);
  coef[0] = r0;
  const basis = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const phi = rim.angles[i] as number;
    const row = i * m;
    basis[row] = 1;
    for (let k = 1; k <= order; k++) {
      basis[row + 2 * k - 1] = Math.cos(k * phi);
      basis[row + 2 * k] = Math.sin(k * phi);
    }
  }
  const residuals = new Float64Array(n);
  const abs = new Float64Array(n);
  let sigma = 0;
  for (let iteration = 0; iteration < 6; iteration++) {
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      const row = i * m;
      const r = rim.radii[i] as number;
      for (let p = 0; p < m; p++) {
        const bp = (basis[row + p] as number) * w;
        b[p] = (b[p] as number) + bp * r;
        for (let q = 0; q < m; q++)
          a[p * m + q] = (a[p * m + q] as number) + bp * (basis[row + q] as number);
      }
    }
    const solved = solveLinear(a, b, m);
    if (!solved) break;
    coef = solved;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const r = rim.radii[i] as number;
      if (Number.isNaN(r)) continue;
      const row = i * m;
      let model = 0;
      for (let p = 0; p < m; p++) model += (basis[row + p] as number) * (coef[p] as number);
      residuals[i] = r - model;
      abs[count++] = Math.abs(r - model);
    }
    const median = count > 0 ? selectKth(abs, count, Math.floor(count / 2)) : 0;
    sigma = Math.max(0.1, 1.4826 * median);
    const c = 4.685 * sigma;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(rim.radii[i] as number)) continue;
      const z = (residuals[i] as number) / c;
      weights[i] = Math.abs(z) < 1 ? (1 - z * z) ** 2 : 0;
    }
  }
  const cos = new Float64Array(order);
  const sin = new Float64Array(order);
  for (let k = 1; k <= order; k++) {
    cos[k - 1] = coef[2 * k - 1] as number;
    sin[k - 1] = coef[2 * k] as number;
  }
  return { r0: coef[0] as number, cos, sin, sigmaPx: sigma };
}

function rimOf(n: number, radiusAt: (i: number, phi: number) => number): RimProfile {
  const angles = new Float64Array(n);
  const radii = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    angles[i] = (2 * Math.PI * i) / n;
    radii[i] = radiusAt(i, angles[i] as number);
  }
  return { angles, radii };
}

function assertSameFit(rim: RimProfile, r0: number, what: string) {
  const got = fitRimShape(rim, r0, 3);
  const expected = referenceFit(rim, r0, 3);
  assert.ok(Object.is(got.r0, expected.r0), `${what}: r0 ${got.r0} against ${expected.r0}`);
  assert.ok(Object.is(got.sigmaPx, expected.sigmaPx), `${what}: sigma`);
  for (let k = 0; k < 3; k++) {
    assert.ok(Object.is(got.cos[k], expected.cos[k]), `${what}: cos ${k + 1}`);
    assert.ok(Object.is(got.sin[k], expected.sin[k]), `${what}: sin ${k + 1}`);
  }
}

describe("fitRimShape: the normal equations of seven basis functions (branch speed9)", () => {
  it("fits as the general loop does: gaps, a flat, outliers that the reweighting drops", () => {
    const random = seededRandom(61);
    for (const n of [64, 721, 4019]) {
      const rim = rimOf(n, (i, phi) => {
        if (random() < 0.07) return Number.NaN;
        const flat = i > 0.7 * n && i < 0.73 * n ? -9 : 0;
        const outlier = random() < 0.03 ? (random() - 0.5) * 200 : 0;
        return (
          960 +
          2.5 * Math.cos(2 * phi - 0.3) +
          0.8 * Math.sin(3 * phi) +
          (random() - 0.5) * 0.7 +
          flat +
          outlier
        );
      });
      assertSameFit(rim, 955, `${n} rays`);
    }
  });

  it("fits as the general loop does on a perfect circle, a clipped rim and huge or tiny radii", () => {
    assertSameFit(
      rimOf(2000, () => 1000),
      1000,
      "perfect circle",
    );
    assertSameFit(
      rimOf(2000, (i) => (i < 1400 ? 800 + (i % 7) * 1e-3 : Number.NaN)),
      790,
      "clipped",
    );
    assertSameFit(
      rimOf(1500, (_i, phi) => 1e12 * (1 + 1e-6 * Math.cos(phi))),
      1e12,
      "huge",
    );
    assertSameFit(
      rimOf(1500, (_i, phi) => 1e-9 * (2 + Math.sin(2 * phi))),
      0,
      "tiny",
    );
  });

  it("keeps the start when every ray is a gap, and a singular system stops where the loop did", () => {
    assertSameFit(
      rimOf(500, () => Number.NaN),
      321,
      "all gaps",
    );
    // Three rays cannot fix seven coefficients: the solve fails on the first pass.
    assertSameFit(
      rimOf(3, (i) => 100 + i),
      99,
      "too few rays",
    );
  });
});
