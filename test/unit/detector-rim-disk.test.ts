// Unit test of the measured disk the rim ring takes its references from: out of an edge chip, the notch and an out-of-round rim's short axis, and no narrower than the circle where the rim is round.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { measuredDiskRuns } from "../../endpoint/detector/die-to-die-rim-disk.ts";
import type { RimDeficit, RimShape } from "../../endpoint/detector/rim.ts";
import { rimRadiusAt } from "../../endpoint/detector/rim.ts";

const circle = { cx: 1023.5, cy: 1017.2, r: 900 };
const margin = 1.5;
const trace = 0.5;

/** A deficit as readRim describes one: a bite of `depthPx` over `widthPx` of rim at `angleDeg`. */
function deficit(angleDeg: number, depthPx: number, widthPx: number): RimDeficit {
  const phi = (angleDeg * Math.PI) / 180;
  const half = widthPx / 2 / circle.r;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const a of [phi - half, phi, phi + half])
    for (const r of [circle.r - depthPx, circle.r]) {
      xs.push(circle.cx + r * Math.cos(a));
      ys.push(circle.cy + r * Math.sin(a));
    }
  return {
    angleDeg,
    depthPx,
    widthPx,
    areaPx: depthPx * widthPx,
    notchCost: 2,
    wallExcessPx: depthPx,
    bbox: { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) },
    centroid: { x: circle.cx + circle.r * Math.cos(phi), y: circle.cy + circle.r * Math.sin(phi) },
  };
}

/** A map pixel (x, y) at map scale `scale`: its full-resolution offset from the circle's centre. */
function polar(x: number, y: number, scale: number) {
  const dx = (x + 0.5) * scale - 0.5 - circle.cx;
  const dy = (y + 0.5) * scale - 0.5 - circle.cy;
  return { r: Math.hypot(dx, dy), phi: Math.atan2(dy, dx) };
}

describe("measured disk of the rim ring's references", () => {
  // Out of round by +-3 px (axis ratio 0.993 on a 900 px radius), a chip 26 px deep and 50 wide
  // at 30 degrees, one 12 px deep at 265 degrees (near the top: rows graze it) and the notch.
  const shape: RimShape = {
    r0: circle.r,
    cos: Float64Array.of(0, 3, 0),
    sin: Float64Array.of(0, 0, 0),
    sigmaPx: 0.3,
  };
  const chips = [deficit(30, 26, 50), deficit(265, 12, 30), deficit(90, 9, 18)];
  const bitten = (phi: number): number => {
    let depth = 0;
    for (const chip of chips) {
      const centre = (chip.angleDeg * Math.PI) / 180;
      const apart = Math.abs(Math.atan2(Math.sin(phi - centre), Math.cos(phi - centre)));
      if (apart <= chip.widthPx / 2 / circle.r) depth = Math.max(depth, chip.depthPx);
    }
    return depth;
  };

  for (const scale of [1, 2]) {
    const height = Math.ceil(2048 / scale);
    const runs = measuredDiskRuns(shape, chips, circle, scale, height, margin, trace);
    it(`keeps every run on the measured wafer and off the chips (map scale ${scale})`, () => {
      let inside = 0;
      for (let y = 0; y < height; y++) {
        const from = runs.left[y] as number;
        const to = runs.right[y] as number;
        if (from > to) continue;
        // Both ends, and every column between (an infinite end: up to the circle).
        const half = Math.sqrt(
          Math.max(
            0,
            (circle.r / scale - margin) ** 2 - (y - (circle.cy + 0.5) / scale + 0.5) ** 2,
          ),
        );
        const cx = (circle.cx + 0.5) / scale - 0.5;
        const lo = Math.max(from, cx - half);
        const hi = Math.min(to, cx + half);
        for (const x of [
          lo,
          hi,
          // Every column within 40 px of either end (the rim's band), the middle every 16th.
          ...Array.from(
            { length: Math.max(0, Math.floor(hi) - Math.ceil(lo) + 1) },
            (_, i) => Math.ceil(lo) + i,
          ).filter((x) => x - lo < 40 || hi - x < 40 || x % 16 === 0),
        ]) {
          const { r, phi } = polar(x, y, scale);
          const limit = rimRadiusAt(shape, phi) - bitten(phi) + trace - margin * scale;
          assert.ok(r <= limit + 1e-6, `(${x}, ${y}) at ${r} past the measured rim ${limit}`);
          inside++;
        }
      }
      assert.ok(inside > (2 * 90 * circle.r) / scale, `${inside} points checked on the wafer`);
    });

    it(`leaves out no more than the measured rim does, and nothing where the rim is the circle (map scale ${scale})`, () => {
      let lost = 0;
      let unlimited = 0;
      // Rows that a bite reaches: its sector is widened to its bbox there (biteOf), so the run
      // may stop short of the bite's side; every other row must reach the measured rim.
      const nearBite = (y: number) =>
        chips.some(
          (c) =>
            (y + 0.5) * scale - 0.5 >= c.bbox.y0 - 2 * c.widthPx &&
            (y + 0.5) * scale - 0.5 <= c.bbox.y1 + 2 * c.widthPx,
        );
      for (let y = 0; y < height; y++) {
        if (nearBite(y)) continue;
        const cy = (circle.cy + 0.5) / scale - 0.5;
        const cx = (circle.cx + 0.5) / scale - 0.5;
        const outer = circle.r / scale - margin;
        if (Math.abs(y - cy) >= outer - 2) continue;
        const half = Math.sqrt(outer * outer - (y - cy) ** 2);
        for (const side of [-1, 1] as const) {
          const end = side < 0 ? (runs.left[y] as number) : (runs.right[y] as number);
          if (!Number.isFinite(end)) {
            unlimited++;
            continue;
          }
          // The run's end lies within a 64th of a pixel of the measured rim (less margin), or
          // of a bite's side it was cut at.
          const probe = end + side / 32;
          const { r, phi } = polar(probe, y, scale);
          const limit = rimRadiusAt(shape, phi) - bitten(phi) + trace - margin * scale;
          const offCircle = Math.abs(probe - cx) > half;
          if (!(r > limit || offCircle)) lost++;
        }
      }
      assert.equal(lost, 0, `${lost} run ends short of the measured rim`);
      // Along the long axis (about 0 and 180 degrees) the rim is outside the circle: no limit.
      assert.ok(unlimited > 300 / scale, `${unlimited} ends left to the circle`);
    });
  }

  it("a round rim without bites leaves every reference to the circle", () => {
    const round: RimShape = {
      r0: circle.r - 0.3,
      cos: new Float64Array(3),
      sin: new Float64Array(3),
      sigmaPx: 0.3,
    };
    const runs = measuredDiskRuns(round, [], circle, 2, 1024, margin, trace);
    for (let y = 0; y < 1024; y++) {
      if ((runs.left[y] as number) > (runs.right[y] as number)) continue;
      assert.equal(runs.left[y], Number.NEGATIVE_INFINITY, `row ${y}`);
      assert.equal(runs.right[y], Number.POSITIVE_INFINITY, `row ${y}`);
    }
  });
});
