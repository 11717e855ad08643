// Die levelling (its samples taken a run of one die at a time, its early answer by counting) equals levelling from every die's median, pixel by pixel.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { levelDies } from "../../endpoint/detector/die-levelling.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import { seededRandom } from "../../lib/random.ts";

interface Vec {
  x: number;
  y: number;
}

/**
 * levelDies from its definition, pixel by pixel: each die's median residual (sorted, the
 * floor(count / 2)-th smallest, over every other pixel of every other row, pair-referenced
 * pixels only), clamped to +-maxOffset; levelled when some die has a nonzero offset and the
 * median |offset| over the dies reaches minTypicalOffset, each pair-referenced pixel then
 * shrunk towards 0 by its die's offset. The die of a pixel is computed with levelDies'
 * operations, so both put the same samples into the same dies. Returns whether it levelled.
 */
function levelByMedians(
  residual: Float32Array,
  width: number,
  a: Vec,
  b: Vec,
  phase: { a: number; b: number },
  region: DiskRegion,
  maxOffset: number,
  edgeMask: Uint8Array,
  minTypicalOffset: number,
): boolean {
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const { cx, cy, r } = region;
  const det = a.x * b.y - a.y * b.x;
  const cells = Math.ceil((2 * r) / Math.min(la, lb)) + 4;
  const half = Math.floor(cells / 2);
  const dieOf = (x: number, y: number): number => {
    const dx = x - cx;
    const dy = y - cy;
    const i = Math.floor((dx * b.y - dy * b.x) / det - phase.a / la) + half;
    const j = Math.floor((a.x * dy - a.y * dx) / det - phase.b / lb) + half;
    if (i < 0 || j < 0 || i >= cells || j >= cells || edgeMask[y * width + x] === 1) return -1;
    return j * cells + i;
  };
  const samples = new Map<number, number[]>();
  for (let y = Math.max(0, Math.ceil(cy - r)); y <= Math.floor(cy + r); y += 2) {
    const h = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
    for (let x = Math.max(0, Math.ceil(cx - h)); x <= Math.floor(cx + h); x += 2) {
      const die = dieOf(x, y);
      if (die < 0) continue;
      const list = samples.get(die) ?? [];
      list.push(residual[y * width + x] as number);
      samples.set(die, list);
    }
  }
  const offsets = new Map<number, number>();
  const magnitudes: number[] = [];
  for (const [die, list] of samples) {
    if (list.length < 0.05 * ((la * lb) / 4)) continue;
    const median = [...list].sort((u, v) => u - v)[Math.floor(list.length / 2)] as number;
    const clamped = Math.max(-maxOffset, Math.min(maxOffset, median));
    magnitudes.push(Math.abs(clamped));
    if (clamped !== 0) offsets.set(die, clamped);
  }
  magnitudes.sort((u, v) => u - v);
  const typical = magnitudes[Math.floor(magnitudes.length / 2)] ?? 0;
  if (offsets.size === 0 || typical < minTypicalOffset) return false;
  for (let y = Math.max(0, Math.ceil(cy - r)); y <= Math.floor(cy + r); y++) {
    const h = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
    for (let x = Math.max(0, Math.ceil(cx - h)); x <= Math.floor(cx + h); x++) {
      const offset = offsets.get(dieOf(x, y)) ?? 0;
      const v = residual[y * width + x] as number;
      if (offset > 0 && v > 0) residual[y * width + x] = Math.max(0, v - offset);
      if (offset < 0 && v < 0) residual[y * width + x] = Math.min(0, v - offset);
    }
  }
  return true;
}

describe("die levelling gives what the dies' medians give", () => {
  const size = 200;
  const region: DiskRegion = { cx: 100.3, cy: 99.6, r: 90 };
  const a = { x: 24.2, y: 0.4 };
  const b = { x: -0.4, y: 23.8 };
  const phase = { a: 8.5, b: 3.25 };
  // A die level of 1000: offsets of 3 count (0.3%), up to 15 are removed (1.5%).
  const maxOffset = 15;
  const minTypical = 3;

  it("on dies whose medians sit at, just inside and just outside +-minTypicalOffset", () => {
    let levelled = 0;
    let notLevelled = 0;
    for (let seed = 0; seed < 60; seed++) {
      const random = seededRandom(4400 + seed);
      // Whole-number residuals (ties at every median) around a per-die offset of 0 or
      // +-2..4 (a random share of the dies), so that the typical die's |median| lands below 3,
      // on it and above it.
      const dieOffset = new Map<string, number>();
      const shareOffset = random();
      const residual = new Float32Array(size * size);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          // Roughly the die levelDies puts the pixel in (a street's width off at most).
          const die = `${Math.floor((x - region.cx) / 24.2 - 8.5 / 24.2)},${Math.floor((y - region.cy) / 23.8 - 3.25 / 23.8)}`;
          let offset = dieOffset.get(die);
          if (offset === undefined) {
            const sign = random() < 0.5 ? -1 : 1;
            offset = random() < shareOffset ? sign * (2 + Math.round(2 * random())) : 0;
            dieOffset.set(die, offset);
          }
          const noise = Math.round(4 * random() - 2);
          residual[y * size + x] = random() < 0.02 ? -0 : offset + noise;
        }
      }
      // A rim zone of extrapolated references, which levelling leaves out.
      const edgeMask = new Uint8Array(size * size);
      for (let i = 0; i < edgeMask.length; i++) {
        const dx = (i % size) - region.cx;
        const dy = Math.floor(i / size) - region.cy;
        if (dx * dx + dy * dy > 70 * 70) edgeMask[i] = 1;
      }
      const expectedOut = residual.slice();
      const expected = levelByMedians(
        expectedOut,
        size,
        a,
        b,
        phase,
        region,
        maxOffset,
        edgeMask,
        minTypical,
      );
      const out = residual.slice();
      const got = levelDies(out, size, a, b, phase, region, maxOffset, edgeMask, minTypical);
      assert.equal(got, expected, `seed ${seed}`);
      assert.ok(
        out.every((v, i) => Object.is(v, expectedOut[i])),
        `seed ${seed}: residual differs`,
      );
      if (got) levelled++;
      else notLevelled++;
    }
    assert.ok(levelled >= 10 && notLevelled >= 10, `${levelled} levelled, ${notLevelled} not`);
  });
});
