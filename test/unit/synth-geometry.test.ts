// The wafer millimetre and die-grid conventions of docs/wafer-images.md, on points worked out by hand.
import assert from "node:assert/strict";
import { test } from "vitest";
import {
  type DieGrid,
  dieAt,
  pixelToCellAffine,
  pixelToWaferMm,
  type WaferFrame,
  waferMmToPixel,
} from "../../synth/geometry.ts";

const frame = (notchAngleDeg: number): WaferFrame => ({
  centerPx: { x: 500, y: 480 },
  radiusPx: 400,
  diameterMm: 300,
  notchAngleDeg,
});

function near(actual: { x: number; y: number }, expected: { x: number; y: number }, what: string) {
  assert.ok(
    Math.abs(actual.x - expected.x) < 1e-9 && Math.abs(actual.y - expected.y) < 1e-9,
    `${what}: expected (${expected.x}, ${expected.y}), got (${actual.x}, ${actual.y})`,
  );
}

test("with the notch at the bottom (90) the image axes are the wafer axes, y flipped", () => {
  const f = frame(90);
  near(pixelToWaferMm(f, 500, 480), { x: 0, y: 0 }, "centre");
  near(pixelToWaferMm(f, 900, 480), { x: 150, y: 0 }, "right rim");
  near(pixelToWaferMm(f, 500, 80), { x: 0, y: 150 }, "top rim");
  near(pixelToWaferMm(f, 500, 880), { x: 0, y: -150 }, "notch");
});

test("the notch point maps to (0, -R) wherever the notch is", () => {
  for (const angle of [0, 30, 90, 135, 180, 270, 333.3]) {
    const f = frame(angle);
    const a = (angle * Math.PI) / 180;
    const notch = pixelToWaferMm(f, 500 + 400 * Math.cos(a), 480 + 400 * Math.sin(a));
    near(notch, { x: 0, y: -150 }, `notch at ${angle} deg`);
  }
});

test("with the notch at the right (0) the image top is wafer +x", () => {
  const f = frame(0);
  // Turning the image clockwise so the right-hand notch points down brings the top to the right.
  near(pixelToWaferMm(f, 500, 80), { x: 150, y: 0 }, "top of the image");
  near(pixelToWaferMm(f, 100, 480), { x: 0, y: 150 }, "left of the image");
});

test("pixel -> mm -> pixel is the identity", () => {
  const f = frame(47.5);
  for (const [u, v] of [
    [10, 20],
    [500, 480],
    [811.25, 97.5],
  ] as const) {
    const mm = pixelToWaferMm(f, u, v);
    near(waferMmToPixel(f, mm.x, mm.y), { x: u, y: v }, `round trip of (${u}, ${v})`);
  }
});

test("die (0,0) holds the centre; col grows to +x, row grows towards the notch (-y)", () => {
  const grid: DieGrid = { pitchMm: { x: 10, y: 8 }, offsetMm: { x: 3, y: 2 } };
  assert.deepEqual(dieAt(grid, { x: 0, y: 0 }), { row: 0, col: 0 });
  assert.deepEqual(dieAt(grid, { x: 6.9, y: 1.9 }), { row: 0, col: 0 });
  assert.deepEqual(dieAt(grid, { x: 7.1, y: 0 }), { row: 0, col: 1 });
  assert.deepEqual(dieAt(grid, { x: -3.1, y: 0 }), { row: 0, col: -1 });
  assert.deepEqual(dieAt(grid, { x: 0, y: -6.1 }), { row: 1, col: 0 });
  assert.deepEqual(dieAt(grid, { x: 0, y: 2.1 }), { row: -1, col: 0 });
});

test("the renderer's pixel-to-cell map agrees with pixelToWaferMm and dieAt", () => {
  const f = frame(123.4);
  const grid: DieGrid = { pitchMm: { x: 12, y: 9 }, offsetMm: { x: 5, y: 4 } };
  const cell = pixelToCellAffine(f, grid);
  for (const [u, v] of [
    [500, 480],
    [130, 700],
    [777, 222],
  ] as const) {
    const cellX = cell.ax * u + cell.bx * v + cell.cx;
    const cellY = cell.ay * u + cell.by * v + cell.cy;
    const die = dieAt(grid, pixelToWaferMm(f, u, v));
    assert.deepEqual({ row: Math.floor(cellY), col: Math.floor(cellX) }, die, `pixel (${u}, ${v})`);
  }
});
