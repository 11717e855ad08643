// Unit tests of detect() on wafers drawn here (independent of synth/): geometry, classes, errors.
import assert from "node:assert/strict";
import { test } from "vitest";
import { detect, InvalidImageError, WaferNotFoundError } from "../../endpoint/detector/index.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { scoreWafer } from "../../qa/evaluate.ts";
import type { BBox, DefectClass } from "../../schemas/common.ts";

interface Painted {
  cls: Exclude<DefectClass, "unknown">;
  bbox: BBox;
  /** Adds this defect's contrast (fraction of full scale) at a pixel, 0 outside. */
  at: (x: number, y: number) => number;
}

interface WaferSpec {
  size: number;
  centre: { x: number; y: number };
  radius: number;
  notchDeg: number;
  waferLevel: number;
  chuckLevel: number;
  sigma: number;
  /** Patterned: pitch in px along the oriented axes; streets are darker. */
  pitch?: number;
  defects: Painted[];
  chip?: { angleDeg: number; radius: number };
  seed: number;
}

const smooth = (e0: number, e1: number, v: number) => {
  const t = Math.min(1, Math.max(0, (v - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

function disc(cls: Painted["cls"], cx: number, cy: number, r: number, contrast: number): Painted {
  return {
    cls,
    bbox: {
      x: Math.floor(cx - r),
      y: Math.floor(cy - r),
      width: Math.ceil(2 * r) + 1,
      height: Math.ceil(2 * r) + 1,
    },
    at: (x, y) => contrast * Math.min(1, Math.max(0, r + 0.5 - Math.hypot(x - cx, y - cy))),
  };
}

function stain(cx: number, cy: number, r: number, contrast: number): Painted {
  return {
    cls: "stain",
    bbox: {
      x: Math.floor(cx - r),
      y: Math.floor(cy - r),
      width: Math.ceil(2 * r),
      height: Math.ceil(2 * r),
    },
    at: (x, y) => contrast * (1 - smooth(0.5, 1, Math.hypot(x - cx, y - cy) / r)),
  };
}

function scratch(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  halfWidth: number,
  contrast: number,
): Painted {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const ux = (x1 - x0) / len;
  const uy = (y1 - y0) / len;
  return {
    cls: "scratch",
    bbox: {
      x: Math.floor(Math.min(x0, x1) - 2),
      y: Math.floor(Math.min(y0, y1) - 2),
      width: Math.ceil(Math.abs(x1 - x0)) + 4,
      height: Math.ceil(Math.abs(y1 - y0)) + 4,
    },
    at: (x, y) => {
      const along = (x - x0) * ux + (y - y0) * uy;
      if (along < 0 || along > len) return 0;
      const across = Math.abs(-(x - x0) * uy + (y - y0) * ux);
      return contrast * Math.min(1, Math.max(0, halfWidth + 0.5 - across));
    },
  };
}

/** Renders an 8-bit wafer: disk with notch (and chip), illumination falloff, pattern, noise. */
function renderWafer(spec: WaferSpec): GrayImage {
  const { size, centre, radius } = spec;
  const random = seededRandom(spec.seed);
  const data = new Uint8Array(size * size);
  const notch = (spec.notchDeg * Math.PI) / 180;
  const notchDepth = 0.01 * radius;
  const notchTip = {
    x: centre.x + (radius - notchDepth) * Math.cos(notch),
    y: centre.y + (radius - notchDepth) * Math.sin(notch),
  };
  const chipCentre = spec.chip
    ? {
        x: centre.x + radius * Math.cos((spec.chip.angleDeg * Math.PI) / 180),
        y: centre.y + radius * Math.sin((spec.chip.angleDeg * Math.PI) / 180),
      }
    : null;
  // Grid axes turn with the notch: oriented x is (notch - 90) degrees clockwise in the image.
  const gridAngle = notch - Math.PI / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - centre.x;
      const dy = y - centre.y;
      const r = Math.hypot(dx, dy);
      let inside = r <= radius;
      if (inside) {
        // 90-degree V: a pixel is cut when it lies within 45 degrees of the outward axis from the tip.
        const tx = x - notchTip.x;
        const ty = y - notchTip.y;
        const outward = tx * Math.cos(notch) + ty * Math.sin(notch);
        if (outward > 0 && Math.abs(-tx * Math.sin(notch) + ty * Math.cos(notch)) < outward)
          inside = false;
        if (
          chipCentre &&
          spec.chip &&
          Math.hypot(x - chipCentre.x, y - chipCentre.y) < spec.chip.radius
        )
          inside = false;
      }
      let level = spec.chuckLevel + 0.02 * (x / size);
      if (inside) {
        const rr = r / radius;
        level = spec.waferLevel * (1 - 0.08 * rr * rr + 0.03 * (dx / radius));
        if (spec.pitch) {
          const u = dx * Math.cos(gridAngle) + dy * Math.sin(gridAngle);
          const v = -dx * Math.sin(gridAngle) + dy * Math.cos(gridAngle);
          const pu = (((u + 7) % spec.pitch) + spec.pitch) % spec.pitch;
          const pv = (((v + 11) % spec.pitch) + spec.pitch) % spec.pitch;
          if (pu < 4 || pv < 4) level *= 0.75;
          else if (pu > 12 && pu < 22 && pv > 14 && pv < 30) level *= 1.15;
        }
        for (const d of spec.defects) {
          const b = d.bbox;
          if (x >= b.x - 2 && y >= b.y - 2 && x <= b.x + b.width + 2 && y <= b.y + b.height + 2)
            level += d.at(x, y);
        }
      }
      const g = standardNormal(random);
      data[y * size + x] = Math.max(0, Math.min(255, Math.round(255 * (level + spec.sigma * g))));
    }
  }
  return { width: size, height: size, bitDepth: 8, data };
}

const bareSpec: WaferSpec = {
  size: 1024,
  centre: { x: 515.3, y: 508.7 },
  radius: 452,
  notchDeg: 90,
  waferLevel: 0.62,
  chuckLevel: 0.12,
  sigma: 0.01,
  defects: [
    disc("particle", 300.2, 400.7, 3, 0.16),
    scratch(560, 620, 640, 700, 0.8, -0.14),
    disc("void", 700, 380, 16, 0.12),
    stain(400, 700, 60, -0.09),
  ],
  chip: { angleDeg: 200, radius: 9 },
  seed: 3,
};

test("bare wafer: finds the disk, the notch and one defect of every class", () => {
  const image = renderWafer(bareSpec);
  const result = detect(image);
  const w = result.wafer;
  assert.ok(Math.abs(w.centerPx.x - bareSpec.centre.x) < 0.5, `cx ${w.centerPx.x}`);
  assert.ok(Math.abs(w.centerPx.y - bareSpec.centre.y) < 0.5, `cy ${w.centerPx.y}`);
  assert.ok(Math.abs(w.radiusPx - bareSpec.radius) < 1, `r ${w.radiusPx}`);
  assert.ok(Math.abs(w.notchAngleDeg - 90) < 1, `notch ${w.notchAngleDeg}`);
  assert.equal(w.notchSource, "detected");
  assert.equal(w.surface, "bare");
  assert.ok(Math.abs(w.noiseSigma - 0.01) < 0.002, `sigma ${w.noiseSigma}`);
  const chipAngle = (200 * Math.PI) / 180;
  const chipX = bareSpec.centre.x + bareSpec.radius * Math.cos(chipAngle);
  const chipY = bareSpec.centre.y + bareSpec.radius * Math.sin(chipAngle);
  const truth = [
    ...bareSpec.defects.map((d) => ({ class: d.cls, bbox: d.bbox })),
    {
      class: "edge_chip" as const,
      bbox: { x: Math.floor(chipX - 9), y: Math.floor(chipY - 9), width: 18, height: 18 },
    },
  ];
  const score = scoreWafer(truth, result.defects);
  assert.equal(
    score.found,
    truth.length,
    `found ${score.found}: ${JSON.stringify(result.defects.map((d) => [d.class, d.bbox]))}`,
  );
  assert.equal(score.falseAlarms, 0);
  assert.deepEqual(
    score.confusion.map(([t, r]) => `${t}->${r}`),
    truth.map((t) => `${t.class}->${t.class}`),
  );
  for (const d of result.defects) {
    assert.ok(d.score > 0 && d.score <= 1);
    assert.equal(d.die, null);
  }
});

test("a bare wafer with one stain of the spec's largest size does not pay for the lattice search", () => {
  // 150 px across at 1024 px: the spec's largest stain (300 px at 2048).
  const big = stain(470, 560, 75, -0.09);
  const result = detect(renderWafer({ ...bareSpec, defects: [big], chip: undefined, seed: 11 }));
  assert.equal(result.wafer.surface, "bare");
  // Stage names, not times: the lattice stage never ran, the bare residual did.
  assert.equal("lattice" in result.timingMs, false, JSON.stringify(result.timingMs));
  assert.equal("residual" in result.timingMs, true, JSON.stringify(result.timingMs));
  const score = scoreWafer([{ class: big.cls, bbox: big.bbox }], result.defects);
  assert.equal(score.found, 1, JSON.stringify(result.defects.map((d) => [d.class, d.bbox])));
  assert.equal(score.falseAlarms, 0);
});

test("bare wafer on a bright chuck with a hinted notch and 200 mm diameter", () => {
  const spec: WaferSpec = {
    ...bareSpec,
    waferLevel: 0.35,
    chuckLevel: 0.85,
    notchDeg: 300,
    defects: [disc("void", 600, 500, 20, -0.1)],
    chip: undefined,
    seed: 5,
  };
  const result = detect(renderWafer(spec), { notchAngleDeg: 300, waferDiameterMm: 200 });
  assert.equal(result.wafer.notchSource, "metadata");
  assert.equal(result.wafer.notchAngleDeg, 300);
  assert.ok(Math.abs(result.wafer.mmPerPx - 100 / spec.radius) < 1e-3);
  assert.equal(result.defects.length, 1);
  const [v] = result.defects;
  assert.equal(v?.class, "void");
  // waferMm of the void: image offset (84.7, -8.7) px, turned by notch-90 = 210 degrees.
  const s = 100 / spec.radius;
  const dx = (600 - spec.centre.x) * s;
  const dy = -(500 - spec.centre.y) * s;
  const a = (210 * Math.PI) / 180;
  assert.ok(Math.abs((v?.waferMm.x ?? 0) - (dx * Math.cos(a) - dy * Math.sin(a))) < 0.3);
  assert.ok(Math.abs((v?.waferMm.y ?? 0) - (dx * Math.sin(a) + dy * Math.cos(a))) < 0.3);
});

/** The clean bare wafer, drawn once: the clean test and the bad hint's refusal read it. */
let clean: GrayImage | undefined;
function cleanWafer(): GrayImage {
  clean ??= renderWafer({ ...bareSpec, defects: [], chip: undefined, seed: 9 });
  return clean;
}

test("clean wafer: no defects reported", () => {
  const result = detect(cleanWafer());
  assert.deepEqual(result.defects, []);
});

test("patterned wafer turned with its notch: lattice measured, particle and scratch found, dies indexed", () => {
  const spec: WaferSpec = {
    ...bareSpec,
    notchDeg: 120,
    pitch: 48,
    chip: undefined,
    defects: [disc("particle", 420.4, 380.2, 3, 0.2), scratch(600, 560, 700, 640, 1, 0.15)],
    seed: 13,
  };
  const result = detect(renderWafer(spec));
  assert.equal(result.wafer.surface, "patterned");
  assert.ok(Math.abs(result.wafer.notchAngleDeg - 120) < 1, `notch ${result.wafer.notchAngleDeg}`);
  const pitch = result.wafer.diePitchPx;
  assert.ok(
    pitch && Math.abs(pitch.x - 48) < 0.5 && Math.abs(pitch.y - 48) < 0.5,
    JSON.stringify(pitch),
  );
  const score = scoreWafer(
    spec.defects.map((d) => ({ class: d.cls, bbox: d.bbox })),
    result.defects,
  );
  assert.equal(score.found, 2, JSON.stringify(result.defects.map((d) => [d.class, d.bbox])));
  assert.equal(score.falseAlarms, 0);
  assert.equal(score.classCorrect, 2);
  for (const d of result.defects) assert.ok(d.die !== null);
});

test("bad input is refused with errors that say what is wrong", () => {
  assert.throws(
    () => detect({ width: 100, height: 100, bitDepth: 8, data: new Uint8Array(10) }),
    (e: unknown) =>
      e instanceof InvalidImageError && /holds 10 pixels, expected 100x100/.test(e.message),
  );
  const blank = {
    width: 512,
    height: 512,
    bitDepth: 8 as const,
    data: new Uint8Array(512 * 512).fill(90),
  };
  assert.throws(
    () => detect(blank),
    (e: unknown) => e instanceof WaferNotFoundError && /no wafer disk/.test(e.message),
  );
  assert.throws(
    () => detect(cleanWafer(), { notchAngleDeg: 400 }),
    /invalid detection hint notchAngleDeg/,
  );
});

test("a wafer that overfills the frame on one side is still measured and inspected", () => {
  // 98% of the side with the centre 3% off: the rim leaves the frame on the right.
  const spec: WaferSpec = {
    ...bareSpec,
    centre: { x: 512 + 30, y: 512 - 10 },
    radius: 0.49 * 1024,
    defects: [disc("void", 400, 600, 14, 0.12)],
    chip: undefined,
    seed: 21,
  };
  const result = detect(renderWafer(spec));
  assert.ok(Math.abs(result.wafer.centerPx.x - spec.centre.x) < 1, `cx ${result.wafer.centerPx.x}`);
  assert.ok(Math.abs(result.wafer.radiusPx - spec.radius) < 1, `r ${result.wafer.radiusPx}`);
  const score = scoreWafer(
    [{ class: "void", bbox: spec.defects[0]?.bbox as BBox }],
    result.defects,
  );
  assert.equal(score.found, 1);
  assert.equal(score.falseAlarms, 0, JSON.stringify(result.defects));
});

test("a void beside an edge chip, not touching it, is reported with the chip", () => {
  // Round 50 of docs/detector-recall.md, G (SYN-20261529-7/wafer-007): a defect near a chip was
  // dropped as the chip's inward part because its centroid fell in the chip's box widened by the
  // chip's whole width. The chip's inward part is contiguous with the chip; a void 13 px along
  // the rim from the chip's bite is a defect of its own.
  const chipDeg = 200;
  const chipRadius = 12;
  const gapPx = 13;
  const voidRadius = 6;
  const voidDeg = chipDeg + ((chipRadius + gapPx + voidRadius) / bareSpec.radius) * (180 / Math.PI);
  const voidR = bareSpec.radius - 16;
  const voidX = bareSpec.centre.x + voidR * Math.cos((voidDeg * Math.PI) / 180);
  const voidY = bareSpec.centre.y + voidR * Math.sin((voidDeg * Math.PI) / 180);
  const near = disc("void", voidX, voidY, voidRadius, 0.12);
  const spec: WaferSpec = {
    ...bareSpec,
    defects: [near],
    chip: { angleDeg: chipDeg, radius: chipRadius },
    seed: 5,
  };
  const result = detect(renderWafer(spec));
  const chipX = bareSpec.centre.x + bareSpec.radius * Math.cos((chipDeg * Math.PI) / 180);
  const chipY = bareSpec.centre.y + bareSpec.radius * Math.sin((chipDeg * Math.PI) / 180);
  const truth = [
    { class: "void" as const, bbox: near.bbox },
    {
      class: "edge_chip" as const,
      bbox: {
        x: Math.floor(chipX - chipRadius),
        y: Math.floor(chipY - chipRadius),
        width: 2 * chipRadius,
        height: 2 * chipRadius,
      },
    },
  ];
  const score = scoreWafer(truth, result.defects);
  const reported = JSON.stringify(result.defects.map((d) => [d.class, d.bbox]));
  assert.equal(score.found, 2, `found ${score.found}: ${reported}`);
  assert.equal(score.falseAlarms, 0, reported);
});
