// Unit tests of the rim on patterned wafers built here: blurred streets at 60% of the die level meeting the rim at grazing angles are not chips; a notch-like chip off the die grid's axes is not the notch.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { angleDistanceDeg } from "../../endpoint/detector/geometry.ts";
import { detect } from "../../endpoint/detector/index.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { gaussianBlur } from "../helpers/gaussian-blur.ts";

/**
 * A patterned wafer (spec: streets at 60% of the die level (the spec's darkest), 12% of a 27 px pitch wide; grid turned
 * 3 degrees so streets meet the rim at every angle, grazing ones included), blurred by the
 * spec's 1 px, on a chuck at 7% of full scale, with noise of 1% of full scale; the notch at 90 degrees, and a chip at `chipDeg` if given.
 */
function grazingStreetWafer(size: number, chipDeg: number | null): GrayImage {
  const random = seededRandom(21);
  const level = new Float64Array(size * size);
  const cx = size / 2;
  const cy = size / 2;
  const radius = 0.44 * size;
  const pitch = 0.03 * 2 * radius;
  const street = 0.12 * pitch;
  const full = 65535;
  const chuck = 0.07 * full;
  const die = 0.46 * full;
  const turn = (3 * Math.PI) / 180;
  const cos = Math.cos(turn);
  const sin = Math.sin(turn);
  const chipX = chipDeg === null ? 0 : cx + radius * Math.cos((chipDeg * Math.PI) / 180);
  const chipY = chipDeg === null ? 0 : cy + radius * Math.sin((chipDeg * Math.PI) / 180);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const r = Math.hypot(dx, dy);
      // The notch's edge lies within 1% of the radius: nearer the centre, or past the radius,
      // the edge need not be computed (the same pixels, the per-pixel angles only near the rim).
      let inside = r < 0.98 * radius;
      if (!inside && r < radius) {
        const phi = Math.atan2(dy, dx);
        const arc = ((angleDistanceDeg((phi * 180) / Math.PI, 90) * Math.PI) / 180) * radius;
        inside = r < radius - Math.max(0, 0.01 * radius - arc);
      }
      const chipped = chipDeg !== null && Math.hypot(x - chipX, y - chipY) <= 12;
      const onDisk = inside && !chipped;
      const u = (((cos * dx + sin * dy) % pitch) + pitch) % pitch;
      const v = (((-sin * dx + cos * dy) % pitch) + pitch) % pitch;
      const inStreet = u < street || v < street;
      level[y * size + x] = onDisk ? (inStreet ? 0.6 * die : die) : chuck;
    }
  const blurred = gaussianBlur(level, size, 1);
  const data = new Uint16Array(size * size);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.round((blurred[i] as number) + 0.01 * full * standardNormal(random));
  return { width: size, height: size, bitDepth: 16, data };
}

describe("edge chips: blurred streets meeting the rim at grazing angles", () => {
  it("reports no chip on a clean wafer whose streets meet the rim at every angle", () => {
    const result = detect(grazingStreetWafer(1024, null), { notchAngleDeg: 90 });
    assert.equal(result.wafer.surface, "patterned");
    const chips = result.defects.filter((d) => d.class === "edge_chip");
    assert.equal(chips.length, 0, JSON.stringify(chips.map((c) => c.bbox)));
  });

  it("still reports a real chip on the same wafer", () => {
    const result = detect(grazingStreetWafer(1024, 200), { notchAngleDeg: 90 });
    const chips = result.defects.filter((d) => d.class === "edge_chip");
    assert.equal(chips.length, 1, JSON.stringify(chips.map((c) => c.bbox)));
    const chip = chips[0];
    assert.ok(chip);
    const angle = (Math.atan2(chip.centroidPx.y - 512, chip.centroidPx.x - 512) * 180) / Math.PI;
    assert.ok(angleDistanceDeg(angle, 200) < 3, `chip at ${angle}`);
  });
});

/**
 * A patterned wafer whose die grid is square to the image (the notch at 90 degrees lies along
 * its axis, as the spec turns the grid with the notch), with a notch `notchShare` of the radius
 * deep and a chip cut as a 90-degree V the nominal notch depth (1%) deep at `chipDeg`; 1 px blur.
 */
function notchAndVChipWafer(size: number, notchShare: number, chipDeg: number): GrayImage {
  const random = seededRandom(31);
  const level = new Float64Array(size * size);
  const cx = size / 2;
  const cy = size / 2;
  const radius = 0.44 * size;
  const pitch = 0.06 * 2 * radius;
  const street = 0.1 * pitch;
  const full = 65535;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const r = Math.hypot(dx, dy);
      // Both Vs lie within max(notchShare, 1%) of the radius: the angles only near the rim.
      let inside = r < (1 - Math.max(notchShare, 0.01) - 0.01) * radius;
      if (!inside && r < radius) {
        const deg = (Math.atan2(dy, dx) * 180) / Math.PI;
        // Rim length from each V's centre; a 90-degree V is as deep as that length is short.
        const arc = (centreDeg: number) =>
          ((angleDistanceDeg(deg, centreDeg) * Math.PI) / 180) * radius;
        inside =
          r < radius - Math.max(0, notchShare * radius - arc(90), 0.01 * radius - arc(chipDeg));
      }
      const u = ((dx % pitch) + pitch) % pitch;
      const v = ((dy % pitch) + pitch) % pitch;
      const inStreet = u < street || v < street;
      level[y * size + x] = inside ? (inStreet ? 0.4 : 0.5) * full : 0.15 * full;
    }
  const blurred = gaussianBlur(level, size, 1);
  const data = new Uint16Array(size * size);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.round((blurred[i] as number) + 0.004 * full * standardNormal(random));
  return { width: size, height: size, bitDepth: 16, data };
}

describe("notch: the die grid is turned with it", () => {
  it("a V chip of the nominal notch depth off the grid's axes is a chip; the shallower V on an axis is the notch", () => {
    const result = detect(notchAndVChipWafer(1024, 0.007, 343));
    assert.equal(result.wafer.surface, "patterned");
    assert.equal(result.wafer.notchSource, "detected");
    assert.ok(
      angleDistanceDeg(result.wafer.notchAngleDeg, 90) < 1,
      `notch at ${result.wafer.notchAngleDeg}`,
    );
    const chips = result.defects.filter((d) => d.class === "edge_chip");
    assert.equal(chips.length, 1, JSON.stringify(chips.map((c) => c.bbox)));
    const chip = chips[0];
    assert.ok(chip);
    const angle = (Math.atan2(chip.centroidPx.y - 512, chip.centroidPx.x - 512) * 180) / Math.PI;
    assert.ok(angleDistanceDeg(angle, 343) < 2, `chip at ${angle}`);
  });
});
