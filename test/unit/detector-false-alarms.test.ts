// Unit tests of the detector's false-alarm defences on small rasters built here: the rim ring's noise gain and echoes, the notch as traced, the score's tail.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { FeatureContext } from "../../endpoint/detector/blob-features.ts";
import { dieToDieResidual } from "../../endpoint/detector/die-to-die.ts";
import { EDGE_GAIN_UNIT, referenceNoiseGain } from "../../endpoint/detector/die-to-die-rim-ring.ts";
import { mergeFragments } from "../../endpoint/detector/fragments.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { NOTCH_TIP_LOSS_SIGMAS, readRim } from "../../endpoint/detector/rim.ts";
import { scoreTailFactor } from "../../endpoint/detector/score-tail.ts";
import { workingMap } from "../../endpoint/detector/stages/input.ts";
import { locateDisk, placeWafer } from "../../endpoint/detector/stages/place.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { gaussianBlur } from "../helpers/gaussian-blur.ts";

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? 0;
}

describe("rim ring: the noise gain of extrapolated references", () => {
  // Flat dies of pitch 8, each at its own level (die-specific detail, sigma 5, which the
  // misregistration allowance does not forgive: it is flat inside a die), no sensor noise.
  const size = 600;
  const pitch = 12;
  const region: DiskRegion = { cx: 300, cy: 300, r: 290 };
  const random = seededRandom(11);
  const dies = Math.ceil(size / pitch) + 1;
  const levels = Float64Array.from({ length: dies * dies }, () => 5 * standardNormal(random));
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      data[y * size + x] =
        1000 + (levels[Math.floor(y / pitch) * dies + Math.floor(x / pitch)] as number);
  const map: FloatMap = { width: size, height: size, scale: 1, data };
  const out = new Float32Array(size * size);
  const edgeMask = new Uint8Array(size * size);
  const edgeGain = new Uint8Array(size * size);
  dieToDieResidual(
    map,
    { x: pitch, y: 0 },
    { x: 0, y: pitch },
    region,
    295,
    0.01,
    out,
    edgeMask,
    edgeGain,
  );
  const interior: number[] = [];
  const ring: number[] = [];
  const ringScaled: number[] = [];
  /** Ring pixels compared with one or more pairs left on the wafer, divided by their gain. */
  const pairedScaled: number[] = [];
  const gains = new Set<number>();
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (Math.hypot(x - region.cx, y - region.cy) >= region.r) continue;
      // Die centres only: a reference cell across a die edge has the level step as its
      // range, which the misregistration allowance forgives.
      if (x % pitch < 2 || x % pitch > pitch - 3 || y % pitch < 2 || y % pitch > pitch - 3)
        continue;
      const i = y * size + x;
      const v = Math.abs(out[i] as number);
      const gain = (edgeGain[i] as number) / EDGE_GAIN_UNIT;
      gains.add(edgeGain[i] as number);
      if (edgeMask[i] === 0) {
        assert.equal(gain, 1, "an interior pixel compares with pair averages only");
        interior.push(v);
      } else if (gain >= 1.5) {
        ring.push(v);
        ringScaled.push(v / gain);
      } else pairedScaled.push(v / gain);
    }
  }

  it("marks interior pixels 1 and the rim ring by its configuration (pair, extrapolated, single)", () => {
    assert.ok(gains.has(EDGE_GAIN_UNIT));
    // The ring's configurations (rimRingDirections): two or three pairs left on the wafer (two
    // pairs must exceed together), and one pair or none (edgePixel's rule: the three least
    // precise of four comparisons).
    const pair = 2;
    const extrapolated = 1 / 5;
    for (const precision of [2 * pair, 3 * extrapolated])
      assert.ok(
        gains.has(Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(precision))),
        `gain ${referenceNoiseGain(precision)} present`,
      );
    assert.equal(referenceNoiseGain(3 * pair), 1);
    assert.ok(Math.abs(referenceNoiseGain(3 * extrapolated) - 1.512) < 0.001);
    // Only the outermost pixels, where no pair is left, still extrapolate every reference.
    assert.ok(ring.length > 300, `${ring.length} ring pixels of gain >= 1.5`);
  });

  it("the outer ring's residual tail lies further out than the interior's; divided by the derived gain it matches", () => {
    // Each die is one value, so the ring holds a few hundred: its 99th percentile is the tail it can give.
    for (const q of [0.98, 0.99]) {
      const inner = quantile(interior, q);
      const outer = quantile(ring, q);
      const scaled = quantile(ringScaled, q);
      assert.ok(outer > 1.3 * inner, `ring q${q} ${outer} vs interior ${inner}`);
      assert.ok(
        scaled > 0.85 * inner && scaled < 1.15 * inner,
        `ring q${q} / gain ${scaled} vs interior ${inner}`,
      );
    }
  });

  it("where pairs are left on the wafer, the ring's tail divided by its derived gain is no wider than the interior's", () => {
    assert.ok(pairedScaled.length > 2000, `${pairedScaled.length} ring pixels with pairs`);
    // The gain is the two pairs' (1.035); the one-sided comparison that must exceed with them
    // only thins the tail (here to about 0.75 of the interior's at these quantiles).
    for (const q of [0.98, 0.99]) {
      const inner = quantile(interior, q);
      const scaled = quantile(pairedScaled, q);
      assert.ok(
        scaled > 0.6 * inner && scaled < 1.15 * inner,
        `paired ring q${q} / gain ${scaled} vs interior ${inner}`,
      );
    }
  });
});

/**
 * A 1024 px frame: a wafer disk (level 180 on a chuck of 40) with a 90-degree V notch of 1% of
 * the radius at `notchDeg` and round bites (chips) given as depth and width, each pixel
 * supersampled 4 x 4, then blurred by a Gaussian of `blurPx`.
 */
function blurredWafer(opts: {
  notchDeg: number;
  chips: Array<{ deg: number; widthPx: number; depthPx: number }>;
  blurPx: number;
}): GrayImage {
  const size = 1024;
  const cx = 511.3;
  const cy = 514.8;
  const r = 450;
  const notchDepth = 0.01 * r;
  const onWafer = (x: number, y: number) => {
    const dx = x - cx;
    const dy = y - cy;
    const rho = Math.hypot(dx, dy);
    if (rho > r) return false;
    const phi = (Math.atan2(dy, dx) * 180) / Math.PI;
    const gap = (d: number) => {
      const g = Math.abs(((((phi - d) % 360) + 540) % 360) - 180);
      return ((g * Math.PI) / 180) * r;
    };
    if (r - rho < notchDepth - gap(opts.notchDeg)) return false;
    for (const chip of opts.chips) {
      const s = gap(chip.deg);
      const half = chip.widthPx / 2;
      if (s < half && r - rho < chip.depthPx * Math.sqrt(1 - (s / half) ** 2)) return false;
    }
    return true;
  };
  const sharp = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (Math.abs(Math.hypot(x - cx, y - cy) - r) > 16) {
        sharp[y * size + x] = Math.hypot(x - cx, y - cy) < r ? 180 : 40;
        continue;
      }
      let n = 0;
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 4; i++) if (onWafer(x - 0.375 + i / 4, y - 0.375 + j / 4)) n++;
      sharp[y * size + x] = 40 + (140 * n) / 16;
    }
  }
  const blurred = gaussianBlur(sharp, size, opts.blurPx);
  const data = new Uint8Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(blurred[i] as number);
  return { width: size, height: size, bitDepth: 8, data };
}

describe("rim: the notch as the trace shows it", () => {
  it("derives the traced notch's depth loss from the trace level: 0.86 edge sigmas at traceShare 0.3", () => {
    assert.ok(Math.abs(NOTCH_TIP_LOSS_SIGMAS - 0.863) < 0.002, `${NOTCH_TIP_LOSS_SIGMAS}`);
  });

  it("a chip as deep as the nominal notch is not taken for the blurred notch once the trace's loss is counted", () => {
    // The chip (8 px wide, 4.7 px deep at 1024, inside the spec's 12-56 px at 2048) reads
    // closer to the nominal 4.5 px notch depth than the blurred notch itself does. Blur 0.75 px
    // at 1024: the spec's optics (0.5 px) with a camera's own pixel and focus on top.
    const image = blurredWafer({
      notchDeg: 110,
      chips: [{ deg: 200, widthPx: 8, depthPx: 4.7 }],
      blurPx: 0.75,
    });
    const work = workingMap(image);
    const location = locateDisk(image, work, fullScale(image));
    const hinted = placeWafer(image, work, location, { notchAngleDeg: 110 });
    const plain = readRim(location.rim, location.circle, undefined);
    const plainDeficits = [...(plain.notch ? [plain.notch] : []), ...plain.chips];
    const notchPlain = plainDeficits.find((c) => Math.abs(c.angleDeg - 110) < 2);
    const chipPlain = plainDeficits.find((c) => Math.abs(c.angleDeg - 200) < 2);
    const found = placeWafer(image, work, location, {});
    assert.ok(Math.abs(found.rim.notchAngleDeg - 110) < 2, `notch at ${found.rim.notchAngleDeg}`);
    assert.equal(found.rim.chips.length, 1);
    assert.ok(Math.abs((found.rim.chips[0]?.angleDeg ?? 0) - 200) < 2, "the chip stays a chip");
    assert.equal(hinted.rim.chips.length, 1);
    // Without the trace's loss the chip reads closer to a notch than the notch does; only its
    // walls (a round bite's, steeper than the V's 45 degrees) keep it from being the notch.
    assert.ok(notchPlain && chipPlain, "both deficits are read");
    assert.ok(
      chipPlain.notchCost < notchPlain.notchCost,
      `without the edge spread the chip's notch cost ${chipPlain.notchCost} is below the notch's ${notchPlain.notchCost}`,
    );
    assert.ok(
      chipPlain.wallExcessPx > plain.notchWallAllowancePx,
      "the chip's walls are too steep",
    );
    assert.ok(Math.abs(plain.notchAngleDeg - 110) < 2, `notch at ${plain.notchAngleDeg}`);
  });
});

describe("echoes in the rim ring", () => {
  // Map at scale 1, dies 40 px apart; a bright host 60 px across and, 10-18 px beyond its edge
  // (one die from its centre), an opposite-sign blob of `echo` (the host's residual is 50).
  const size = 200;
  const steps = [
    { x: 40, y: 0 },
    { x: 0, y: 40 },
  ] as const;
  const groupsWith = (echo: number, ring: boolean) => {
    const residual = new Float32Array(size * size);
    const host: number[] = [];
    const spot: number[] = [];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        if (Math.hypot(x - 80, y - 100) <= 30) {
          residual[i] = 50;
          host.push(i);
        } else if (Math.hypot(x - 124, y - 100) <= 4) {
          residual[i] = echo;
          spot.push(i);
        }
      }
    }
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 1,
      residual,
      score: residual,
    };
    // The rim ring (references extrapolated) covers x >= 112 when `ring`.
    const mask = new Uint8Array(size * size);
    if (ring) for (let i = 0; i < mask.length; i++) mask[i] = i % size >= 112 ? 1 : 0;
    return mergeFragments(
      [
        { pixels: Int32Array.from(host), sign: 1 },
        { pixels: Int32Array.from(spot), sign: -1 },
      ],
      ctx,
      1,
      1.5 * 40,
      0.6 * 40,
      steps,
      mask,
    );
  };

  it("inside, an opposite-sign blob stronger than the host is a defect of its own", () => {
    assert.equal(groupsWith(-75, false).length, 2);
  });

  it("in the ring, where a reference is 2 near - far, an echo of 1.5 times the host's peak is dropped", () => {
    assert.equal(groupsWith(-75, true).length, 1);
  });

  it("in the ring, an opposite-sign blob beyond what extrapolation can make (2.4 times) stays", () => {
    assert.equal(groupsWith(-150, true).length, 2);
  });
});

describe("echoes beside a defect broken into die-sized pieces", () => {
  // Dies 40 px apart: a dark stain 52 x 80 px that the rank statistic left as six 24 px pieces
  // (residual -50), and a bright blob of `echo` one die beside it.
  const size = 200;
  const steps = [
    { x: 40, y: 0 },
    { x: 0, y: 40 },
  ] as const;
  const groupsWith = (echo: number) => {
    const residual = new Float32Array(size * size);
    const blobs: Array<{ pixels: Int32Array; sign: 1 | -1 }> = [];
    for (const x0 of [40, 68]) {
      for (const y0 of [30, 58, 86]) {
        const piece: number[] = [];
        for (let y = y0; y < y0 + 24; y++) {
          for (let x = x0; x < x0 + 24; x++) {
            residual[y * size + x] = -50;
            piece.push(y * size + x);
          }
        }
        blobs.push({ pixels: Int32Array.from(piece), sign: -1 });
      }
    }
    const spot: number[] = [];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (Math.hypot(x - 101, y - 70) > 4) continue;
        residual[y * size + x] = echo;
        spot.push(y * size + x);
      }
    }
    blobs.push({ pixels: Int32Array.from(spot), sign: 1 });
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 1,
      residual,
      score: residual,
    };
    return mergeFragments(blobs, ctx, 1, 1.5 * 40, 0.6 * 40, steps);
  };

  it("the pieces make one host wider than a pitch: an echo up to its peak is dropped", () => {
    assert.equal(groupsWith(40).length, 1);
  });

  it("an opposite-sign blob stronger than the host's residual peak stays", () => {
    assert.equal(groupsWith(60).length, 2);
  });
});

describe("echoes of a line along a lattice axis", () => {
  // Dies 40 px apart; a bright scratch 120 px long along a at y = 60 (residual 50) and a short
  // dark blob of -45 one die below it, whose references along b, a+b and a-b all hold the line.
  const size = 200;
  const steps = [
    { x: 40, y: 0 },
    { x: 0, y: 40 },
  ] as const;
  const groupsWith = (ring: boolean) => {
    const residual = new Float32Array(size * size);
    const line: number[] = [];
    const echo: number[] = [];
    for (let y = 59; y <= 61; y++) {
      for (let x = 40; x < 160; x++) {
        residual[y * size + x] = 50;
        line.push(y * size + x);
      }
      for (let x = 94; x < 106; x++) {
        residual[(y + 40) * size + x] = -45;
        echo.push((y + 40) * size + x);
      }
    }
    const ctx: FeatureContext = {
      mapWidth: size,
      mapHeight: size,
      mapScale: 1,
      residual,
      score: residual,
    };
    // The rim ring (references extrapolated) covers y >= 90 when `ring`.
    const mask = new Uint8Array(size * size);
    if (ring) mask.fill(1, 90 * size);
    return mergeFragments(
      [
        { pixels: Int32Array.from(line), sign: 1 },
        { pixels: Int32Array.from(echo), sign: -1 },
      ],
      ctx,
      1,
      1.5 * 40,
      0.6 * 40,
      steps,
      mask,
    );
  };

  it("inside, a blob of 90% of the line's peak is more than its echo can be: kept", () => {
    assert.equal(groupsWith(false).length, 2);
  });

  it("in the ring, where the line enters an extrapolated reference twice, it is its echo: dropped", () => {
    assert.equal(groupsWith(true).length, 1);
  });
});

describe("seed threshold: the measured tail of the smoothed score", () => {
  // As large as a working map: each of the 16 sectors then holds enough samples.
  const size = 1000;
  const region: DiskRegion = { cx: 500, cy: 500, r: 490 };
  const random = seededRandom(5);
  const unitSigma = () => 1;

  it("stays 1 on Gaussian scores", () => {
    const score = Float32Array.from({ length: size * size }, () => standardNormal(random));
    const factor = scoreTailFactor(score, size, region, unitSigma);
    assert.ok(factor < 1.05, `factor ${factor}`);
  });

  it("grows on a heavy tail (Laplacian scores of the same 95th percentile)", () => {
    // A Laplacian's |x| 95th percentile is 3 b, its 1e-3 quantile 6.9 b: 2.3 times, a Gaussian's 1.68.
    const b = 1.96 / 3;
    const score = Float32Array.from(
      { length: size * size },
      () => -b * Math.log(1 - random()) * (random() < 0.5 ? -1 : 1),
    );
    const factor = scoreTailFactor(score, size, region, unitSigma);
    assert.ok(factor > 1.25 && factor < 1.55, `factor ${factor}`);
  });

  it("is not raised by a defect covering a sector of the disk", () => {
    const score = Float32Array.from({ length: size * size }, () => standardNormal(random));
    for (let y = 100; y < 300; y++) for (let x = 400; x < 600; x++) score[y * size + x] = 40;
    const factor = scoreTailFactor(score, size, region, unitSigma);
    assert.ok(factor < 1.05, `factor ${factor}`);
  });
});
