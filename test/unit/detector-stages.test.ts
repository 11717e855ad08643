// Per-stage unit tests of the detector on small rasters built here, so a threshold change shows which stage moved.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  type BlobFeatures,
  type FeatureContext,
  measureBlob,
} from "../../endpoint/detector/blob-features.ts";
import { classifyBlob, voidEdgeWidthPx } from "../../endpoint/detector/classify.ts";
import { levelDies } from "../../endpoint/detector/die-levelling.ts";
import { dieToDieResidual } from "../../endpoint/detector/die-to-die.ts";
import { pairMisregistrationShare } from "../../endpoint/detector/die-to-die-allowance.ts";
import { mergeFragments } from "../../endpoint/detector/fragments.ts";
import { angleDistanceDeg } from "../../endpoint/detector/geometry.ts";
import { detect } from "../../endpoint/detector/index.ts";
import { type Lattice, measureLattice } from "../../endpoint/detector/lattice.ts";
import { pitchCandidates } from "../../endpoint/detector/lattice-pitch.ts";
import type { RimProfile } from "../../endpoint/detector/locate-rays.ts";
import {
  type DiskRegion,
  estimateDieDifferenceNoise,
  estimateNoiseSigma,
} from "../../endpoint/detector/noise.ts";
import { binomialBlur3, type FloatMap } from "../../endpoint/detector/raster.ts";
import { fitRimShape, readRim, rimRadiusAt } from "../../endpoint/detector/rim.ts";
import { hysteresisBlobs } from "../../endpoint/detector/segment.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import { detectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import { measureSigmas } from "../../endpoint/detector/threshold.ts";
import { pixelTailFactor } from "../../endpoint/detector/threshold-pixel-tail.ts";
import { CLASSIFY, DETECTION } from "../../endpoint/detector/thresholds.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

/** Angular distance in degrees. */
/**
 * Rim radii of a disk `axisRatio` out of round (major axis at `majorDeg`), with a 90-degree V
 * notch of 1% of the radius at `notchDeg` and optional chips, sampled by `rays` rays.
 */
function rimProfile(opts: {
  r: number;
  axisRatio: number;
  majorDeg: number;
  notchDeg: number;
  chips?: Array<{ deg: number; widthPx: number; depthPx: number }>;
  noisePx: number;
  rays: number;
  seed: number;
}): RimProfile {
  const random = seededRandom(opts.seed);
  const angles = new Float64Array(opts.rays);
  const radii = new Float64Array(opts.rays);
  const major = (opts.majorDeg * Math.PI) / 180;
  // r(phi) of an ellipse with semi-axes r and r * axisRatio.
  const a = opts.r;
  const b = opts.r * opts.axisRatio;
  for (let i = 0; i < opts.rays; i++) {
    const phi = (2 * Math.PI * i) / opts.rays;
    angles[i] = phi;
    const t = phi - major;
    let r = (a * b) / Math.hypot(b * Math.cos(t), a * Math.sin(t));
    const arcFromNotch =
      ((angleDistanceDeg((phi * 180) / Math.PI, opts.notchDeg) * Math.PI) / 180) * r;
    r -= Math.max(0, 0.01 * opts.r - arcFromNotch);
    for (const chip of opts.chips ?? []) {
      const arc = ((angleDistanceDeg((phi * 180) / Math.PI, chip.deg) * Math.PI) / 180) * r;
      const half = chip.widthPx / 2;
      if (arc < half) r -= chip.depthPx * Math.sqrt(1 - (arc / half) ** 2);
    }
    radii[i] = r + opts.noisePx * standardNormal(random);
  }
  return { angles, radii };
}

describe("rim: shape, notch and chips", () => {
  const base = {
    r: 900,
    majorDeg: 30,
    notchDeg: 250,
    noisePx: 0.25,
    rays: 3770,
    seed: 3,
  };

  it("fits a disk 0.7% out of round so that its deficits stay under a pixel", () => {
    const rim = rimProfile({ ...base, axisRatio: 0.993 });
    const shape = fitRimShape(rim, 900);
    let worst = 0;
    for (let i = 0; i < rim.angles.length; i++) {
      const deg = ((rim.angles[i] as number) * 180) / Math.PI;
      if (angleDistanceDeg(deg, base.notchDeg) < 2) continue;
      worst = Math.max(
        worst,
        Math.abs(rimRadiusAt(shape, rim.angles[i] as number) - (rim.radii[i] as number)),
      );
    }
    assert.ok(worst < 1.2, `worst deviation ${worst.toFixed(2)} px`);
    // A circle (order 0) leaves the ellipse's 3 px swing: the test would catch a regression.
    const circleOnly = fitRimShape(rim, 900, 0);
    assert.ok(circleOnly.sigmaPx > 4 * shape.sigmaPx, `${circleOnly.sigmaPx} vs ${shape.sigmaPx}`);
  });

  it("finds the notch and exactly the real chip on an out-of-round disk", () => {
    const rim = rimProfile({
      ...base,
      axisRatio: 0.993,
      chips: [{ deg: 120, widthPx: 30, depthPx: 8 }],
    });
    const reading = readRim(rim, { cx: 1024, cy: 1024, r: 900 }, undefined);
    assert.ok(
      angleDistanceDeg(reading.notchAngleDeg, base.notchDeg) < 0.5,
      `${reading.notchAngleDeg}`,
    );
    assert.equal(reading.notchSource, "detected");
    assert.equal(reading.chips.length, 1, JSON.stringify(reading.chips.map((c) => c.angleDeg)));
    assert.ok(angleDistanceDeg(reading.chips[0]?.angleDeg ?? 0, 120) < 1);
  });

  it("a small chip about as deep as its width is a chip, not a street's slot", () => {
    // 12 px across, 12.5 px deep: its width counted in rays (1.5 px apart) reads 13.5 px, one
    // ray short of its reach; read to one ray spacing it is within 0.9 of its depth.
    const rim = rimProfile({
      ...base,
      axisRatio: 1,
      chips: [{ deg: 120, widthPx: 12, depthPx: 12.5 }],
    });
    const reading = readRim(rim, { cx: 1024, cy: 1024, r: 900 }, undefined);
    assert.equal(reading.chips.length, 1, JSON.stringify(reading.chips));
    assert.ok(angleDistanceDeg(reading.chips[0]?.angleDeg ?? 0, 120) < 1);
  });

  it("reports no chip on a clean round disk, and a hinted notch wins", () => {
    const rim = rimProfile({ ...base, axisRatio: 1 });
    const reading = readRim(rim, { cx: 1024, cy: 1024, r: 900 }, 251);
    assert.equal(reading.notchAngleDeg, 251);
    assert.equal(reading.notchSource, "metadata");
    assert.equal(reading.chips.length, 0);
  });
});

/** A map with a die grid: pitch (px) per axis, dark streets, and a motif drawn by `motif`. */
function patternedMap(
  size: number,
  pitch: number,
  street: number,
  motif: (u: number, v: number) => number,
  noise: number,
  seed: number,
): FloatMap {
  const random = seededRandom(seed);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (((x + 0.5) % pitch) + pitch) % pitch;
      const v = (((y + 0.5) % pitch) + pitch) % pitch;
      const inStreet = u < street || v < street;
      data[y * size + x] = (inStreet ? 600 : 1000 + motif(u, v)) + noise * standardNormal(random);
    }
  }
  return { width: size, height: size, scale: 1, data };
}

describe("lattice", () => {
  const size = 400;
  const region: DiskRegion = { cx: 200, cy: 200, r: 190 };

  it("finds the pitch of a plain die grid", () => {
    const map = patternedMap(
      size,
      32,
      3,
      (u, v) => (u > 10 && u < 20 && v > 8 && v < 24 ? 150 : 0),
      4,
      1,
    );
    const lattice = measureLattice(map, region, 380, 90, 4);
    assert.ok(lattice, "lattice found");
    const pitches = [Math.hypot(lattice.a.x, lattice.a.y), Math.hypot(lattice.b.x, lattice.b.y)];
    for (const p of pitches) assert.ok(Math.abs(p - 32) < 0.1, `pitch ${p}`);
  });

  it("moves on to the next candidate when the shortest near-best repeat is a motif repeat", () => {
    // A strong motif repeating every half die, weak streets: half the pitch matches nearly as
    // well as the pitch itself, but the streets do not line up there.
    const motif = (u: number) => 400 * Math.sin((2 * Math.PI * (u - 1)) / 20) ** 2;
    const map = patternedMap(size, 40, 2, motif, 3, 2);
    const candidates = pitchCandidates(map, region, { x: 1, y: 0 }, 6, 46);
    assert.ok(candidates.length >= 2, `candidates ${candidates}`);
    // The motif repeats every 10 px: the shortest near-best shift, not the pitch.
    assert.ok(Math.abs((candidates[0] as number) - 10) < 1, `first candidate ${candidates[0]}`);
    const lattice = measureLattice(map, region, 380, 90, 3);
    assert.ok(lattice, "patterned wafer not read as bare");
    const along = Math.max(Math.abs(lattice.a.x), Math.abs(lattice.b.x));
    assert.ok(Math.abs(along - 40) < 0.3, `pitch along x ${along}`);
  });

  it("returns null on a smooth surface with noise only", () => {
    const random = seededRandom(5);
    const data = Float32Array.from(
      { length: size * size },
      () => 1000 + 5 * standardNormal(random),
    );
    assert.equal(
      measureLattice({ width: size, height: size, scale: 1, data }, region, 380, 90, 5),
      null,
    );
  });
});

describe("die-to-die and thresholds", () => {
  const size = 320;
  const region: DiskRegion = { cx: 160, cy: 160, r: 150 };
  const motif = (u: number, v: number) => (u > 6 && u < 14 && v > 9 && v < 19 ? 200 : 0);

  it("a particle stands out of its die by its own contrast; its neighbours do not echo it", () => {
    const map = patternedMap(size, 24, 2, motif, 0, 1);
    const at = (x: number, y: number) => y * size + x;
    const spot: Array<[number, number]> = [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    for (const [dx, dy] of spot) {
      map.data[at(170 + dx, 150 + dy)] = (map.data[at(170 + dx, 150 + dy)] as number) + 80;
    }
    const out = new Float32Array(size * size);
    dieToDieResidual(map, { x: 24, y: 0 }, { x: 0, y: 24 }, region, 155, 1, out);
    assert.ok((out[at(170, 150)] as number) > 70, `particle residual ${out[at(170, 150)]}`);
    const neighbours: Array<[number, number]> = [
      [194, 150],
      [146, 150],
      [170, 174],
      [170, 126],
    ];
    for (const [nx, ny] of neighbours) {
      assert.ok(Math.abs(out[at(nx, ny)] as number) < 5, `echo at ${nx},${ny}: ${out[at(nx, ny)]}`);
    }
  });

  it("dies of a 2 x 2 reticle field at +-0.75% do not stand out once levelled (away from the rim); a particle still does", () => {
    const map = patternedMap(size, 24, 2, motif, 0, 1);
    // Street centre lines at x, y = 24k + 0.5: the reticle field is 2 x 2 dies.
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const field =
          (Math.floor((x + 0.5 - 1) / 24) % 2) + 2 * (Math.floor((y + 0.5 - 1) / 24) % 2);
        map.data[y * size + x] =
          (map.data[y * size + x] as number) *
          (1 + ([0.0075, -0.0075, -0.004, 0.005][field] as number));
      }
    }
    const at = (x: number, y: number) => y * size + x;
    map.data[at(170, 150)] = (map.data[at(170, 150)] as number) + 60;
    const out = new Float32Array(size * size);
    const edgeMask = new Uint8Array(size * size);
    dieToDieResidual(map, { x: 24, y: 0 }, { x: 0, y: 24 }, region, 155, 1, out, edgeMask);
    // Pixels (away from the particle and the rim zone) whose residual exceeds 2, a level step
    // of 0.2% of the die level: every die of the field before levelling.
    const standingOut = (residual: Float32Array) => {
      let n = 0;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          if (Math.hypot(x - 170, y - 150) < 4 || Math.hypot(x - 160, y - 160) > 150) continue;
          if (edgeMask[at(x, y)] === 0 && Math.abs(residual[at(x, y)] as number) > 2) n++;
        }
      }
      return n;
    };
    const before = standingOut(out);
    assert.ok(before > 10_000, `${before} pixels stand out before levelling`);
    // Streets cover pixels 24k and 24k + 1 (centre line 24k + 0.5); the disk centre is 160,
    // so a street centre line lies (144.5 - 160) mod 24 = 8.5 px along both axes from it.
    levelDies(
      out,
      size,
      { x: 24, y: 0 },
      { x: 0, y: 24 },
      { a: 8.5, b: 8.5 },
      region,
      0.015 * 1000,
      edgeMask,
      0.003 * 1000,
    );
    const after = standingOut(out);
    assert.ok(
      after < 0.01 * before,
      `${after} pixels stand out after levelling (${before} before)`,
    );
    assert.ok((out[at(170, 150)] as number) > 45, `particle ${out[at(170, 150)]}`);
  });

  it("measures the residual's noise sigma from its tail (Gaussian noise of sigma 3)", () => {
    const random = seededRandom(9);
    const residual = Float32Array.from({ length: size * size }, () => 3 * standardNormal(random));
    const map = { width: size, height: size, scale: 1, data: residual };
    const [model] = measureSigmas([residual], [0], map, region, null);
    const sigma = model?.sigmas[0] as number;
    assert.ok(Math.abs(sigma - 3) < 0.2, `sigma ${sigma}`);
    // The seed threshold derived from it leaves no noise seed on this 10^5-pixel map.
    const blobs = hysteresisBlobs(residual, size, size, region, {
      minHigh: DETECTION.seedSigmas * sigma,
      minLow: DETECTION.growSigmas * sigma,
      high: () => DETECTION.seedSigmas * sigma,
      low: () => DETECTION.growSigmas * sigma,
    });
    assert.equal(blobs.length, 0);
  });
});

describe("die-to-die misregistration allowance from the lattice's geometry", () => {
  const size = 320;
  const region: DiskRegion = { cx: 160, cy: 160, r: 150 };
  const motif = (u: number, v: number) => (u > 6 && u < 14 && v > 9 && v < 19 ? 200 : 0);

  /**
   * A die grid of any (fractional) pitch as a camera sees it: each pixel the mean of 4 x 4
   * point samples over its area (streets 2 px wide at 600, dies at 1000 with a motif), plus
   * white noise, then the binomial smoothing the die-to-die stage applies.
   */
  function cameraGrid(pitch: number, noise: number, seed: number, spot?: [number, number, number]) {
    const random = seededRandom(seed);
    const raw = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let sy = 0; sy < 4; sy++) {
          for (let sx = 0; sx < 4; sx++) {
            const u = (x + (sx + 0.5) / 4) % pitch;
            const v = (y + (sy + 0.5) / 4) % pitch;
            sum += u < 2 || v < 2 ? 600 : 1000 + motif(u, v);
          }
        }
        raw[y * size + x] = sum / 16 + noise * standardNormal(random);
      }
    }
    if (spot) {
      const [sx, sy, contrast] = spot;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const)
        raw[(sy + dy) * size + sx + dx] = (raw[(sy + dy) * size + sx + dx] as number) + contrast;
    }
    const data = new Float32Array(size * size);
    binomialBlur3(raw, size, size, data);
    return { width: size, height: size, scale: 1, data };
  }

  it("forgives a quarter of the range on a whole-pixel lattice and 0.75 at half-pixel offsets", () => {
    assert.equal(pairMisregistrationShare({ x: 24, y: 0 }), DETECTION.samplingPhaseShare);
    assert.equal(pairMisregistrationShare({ x: 24.5, y: -0.5 }), DETECTION.misregistrationShare);
    // The pair at +d and -d sits at fractions f and 1 - f: the same share either way.
    assert.ok(
      Math.abs(
        pairMisregistrationShare({ x: 24.3, y: 7.9 }) -
          pairMisregistrationShare({ x: -24.3, y: -7.9 }),
      ) < 1e-12,
    );
    assert.ok(Math.abs(pairMisregistrationShare({ x: 24.3, y: 0 }) - (0.21 + 0.25)) < 1e-12);
  });

  it("a particle on the street's smoothed ramp keeps its contrast less a quarter of the ramp, not three quarters", () => {
    // Pitch 24: streets cover x = 24k, 24k + 1 (600), dies 1000; after the binomial smoothing
    // x = 24k + 2 sits on the ramp at 900, and its reference cell (x, x + 1) spans 900..1000.
    // A 2 x 2 spot of +60 at x = 170, 171 (u = 2, 3) adds 60 * 9/16 there once smoothed.
    const clean = cameraGrid(24, 0, 1);
    const map = cameraGrid(24, 0, 1, [170, 150, 60]);
    const at = 150 * size + 170;
    const peak = (map.data[at] as number) - (clean.data[at] as number);
    const ramp = (clean.data[at + 1] as number) - (clean.data[at] as number);
    assert.ok(Math.abs(peak - 33.75) < 0.01 && Math.abs(ramp - 100) < 0.01, `${peak} ${ramp}`);
    const out = new Float32Array(size * size);
    const noiseSigma = 1;
    dieToDieResidual(map, { x: 24, y: 0 }, { x: 0, y: 24 }, region, 155, noiseSigma, out);
    // Whole-pixel lattice: each pair forgives a quarter of the ramp (less the noise), so about
    // 10 of the 34 stay; the fixed 0.75 share forgave 74 and left nothing.
    const expected = peak - (DETECTION.samplingPhaseShare * ramp - noiseSigma);
    assert.ok(
      Math.abs((out[at] as number) - expected) < 0.01,
      `residual ${out[at]}, expected ${expected}`,
    );
    assert.ok(expected > 0.25 * peak);
  });

  for (const pitch of [24, 24.4, 24.5]) {
    it(`leaves no noise seed on an area-sampled grid of pitch ${pitch} (its sub-pixel offsets forgiven)`, () => {
      const map = cameraGrid(pitch, 4, 7);
      const a = { x: pitch, y: 0 };
      const b = { x: 0, y: pitch };
      const sigma = estimateDieDifferenceNoise(map.data, size, size, region, a, b);
      const out = new Float32Array(size * size);
      dieToDieResidual(map, a, b, region, 155, sigma, out);
      const score = new Float32Array(size * size);
      binomialBlur3(out, size, size, score);
      const [model] = measureSigmas([score], [0], map, region, a);
      // The score's floor (stages/thresholds.ts): the raw noise (sigma 4) smoothed once.
      const floor = 0.8 * DETECTION.binomialNoiseGain * 4;
      const seed = DETECTION.seedSigmas * Math.max(floor, Math.min(...(model?.sigmas ?? [0])));
      const blobs = hysteresisBlobs(score, size, size, region, {
        minHigh: seed,
        minLow: seed / 2,
        high: () => seed,
        low: () => seed / 2,
      });
      assert.equal(blobs.length, 0, `${blobs.length} noise blobs at seed ${seed}`);
    });
  }
});

describe("noise of the die-to-die comparison", () => {
  const size = 320;
  const region: DiskRegion = { cx: 160, cy: 160, r: 150 };
  const motif = (u: number, v: number) => (u > 6 && u < 14 && v > 9 && v < 19 ? 200 : 0);

  /** The die grid with white noise of sigma 4 blurred by a Gaussian of `blurPx`, rescaled to sigma 4. */
  function correlatedNoiseMap(blurPx: number, seed: number): FloatMap {
    const map = patternedMap(size, 24, 2, motif, 0, seed);
    const random = seededRandom(seed);
    const white = Float32Array.from({ length: size * size }, () => standardNormal(random));
    const reach = Math.ceil(3 * blurPx);
    const kernel = Array.from({ length: 2 * reach + 1 }, (_, k) =>
      Math.exp(-((k - reach) ** 2) / (2 * blurPx * blurPx)),
    );
    const norm = Math.sqrt(kernel.reduce((s, w) => s + w * w, 0));
    const rows = new Float32Array(size * size);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let k = -reach; k <= reach; k++)
          sum +=
            (kernel[k + reach] as number) *
            (white[y * size + Math.min(size - 1, Math.max(0, x + k))] as number);
        rows[y * size + x] = sum / norm;
      }
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let k = -reach; k <= reach; k++)
          sum +=
            (kernel[k + reach] as number) *
            (rows[Math.min(size - 1, Math.max(0, y + k)) * size + x] as number);
        map.data[y * size + x] = (map.data[y * size + x] as number) + (4 * sum) / norm;
      }
    return map;
  }

  it("the Laplacian underestimates correlated noise; the die difference measures it", () => {
    const map = correlatedNoiseMap(1, 4);
    const laplacian = estimateNoiseSigma(map.data, size, size, region);
    const dieDifference = estimateDieDifferenceNoise(
      map.data,
      size,
      size,
      region,
      { x: 24, y: 0 },
      { x: 0, y: 24 },
    );
    assert.ok(laplacian < 0.5 * 4, `Laplacian sigma ${laplacian} (noise correlated over 1 px)`);
    assert.ok(Math.abs(dieDifference - 4) < 0.4, `die-difference sigma ${dieDifference}, true 4`);
  });

  it("agrees with the Laplacian on white noise, and motif edges do not inflate it", () => {
    const map = patternedMap(size, 24, 2, motif, 4, 5);
    const dieDifference = estimateDieDifferenceNoise(
      map.data,
      size,
      size,
      region,
      { x: 24, y: 0 },
      { x: 0, y: 24 },
    );
    const laplacian = estimateNoiseSigma(map.data, size, size, region);
    assert.ok(Math.abs(dieDifference - 4) < 0.3, `die-difference sigma ${dieDifference}`);
    assert.ok(Math.abs(laplacian - 4) < 0.3, `Laplacian sigma ${laplacian}`);
  });

  it("dies of reticle fields at +-0.75% (several sigmas apart) do not count as noise", () => {
    const map = patternedMap(size, 24, 2, motif, 2, 8);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const field =
          (Math.floor((x + 0.5 - 1) / 24) % 2) + 2 * (Math.floor((y + 0.5 - 1) / 24) % 2);
        map.data[y * size + x] =
          (map.data[y * size + x] as number) *
          (1 + ([0.0075, -0.0075, -0.004, 0.005][field] as number));
      }
    }
    const sigma = estimateDieDifferenceNoise(
      map.data,
      size,
      size,
      region,
      { x: 24, y: 0 },
      { x: 0, y: 24 },
    );
    // A die at +0.75% against neighbours at -0.75% differs by 15 on a level of 1000: a pair
    // difference alone read that as noise (sigma ~5); the lagged difference cancels it.
    assert.ok(Math.abs(sigma - 2) < 0.25, `die-difference sigma ${sigma}, true 2`);
  });

  it("with the measured sigma the die-to-die residual of correlated noise is not mostly forgiven, and no noise seeds", () => {
    const map = correlatedNoiseMap(1, 6);
    const sigma = estimateDieDifferenceNoise(
      map.data,
      size,
      size,
      region,
      { x: 24, y: 0 },
      { x: 0, y: 24 },
    );
    const out = new Float32Array(size * size);
    dieToDieResidual(map, { x: 24, y: 0 }, { x: 0, y: 24 }, region, 155, sigma, out);
    const [model] = measureSigmas([out], [0], map, region, { x: 24, y: 0 });
    const seed = DETECTION.seedSigmas * Math.min(...(model?.sigmas ?? [0]));
    const blobs = hysteresisBlobs(out, size, size, region, {
      minHigh: seed,
      minLow: seed / 2,
      high: () => seed,
      low: () => seed / 2,
    });
    assert.equal(blobs.length, 0, `${blobs.length} noise blobs at seed ${seed}`);
  });
});

describe("noise zones", () => {
  const size = 320;
  const region: DiskRegion = { cx: 160, cy: 160, r: 150 };

  it("measures a rim ring of its own noise apart from the interior (sigma 2 inside, 5 in the ring)", () => {
    const random = seededRandom(12);
    const ring = new Uint8Array(size * size);
    const residual = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        ring[i] = Math.hypot(x - 160, y - 160) > 110 ? 1 : 0;
        residual[i] = (ring[i] ? 5 : 2) * standardNormal(random);
      }
    }
    const map = { width: size, height: size, scale: 1, data: residual };
    const [whole] = measureSigmas([residual], [0], map, region, null);
    const [inside] = measureSigmas([residual], [0], map, region, null, ring, 0);
    const [outside] = measureSigmas([residual], [0], map, region, null, ring, 1);
    const at = (m: typeof whole) => m?.sigmas[0] as number;
    assert.ok(Math.abs(at(inside) - 2) < 0.15, `interior sigma ${at(inside)}`);
    assert.ok(Math.abs(at(outside) - 5) < 0.4, `ring sigma ${at(outside)}`);
    // One sigma for both would sit in between: too strict inside, too lax in the ring.
    assert.ok(at(whole) > 2.5 && at(whole) < 4.5, `whole-disk sigma ${at(whole)}`);
  });
});

describe("thresholds: the measured tail of the residual sets the pixel seed", () => {
  const size = 400;
  const region: DiskRegion = { cx: 200, cy: 200, r: 190 };
  const map = (data: Float32Array) => ({ width: size, height: size, scale: 1, data });
  const noise = (draw: (random: () => number) => number, seed: number) => {
    const random = seededRandom(seed);
    return Float32Array.from({ length: size * size }, () => draw(random));
  };

  it("keeps the Gaussian pixel-seed threshold on Gaussian noise", () => {
    const residual = noise((random) => 3 * standardNormal(random), 21);
    const factor = pixelTailFactor(map(residual), residual, region);
    assert.ok(factor >= 1 && factor < 1.08, `factor ${factor}`);
  });

  it("raises it by the measured tail on heavy-tailed (Laplacian, as JPEG errors) noise", () => {
    // Laplace: |x| quantile 0.999 / quantile 0.95 = ln(1000) / ln(20) = 2.31, Gaussian 1.68.
    const residual = noise((random) => {
      const u = random() - 0.5;
      return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    }, 22);
    const factor = pixelTailFactor(map(residual), residual, region);
    assert.ok(Math.abs(factor - 2.31 / 1.68) < 0.1, `factor ${factor}`);
  });

  it("is not raised by an extended defect (a stain covering 3% of the disk)", () => {
    const residual = noise((random) => 3 * standardNormal(random), 23);
    const stain = residualWith(size, [{ cx: 120, cy: 200, profile: disc(33, 6, 15) }]);
    for (let i = 0; i < residual.length; i++)
      residual[i] = (residual[i] as number) + (stain[i] as number);
    const factor = pixelTailFactor(map(residual), residual, region);
    assert.ok(factor < 1.1, `factor ${factor}`);
  });
});

describe("thresholds: noise floors of the statistic each seed tests", () => {
  const size = 200;
  const region: DiskRegion = { cx: 100, cy: 100, r: 90 };
  const work = { width: size, height: size, scale: 1, data: new Float32Array(size * size) };
  const wafer = { analysis: region } as WaferPlace;
  const noise = { sigmaMap: 10, level: 100 };
  // A residual with no noise at all: every threshold is its floor.
  const quiet = new Float32Array(size * size);
  const lattice: Lattice = {
    a: { x: 20, y: 0 },
    b: { x: 0, y: 20 },
    streetPhase: { a: 0, b: 0 },
    periodicity: 1,
  };

  it("bare wafers: floors from the raw map's sigma (score smoothed once, residual raw)", () => {
    const t = detectionThresholds(work, wafer, noise, quiet, null, null);
    const score = 0.8 * DETECTION.binomialNoiseGain * noise.sigmaMap;
    assert.ok(Math.abs(t.seeds.minHigh - DETECTION.seedSigmas * score) < 1e-9);
    assert.ok(
      Math.abs((t.seeds.pixelSeed?.min ?? 0) - DETECTION.pixelSeedSigmas * 0.8 * 10) < 1e-9,
    );
  });

  it("patterned wafers: the pixel seed's floor from the comparison's own sigma on the smoothed map it differences", () => {
    // The comparison ran on a binomial-smoothed map whose per-pixel sigma was measured at 3.75
    // (white noise of 10 smoothed: 0.375 * 10); its residual is such a map's difference.
    const comparisonSigma = 3.75;
    const t = detectionThresholds(work, wafer, noise, quiet, lattice, null, comparisonSigma);
    const pixel = DETECTION.pixelSeedSigmas * 0.8 * comparisonSigma;
    assert.ok(Math.abs((t.seeds.pixelSeed?.min ?? 0) - pixel) < 1e-9, `${t.seeds.pixelSeed?.min}`);
    // The score's floor: that sigma too (here equal to the raw rule's 0.375 x sigmaMap).
    const score = 0.8 * DETECTION.binomialNoiseGain * noise.sigmaMap;
    assert.ok(Math.abs(t.seeds.minHigh - DETECTION.seedSigmas * score) < 1e-9);
    // The raw map's floor (the bare rule) was 2.7x higher: a particle at the spec's floor,
    // which the smoothing before the comparison already attenuated, fell under it.
    const raw = detectionThresholds(work, wafer, noise, quiet, lattice, null);
    assert.ok((raw.seeds.pixelSeed?.min ?? 0) > 2.5 * (t.seeds.pixelSeed?.min ?? 0));
  });
});

/** A residual map holding round defects: profile(distance from centre) per defect. */
function residualWith(
  size: number,
  defects: Array<{ cx: number; cy: number; profile: (d: number) => number }>,
): Float32Array {
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 0;
      for (const d of defects) v += d.profile(Math.hypot(x - d.cx, y - d.cy));
      out[y * size + x] = v;
    }
  }
  return out;
}

/** A flat disk of radius r whose rim falls linearly over `ramp` px. */
const disc = (r: number, ramp: number, contrast: number) => (d: number) =>
  contrast * Math.min(1, Math.max(0, (r + ramp / 2 - d) / Math.max(ramp, 1e-9)));

function blobsOf(residual: Float32Array, size: number, threshold: number) {
  return hysteresisBlobs(
    residual,
    size,
    size,
    { cx: size / 2, cy: size / 2, r: size / 2 - 2 },
    {
      minHigh: threshold,
      minLow: threshold / 3,
      high: () => threshold,
      low: () => threshold / 3,
    },
  );
}

describe("segmentation and grouping", () => {
  it("drops a pixel seed the smoothed score does not support, keeps the smallest particle seeded the same way", () => {
    const size = 64;
    const region = { cx: 32, cy: 32, r: 30 };
    // Residual in noise sigmas; the smoothed seed is out of reach, so only pixel seeds fire.
    const pixelSeeded = (residual: Float32Array, minPixels: number) => {
      const score = new Float32Array(size * size);
      binomialBlur3(residual, size, size, score);
      const low = DETECTION.growSigmas * DETECTION.binomialNoiseGain;
      return hysteresisBlobs(score, size, size, region, {
        minHigh: 1e9,
        minLow: low,
        high: () => 1e9,
        low: () => low,
        pixelSeed: {
          residual,
          min: DETECTION.pixelSeedSigmas,
          high: () => DETECTION.pixelSeedSigmas,
          minPixels,
        },
      });
    };
    const peak = DETECTION.pixelSeedSigmas + 0.5;
    const lone = new Float32Array(size * size);
    lone[20 * size + 20] = peak;
    // A 3 px particle at 2048 is 1.5 map px: by area coverage, edge neighbours ~0.65, corners ~0.4.
    const particle = new Float32Array(size * size);
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const share = dx === 0 && dy === 0 ? 1 : dx === 0 || dy === 0 ? 0.65 : 0.4;
        particle[(40 + dy) * size + 40 + dx] = peak * share;
      }
    }
    assert.equal(pixelSeeded(lone, 1).length, 1, "without the rule the lone pixel is a blob");
    assert.equal(pixelSeeded(lone, DETECTION.pixelSeedMinPixels).length, 0);
    assert.equal(pixelSeeded(particle, DETECTION.pixelSeedMinPixels).length, 1);
  });

  it("keeps two small defects apart when they are more than twice their size apart, even within one die pitch", () => {
    const size = 200;
    // Map at scale 2 (a 2048 px frame): two 30 px voids 80 px apart (gap 50 px > 2 x 30 px? no:
    // 80 - 30 = 50 px gap, twice the size is 60 px) -> use 110 px between centres (gap 80 px).
    const residual = residualWith(size, [
      { cx: 60, cy: 100, profile: disc(7.5, 1, 50) },
      { cx: 115, cy: 100, profile: disc(7.5, 1, 50) },
    ]);
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 2,
      residual,
      score: residual,
    };
    const blobs = blobsOf(residual, size, 20);
    assert.equal(blobs.length, 2);
    // A die pitch of 300 px: the old 1.5-pitch ring reach (450 px) would have joined them.
    const groups = mergeFragments(blobs, ctx, 1, 450, 20, [
      { x: 300, y: 0 },
      { x: 0, y: 300 },
    ]);
    assert.equal(groups.length, 2);
  });

  it("joins the pieces of one defect broken by a gap smaller than the piece", () => {
    const size = 200;
    const residual = residualWith(size, [
      { cx: 80, cy: 100, profile: disc(10, 1, 50) },
      { cx: 104, cy: 100, profile: disc(10, 1, 50) },
    ]);
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 2,
      residual,
      score: residual,
    };
    const blobs = blobsOf(residual, size, 20);
    assert.equal(blobs.length, 2, "two pieces before grouping");
    const groups = mergeFragments(blobs, ctx, 1, 450, 20, [
      { x: 300, y: 0 },
      { x: 0, y: 300 },
    ]);
    assert.equal(groups.length, 1);
  });
});

describe("echoes of a defect wider than a die", () => {
  // Map at scale 2; dies 45 px (full resolution) apart. A bright stain 100 px across is partly
  // compared with itself, so its residual peak understates its contrast; one die beside it the
  // references hold it, and an opposite-sign echo of 70% of its residual peak appears.
  const size = 200;
  const steps = [
    { x: 45, y: 0 },
    { x: 0, y: 45 },
  ] as const;
  const groupsWith = (echoContrast: number) => {
    const residual = residualWith(size, [
      { cx: 80, cy: 100, profile: disc(25, 2, 50) },
      { cx: 114, cy: 100, profile: disc(5, 2, echoContrast) },
    ]);
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 2,
      residual,
      score: residual,
    };
    const blobs = blobsOf(residual, size, 20);
    assert.equal(blobs.length, 2, "host and echo before grouping");
    return mergeFragments(blobs, ctx, 1, 1.5 * 45, 0.6 * 45, steps);
  };

  it("drops an opposite-sign echo up to the host's peak beside a host wider than a pitch", () => {
    assert.equal(groupsWith(-35).length, 1);
  });

  it("keeps an opposite-sign defect stronger than the host's residual peak", () => {
    assert.equal(groupsWith(-60).length, 2);
  });
});

describe("classification", () => {
  const size = 160;
  const classify = (profile: (d: number) => number, mapScale = 2, sizeScale = 1): string => {
    const residual = residualWith(size, [{ cx: 80, cy: 80, profile }]);
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale,
      residual,
      score: residual,
    };
    const [blob] = blobsOf(residual, size, 10);
    assert.ok(blob);
    const f: BlobFeatures = measureBlob(blob.pixels, blob.sign, ctx);
    return classifyBlob(f, sizeScale, mapScale);
  };

  it("a void of 80 px with a razor-sharp rim is a void", () => {
    assert.equal(classify(disc(20, 0.5, 40)), "void");
  });

  it("a void of 80 px whose rim is 5 px soft (the spec's limit) is still a void", () => {
    // 5 px at 2048 is 2.5 map px at scale 2; one more px of blur on top.
    assert.equal(classify(disc(20, 3, 40)), "void");
  });

  it("an 80 px region whose edge falls over a third of its radius is a stain", () => {
    const smoothstep = (e0: number, e1: number, x: number) => {
      const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
      return t * t * (3 - 2 * t);
    };
    assert.equal(
      classify((d) => 30 * (1 - smoothstep(11, 26, d))),
      "stain",
    );
  });

  it("spec sizes scale with the image: a 5 px spot is a particle at 2048 and a void at 512", () => {
    // At 512 px (map scale 1) a 5 px core is 20 px at 2048: inside the void range.
    assert.equal(classify(disc(1.5, 0.5, 40)), "particle");
    assert.equal(classify(disc(2.5, 0.5, 40), 1, 0.25), "void");
  });

  it("the void edge limit grows with our own binning and smoothing, in quadrature", () => {
    const sharp = voidEdgeWidthPx(1, 1, 0);
    const binned = voidEdgeWidthPx(1, 4, 0);
    const smoothed = voidEdgeWidthPx(1, 2, Math.SQRT1_2);
    assert.ok(binned > sharp && smoothed > voidEdgeWidthPx(1, 2, 0));
    assert.ok(CLASSIFY.softEdgeFactor * sharp < 6, "a 6 px soft edge at 2048 is never a void's");
  });
});

/** A bare wafer frame with an out-of-round disk and a notch, for the whole-pipeline check. */
function ellipticalWafer(size: number, axisRatio: number, notchDeg: number): GrayImage {
  const random = seededRandom(11);
  const data = new Uint16Array(size * size);
  const cx = size / 2 + 7;
  const cy = size / 2 - 5;
  const a = 0.45 * size;
  const b = a * axisRatio;
  const major = (20 * Math.PI) / 180;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const phi = Math.atan2(dy, dx);
      const t = phi - major;
      let edge = (a * b) / Math.hypot(b * Math.cos(t), a * Math.sin(t));
      const arc = ((angleDistanceDeg((phi * 180) / Math.PI, notchDeg) * Math.PI) / 180) * edge;
      edge -= Math.max(0, 0.01 * a - arc);
      const inside = Math.min(1, Math.max(0, edge - Math.hypot(dx, dy) + 0.5));
      const level = 12000 + inside * 30000;
      data[y * size + x] = Math.round(level + 300 * standardNormal(random));
    }
  }
  return { width: size, height: size, bitDepth: 16, data };
}

describe("whole pipeline on an out-of-round disk", () => {
  it("finds the notch and reports nothing on a clean disk of axis ratio 0.993", () => {
    const result = detect(ellipticalWafer(1024, 0.993, 135));
    assert.ok(
      angleDistanceDeg(result.wafer.notchAngleDeg, 135) < 1,
      `notch ${result.wafer.notchAngleDeg}`,
    );
    assert.deepEqual(
      result.defects.map((d) => d.class),
      [],
    );
    assert.equal(result.wafer.surface, "bare");
  });
});

/**
 * A patterned wafer whose streets (60% of the die level) are as dark as the chuck, so every
 * street reaching the rim reads as a rim deficit; one real chip at `chipDeg`.
 */
function darkStreetWafer(size: number, chipDeg: number): GrayImage {
  const random = seededRandom(12);
  const data = new Uint16Array(size * size);
  const cx = size / 2;
  const cy = size / 2;
  const radius = 0.44 * size;
  const pitch = 0.045 * 2 * radius;
  const street = 0.12 * pitch;
  const full = 65535;
  const chuck = 0.3 * full;
  const die = 0.5 * full;
  const chipX = cx + radius * Math.cos((chipDeg * Math.PI) / 180);
  const chipY = cy + radius * Math.sin((chipDeg * Math.PI) / 180);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const phi = Math.atan2(dy, dx);
      let edge = radius;
      const arc = ((angleDistanceDeg((phi * 180) / Math.PI, 90) * Math.PI) / 180) * radius;
      edge -= Math.max(0, 0.01 * radius - arc);
      const onDisk = Math.hypot(dx, dy) < edge && Math.hypot(x - chipX, y - chipY) > 14;
      // Streets off the notch (bottom centre): a half pitch to the side of it.
      const u = (((x - cx + 0.5 * pitch) % pitch) + pitch) % pitch;
      const v = (((y - cy + 0.5 * street) % pitch) + pitch) % pitch;
      const inStreet = u < street || v < street;
      const motif = u > 0.4 * pitch && u < 0.6 * pitch && v > 0.3 * pitch && v < 0.7 * pitch;
      const level = onDisk ? (inStreet ? 0.6 * die : motif ? 1.2 * die : die) : chuck;
      data[y * size + x] = Math.round(level + 0.003 * full * standardNormal(random));
    }
  }
  return { width: size, height: size, bitDepth: 16, data };
}

describe("whole pipeline: streets as dark as the chuck reach the rim", () => {
  it("reports the real chip and no chip where a street meets the rim", () => {
    const result = detect(darkStreetWafer(1024, 200), { notchAngleDeg: 90 });
    assert.equal(result.wafer.surface, "patterned");
    const chips = result.defects.filter((d) => d.class === "edge_chip");
    assert.equal(chips.length, 1, JSON.stringify(chips.map((c) => c.bbox)));
    const chip = chips[0];
    assert.ok(chip);
    const angle = (Math.atan2(chip.centroidPx.y - 512, chip.centroidPx.x - 512) * 180) / Math.PI;
    assert.ok(angleDistanceDeg(angle, 200) < 3, `chip at ${angle}`);
  });
});
