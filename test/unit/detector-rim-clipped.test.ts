// Unit tests of the rim's chip/notch split where the notch is out of the frame or failed traces interrupt a chip (issue 8).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { angleDistanceDeg } from "../../endpoint/detector/geometry.ts";
import { detect } from "../../endpoint/detector/index.ts";
import { readRim } from "../../endpoint/detector/rim.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { gaussianBlur } from "../helpers/gaussian-blur.ts";
import { normalDrawCache } from "../helpers/normal-draws.ts";

const FULL = 65535;

interface ClippedWafer {
  size: number;
  /** How far the disk's bottom leaves the frame, share of the frame (the spec allows 1%). */
  leaveShare: number;
  /** A round bite (a disc of this radius whose centre lies 0.3 of it inside the rim). */
  roundChip?: { deg: number; radiusPx: number };
  /** A 90-degree V as deep as the nominal notch (1% of the radius). */
  vChipDeg?: number;
  /** Die pitch as a share of the diameter (patterned, grid square to the image) or bare. */
  pitchShare?: number;
  /** Street level as a share of the die level (default 0.8; the spec allows 0.6-0.95). */
  streetShare?: number;
}

/** Standard normal draws per seed and count (the wafers' noise). */
const normalDraws = normalDrawCache();

/**
 * A wafer filling 98% of a square frame whose bottom (the notch at 90 degrees, 1% of the radius
 * deep) leaves the frame by `leaveShare`; wafer at 50% and chuck at 15% of full scale, the spec's
 * 1 px blur, noise 0.4% of full scale; bare, or dies with streets 10% of the pitch wide (one
 * runs from the frame's centre line, so it crosses the notch's right side).
 */
function clippedWafer(options: ClippedWafer): { image: GrayImage; cx: number; cy: number } {
  const { size, leaveShare, roundChip, vChipDeg, pitchShare, streetShare = 0.8 } = options;
  const radius = 0.49 * size;
  const cx = size / 2;
  const cy = size - 1 + leaveShare * size - radius;
  const pitch = (pitchShare ?? 0) * 2 * radius;
  const level = new Float64Array(size * size);
  const chip = roundChip && {
    x: cx + (radius - 0.3 * roundChip.radiusPx) * Math.cos((roundChip.deg * Math.PI) / 180),
    y: cy + (radius - 0.3 * roundChip.radiusPx) * Math.sin((roundChip.deg * Math.PI) / 180),
  };
  // The edge lies between the radius less the deepest V (1% of it) and the radius: a pixel nearer
  // the centre than that, or past the radius, is decided by Math.sqrt's distance (1e-6 px
  // margins, far above its rounding) without the angle; in between, exactly as drawn before.
  const surelyInside = radius - 0.01 * radius - 1e-6;
  const surelyOutside = radius + 1e-6;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const rough = Math.sqrt(dx * dx + dy * dy);
      let inside = rough < surelyInside;
      if (!inside && rough < surelyOutside) {
        const deg = (Math.atan2(dy, dx) * 180) / Math.PI;
        const arc = (centreDeg: number) =>
          ((angleDistanceDeg(deg, centreDeg) * Math.PI) / 180) * radius;
        const vDepth = (centreDeg: number | undefined) =>
          centreDeg === undefined ? 0 : Math.max(0, 0.01 * radius - arc(centreDeg));
        const edge = radius - Math.max(vDepth(90), vDepth(vChipDeg));
        inside = Math.hypot(dx, dy) < edge;
      }
      const bitten =
        chip !== undefined &&
        roundChip !== undefined &&
        Math.abs(x - chip.x) <= roundChip.radiusPx &&
        Math.abs(y - chip.y) <= roundChip.radiusPx &&
        Math.hypot(x - chip.x, y - chip.y) <= roundChip.radiusPx;
      const onDisk = inside && !bitten;
      const inStreet =
        onDisk &&
        pitch > 0 &&
        ((((dx % pitch) + pitch) % pitch) / pitch < 0.1 ||
          (((dy % pitch) + pitch) % pitch) / pitch < 0.1);
      level[y * size + x] = onDisk ? (inStreet ? streetShare : 1) * 0.5 * FULL : 0.15 * FULL;
    }
  const blurred = gaussianBlur(level, size, 1);
  // Seed 47's draws, the same for both wafers of a size (drawn once per file).
  const draws = normalDraws(47, size * size);
  const data = new Uint16Array(size * size);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.round((blurred[i] as number) + 0.004 * FULL * (draws[i] as number));
  return { image: { width: size, height: size, bitDepth: 16, data }, cx, cy };
}

function chipAngles(result: ReturnType<typeof detect>, cx: number, cy: number): number[] {
  return result.defects
    .filter((d) => d.class === "edge_chip")
    .map(
      (d) => ((Math.atan2(d.centroidPx.y - cy, d.centroidPx.x - cx) * 180) / Math.PI + 360) % 360,
    );
}

describe("rim: a chip is not the notch because the notch is out of the frame", () => {
  it("bare: a round bite of about the notch's depth is reported when the notch has left the frame", () => {
    // The bite is 1.3 x 6 px = 7.8 px deep (2.1% of the radius, inside the notch's depth range)
    // with walls far steeper than the V's 45 degrees.
    const { image, cx, cy } = clippedWafer({
      size: 768,
      leaveShare: 0.01,
      roundChip: { deg: 200, radiusPx: 6 },
    });
    const result = detect(image);
    const angles = chipAngles(result, cx, cy);
    assert.equal(angles.length, 1, `chips at ${angles.join(", ")}`);
    assert.ok(angleDistanceDeg(angles[0] as number, 200) < 2, `chip at ${angles[0]}`);
  });

  it("bare: with the notch in view the same bite is a chip and the notch is read at 90 degrees", () => {
    const { image, cx, cy } = clippedWafer({
      size: 768,
      leaveShare: -0.01,
      roundChip: { deg: 200, radiusPx: 6 },
    });
    const result = detect(image);
    assert.ok(
      angleDistanceDeg(result.wafer.notchAngleDeg, 90) < 1,
      `notch at ${result.wafer.notchAngleDeg}`,
    );
    const angles = chipAngles(result, cx, cy);
    assert.equal(angles.length, 1, `chips at ${angles.join(", ")}`);
  });

  it("patterned: a V chip off the grid's axes is a chip even when no deficit on an axis could be the notch", () => {
    // A V as deep as the notch: its walls pass for the notch's, only the grid tells them apart.
    const { image, cx, cy } = clippedWafer({
      size: 1024,
      leaveShare: 0.01,
      vChipDeg: 333,
      pitchShare: 0.06,
    });
    const result = detect(image);
    assert.equal(result.wafer.surface, "patterned");
    const angles = chipAngles(result, cx, cy);
    assert.equal(angles.length, 1, `chips at ${angles.join(", ")}`);
    assert.ok(angleDistanceDeg(angles[0] as number, 333) < 2, `chip at ${angles[0]}`);
  });
});

describe("rim: the notch keeps its reading where a dark street crosses its side", () => {
  it("patterned, streets at the spec's darkest 60% of the die level, the notch in view: the notch and no chip", () => {
    // The street dips the trace on the V's side: a step the walls' allowance must hold.
    const { image, cx, cy } = clippedWafer({
      size: 1024,
      leaveShare: -0.01,
      pitchShare: 0.06,
      streetShare: 0.6,
    });
    const result = detect(image);
    assert.equal(result.wafer.surface, "patterned");
    assert.ok(
      angleDistanceDeg(result.wafer.notchAngleDeg, 90) < 1,
      `notch at ${result.wafer.notchAngleDeg}`,
    );
    const angles = chipAngles(result, cx, cy);
    assert.equal(angles.length, 0, `chips at ${angles.join(", ")}`);
  });
});

describe("rim: rays whose trace failed inside a chip", () => {
  /**
   * A rim profile of a 1000 px disk traced by 4096 rays, with a round bite (a disc of 9 px
   * radius, centre 3 px inside the rim) at 300 degrees; `failed` rays inside the bite traced
   * far outside the rim (the chuck darkened to the trace level at a frame edge) or not at all.
   */
  function profileWithBite(failed: Array<{ offset: number; radius: number }>) {
    const n = 4096;
    const r0 = 1000;
    const random = seededRandom(5);
    const angles = new Float64Array(n);
    const radii = new Float64Array(n);
    const chipPhi = (300 * Math.PI) / 180;
    const centre = { x: (r0 - 3) * Math.cos(chipPhi), y: (r0 - 3) * Math.sin(chipPhi) };
    const chipRay = Math.round((300 / 360) * n);
    for (let i = 0; i < n; i++) {
      const phi = (2 * Math.PI * i) / n;
      angles[i] = phi;
      // Where the ray leaves the disc of the bite (the far root), else the rim.
      const c = Math.cos(phi);
      const s = Math.sin(phi);
      const along = c * centre.x + s * centre.y;
      const across2 = centre.x ** 2 + centre.y ** 2 - along * along;
      const inside = 81 - across2;
      const bitten = inside > 0 ? along - Math.sqrt(inside) : r0;
      radii[i] = Math.min(r0, bitten) + 0.05 * standardNormal(random);
    }
    for (const { offset, radius } of failed) radii[chipRay + offset] = radius;
    return { rim: { angles, radii }, circle: { cx: 1100, cy: 1100, r: r0 } };
  }

  it("reads one chip across rays traced outside the rim or not at all", () => {
    const { rim, circle } = profileWithBite([
      { offset: -2, radius: 1035 },
      { offset: 1, radius: Number.NaN },
      { offset: 2, radius: 1038 },
    ]);
    const reading = readRim(rim, circle, 90);
    assert.equal(reading.chips.length, 1, JSON.stringify(reading.chips.map((c) => c.angleDeg)));
    const chip = reading.chips[0];
    assert.ok(chip);
    assert.ok(angleDistanceDeg(chip.angleDeg, 300) < 0.3, `chip at ${chip.angleDeg}`);
    // The bite is about 2 x sqrt(81 - 9) = 17 px wide and 12 px deep.
    assert.ok(chip.widthPx > 14 && chip.widthPx < 22, `width ${chip.widthPx}`);
    assert.ok(chip.depthPx > 10 && chip.depthPx < 13, `depth ${chip.depthPx}`);
  });

  it("the same bite without failed rays reads the same chip", () => {
    const { rim, circle } = profileWithBite([]);
    const reading = readRim(rim, circle, 90);
    assert.equal(reading.chips.length, 1);
    const chip = reading.chips[0];
    assert.ok(chip && chip.widthPx > 14 && chip.widthPx < 22, `width ${chip?.widthPx}`);
  });
});
