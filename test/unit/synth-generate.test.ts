// The seeded generator: reproducible bytes, valid truth, and every range of the input spec.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { test } from "vitest";
import { decodeGray, fullScale } from "../../lib/gray-image.ts";
import { LotFileSchema } from "../../schemas/lot.ts";
import { TruthSchema, TruthWaferSchema } from "../../schemas/truth.ts";
import type { WaferDesign } from "../../synth/design.ts";
import { SynthOptionsError } from "../../synth/errors.ts";
import { designWafer, generateLots, generateWafer, renderDesign } from "../../synth/generate.ts";
import { dieAt, pixelToWaferMm } from "../../synth/geometry.ts";
import { DEFECT_SIZE_AT_2048, EDGE_EXCLUSION_MM } from "../../synth/plan.ts";

const SWEEP = Array.from({ length: 60 }, (_, i) => i);

test("the same seed and index give byte-identical images and truth", async () => {
  for (const options of [
    { size: 640, bitDepth: 8 as const, format: "png" as const, clean: false },
    { size: 600, bitDepth: 16 as const, format: "tiff" as const, surface: "patterned" as const },
  ]) {
    const first = await generateWafer(31, 4, options);
    const second = await generateWafer(31, 4, options);
    assert.ok(first.bytes.equals(second.bytes), `bytes differ for ${JSON.stringify(options)}`);
    assert.deepEqual(first.truth, second.truth);
    const other = await generateWafer(32, 4, options);
    assert.ok(!first.bytes.equals(other.bytes), "another seed must give another image");
  }
});

test("colour output is neutral RGB that decodes to the same gray pixels", async () => {
  for (const bitDepth of [8, 16] as const) {
    const options = { size: 520, bitDepth, clean: false };
    const gray = await decodeGray((await generateWafer(3, 1, options)).bytes);
    const colourBytes = (await generateWafer(3, 1, { ...options, colour: true })).bytes;
    const colour = await decodeGray(colourBytes);
    assert.equal((await sharp(colourBytes).metadata()).channels, 3);
    assert.equal(colour.bitDepth, bitDepth);
    assert.deepEqual(colour.data, gray.data);
  }
});

/** The Compression tag (259) of a TIFF's first directory: 5 is LZW, 1 is none. */
function tiffCompression(bytes: Buffer): number | undefined {
  const little = bytes.toString("latin1", 0, 2) === "II";
  const u16 = (at: number) => (little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number) => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const directory = u32(4);
  for (let entry = 0; entry < u16(directory); entry++) {
    const at = directory + 2 + entry * 12;
    if (u16(at) === 259) return u16(at + 8);
  }
  return undefined;
}

test("TIFF output is LZW-compressed, 8 and 16 bit", async () => {
  for (const bitDepth of [8, 16] as const) {
    const wafer = await generateWafer(4, 0, { size: 512, format: "tiff", bitDepth });
    assert.equal(tiffCompression(wafer.bytes), 5, `${bitDepth}-bit TIFF compression`);
    assert.equal((await decodeGray(wafer.bytes)).bitDepth, bitDepth);
  }
});

test("truth validates and describes the encoded image", async () => {
  for (const index of [0, 1, 2, 3, 4, 5]) {
    const wafer = await generateWafer(7, index, { size: 560 });
    const truth = TruthWaferSchema.parse(wafer.truth);
    const image = await decodeGray(wafer.bytes);
    assert.equal(image.width, truth.width);
    assert.equal(image.height, truth.height);
    assert.equal(image.bitDepth, truth.bitDepth);
    assert.equal(wafer.fileName, truth.fileName);
    assert.ok(wafer.fileName.endsWith(truth.format === "png" ? ".png" : ".tif"));
    for (const defect of truth.defects) {
      assert.ok(defect.bbox.x + defect.bbox.width <= truth.width, "bbox inside the image");
      assert.ok(defect.bbox.y + defect.bbox.height <= truth.height, "bbox inside the image");
      const mm = pixelToWaferMm(truth, defect.centroidPx.x, defect.centroidPx.y);
      assert.ok(
        Math.abs(mm.x - defect.waferMm.x) < 0.01 && Math.abs(mm.y - defect.waferMm.y) < 0.01,
      );
    }
  }
});

test("frames, wafer placement, levels, illumination and noise stay inside the spec", () => {
  let sawOffSquare = false;
  for (const index of SWEEP) {
    const d = designWafer(11, index, { sizes: [512, 777, 1024, 2048] });
    const shorter = Math.min(d.width, d.height);
    assert.ok(Math.max(d.width, d.height) / shorter <= 1.06, "square or nearly square");
    if (d.width !== d.height) sawOffSquare = true;
    const offset = Math.hypot(
      d.frame.centerPx.x - (d.width - 1) / 2,
      d.frame.centerPx.y - (d.height - 1) / 2,
    );
    assert.ok(offset <= 0.03 * shorter, `centre ${offset.toFixed(1)} px off (wafer ${index})`);
    const ratio = (2 * d.frame.radiusPx) / shorter;
    assert.ok(ratio >= 0.8 && ratio <= 0.98, `diameter ratio ${ratio}`);
    for (const [x, y] of [
      [d.frame.centerPx.x - d.frame.radiusPx, d.frame.centerPx.y - d.frame.radiusPx],
      [d.frame.centerPx.x + d.frame.radiusPx, d.frame.centerPx.y + d.frame.radiusPx],
    ] as const) {
      assert.ok(x >= 0 && y >= 0 && x <= d.width - 1 && y <= d.height - 1, "wafer in frame");
    }
    assert.ok([200, 300].includes(d.frame.diameterMm));
    assert.ok(Math.abs(d.notchDepthPx / d.frame.radiusPx - 0.01) <= 0.0011, "notch ~1% deep");
    assert.ok(d.noiseSigma > 0 && d.noiseSigma <= 0.015, `noise ${d.noiseSigma}`);
    const { gradient, vignette } = d.illumination;
    assert.ok(Math.abs(gradient) + Math.abs(vignette) / 2 <= 0.12, "illumination within 12%");
    const [low, high] = surfaceLevels(d);
    const gap = Math.min(Math.abs(d.chuckLevel - low), Math.abs(d.chuckLevel - high));
    const chuckOutside = d.chuckLevel < low || d.chuckLevel > high;
    assert.ok(chuckOutside && gap * 0.88 >= 0.2, `chuck/wafer gap ${gap} (wafer ${index})`);
    if (d.pattern) {
      for (const axis of ["x", "y"] as const) {
        const share = d.pattern.grid.pitchMm[axis] / d.frame.diameterMm;
        assert.ok(share >= 0.02 && share <= 0.1, `pitch ${share} of the diameter`);
      }
      assert.ok(d.pattern.streetLevel < d.pattern.dieLevel, "streets are darker");
      assert.deepEqual(dieAt(d.pattern.grid, { x: 0, y: 0 }), { row: 0, col: 0 });
    }
  }
  assert.ok(sawOffSquare, "some frames should be nearly, not exactly, square");
});

function surfaceLevels(d: WaferDesign): [number, number] {
  if (!d.pattern) return [d.waferLevel, d.waferLevel];
  const levels = [
    d.pattern.dieLevel,
    d.pattern.streetLevel,
    ...d.pattern.motif.map((m) => m.level),
  ];
  return [Math.min(...levels), Math.max(...levels)];
}

test("defects stay apart, inside the edge exclusion, and edge chips stay off the notch", () => {
  let chips = 0;
  for (const index of SWEEP) {
    const d = designWafer(12, index, { size: 1024, clean: false });
    assert.ok(d.defects.length >= 1 && d.defects.length <= 6, "1-6 defects");
    const excludedPx = EDGE_EXCLUSION_MM / (d.frame.diameterMm / (2 * d.frame.radiusPx));
    for (const [i, defect] of d.defects.entries()) {
      const fromCentre = Math.hypot(
        defect.boundCenter.x - d.frame.centerPx.x,
        defect.boundCenter.y - d.frame.centerPx.y,
      );
      if (defect.shape.kind === "edge_chip") {
        chips++;
        const angle =
          (Math.atan2(
            defect.boundCenter.y - d.frame.centerPx.y,
            defect.boundCenter.x - d.frame.centerPx.x,
          ) *
            180) /
          Math.PI;
        const apart = Math.abs(((((angle - d.frame.notchAngleDeg) % 360) + 540) % 360) - 180);
        assert.ok(apart >= 10, `edge chip ${apart.toFixed(1)} deg from the notch`);
        assert.ok(Math.abs(fromCentre - d.frame.radiusPx) < defect.boundRadius, "chip on the rim");
      } else {
        assert.ok(
          fromCentre + defect.boundRadius <= d.frame.radiusPx - excludedPx,
          `${defect.shape.kind} reaches into the ${EDGE_EXCLUSION_MM} mm edge exclusion`,
        );
      }
      for (const other of d.defects.slice(i + 1)) {
        const gap = Math.hypot(
          other.boundCenter.x - defect.boundCenter.x,
          other.boundCenter.y - defect.boundCenter.y,
        );
        assert.ok(gap >= other.boundRadius + defect.boundRadius, "defects overlap");
      }
    }
  }
  assert.ok(chips > 0, "the sweep should include edge chips");
});

test("defect sizes follow the spec table scaled by size/2048, and contrast clears the detection rule", async () => {
  const seen = new Set<string>();
  for (const index of SWEEP.slice(0, 14)) {
    const size = index % 2 === 0 ? 1024 : 768;
    const scale = size / 2048;
    const wafer = await generateWafer(13, index, {
      size,
      frame: { width: size, height: size },
      clean: false,
      bitDepth: 8,
    });
    const image = await decodeGray(wafer.bytes);
    const full = fullScale(image);
    for (const defect of wafer.truth.defects) {
      seen.add(defect.class);
      const [min, max] = DEFECT_SIZE_AT_2048[defect.class];
      const { width, height } = defect.bbox;
      const across =
        defect.class === "scratch" ? Math.hypot(width, height) : Math.max(width, height);
      const slack = defect.class === "scratch" ? 0.8 : defect.class === "stain" ? 0.7 : 0.75;
      assert.ok(
        across >= Math.floor(min * scale * slack) && across <= Math.ceil(max * scale * 1.1) + 3,
        `${defect.class} ${width}x${height} px at ${size} px (spec ${min}-${max} at 2048)`,
      );
      if (defect.class === "edge_chip") {
        assert.ok(Math.abs(defect.contrast) >= 0.2, "a chip shows the chuck");
        continue;
      }
      const local = localLevel(image.data, image.width, image.height, defect.bbox) / full;
      const magnitude = Math.abs(defect.contrast);
      assert.ok(
        magnitude >= 5 * wafer.truth.noiseSigma,
        `${defect.class} contrast ${magnitude} under 5 sigma`,
      );
      assert.ok(
        magnitude >= 0.04 * local,
        `${defect.class} contrast ${magnitude} under 4% of ${local}`,
      );
    }
  }
  assert.deepEqual([...seen].sort(), ["edge_chip", "particle", "scratch", "stain", "void"]);
});

/** 90th percentile of a ring of pixels just outside the box: the surrounding wafer level. */
function localLevel(
  data: Uint8Array | Uint16Array,
  width: number,
  height: number,
  box: { x: number; y: number; width: number; height: number },
): number {
  const values: number[] = [];
  const x0 = Math.max(0, box.x - 6);
  const y0 = Math.max(0, box.y - 6);
  const x1 = Math.min(width - 1, box.x + box.width + 5);
  const y1 = Math.min(height - 1, box.y + box.height + 5);
  for (let v = y0; v <= y1; v++) {
    for (let u = x0; u <= x1; u++) {
      const inside =
        u >= box.x - 2 && u < box.x + box.width + 2 && v >= box.y - 2 && v < box.y + box.height + 2;
      if (!inside) values.push(data[v * width + u] ?? 0);
    }
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length * 0.9)] ?? 0;
}

test("truth contrast, box and centroid describe exactly what was drawn", () => {
  let checked = 0;
  for (const index of SWEEP.slice(0, 12)) {
    const design = designWafer(17, index, { size: 512, bitDepth: 16, clean: false });
    // Without noise the difference of two renders is the defect alone.
    const quiet = { ...design, noiseSigma: 0 };
    const plain = renderDesign({ ...quiet, defects: [] }).pixels;
    for (const defect of design.defects) {
      const { pixels, defects } = renderDesign({ ...quiet, defects: [defect] });
      const truth = defects[0];
      assert.ok(truth, "one defect drawn, one described");
      let peak = 0;
      for (let k = 0; k < pixels.length; k++) {
        const d = ((pixels[k] ?? 0) - (plain[k] ?? 0)) / 65535;
        if (Math.abs(d) > Math.abs(peak)) peak = d;
      }
      assert.ok(
        Math.abs(peak - truth.contrast) <= 2 / 65535,
        `${truth.class}: drawn ${peak}, truth ${truth.contrast}`,
      );
      let minU = Number.POSITIVE_INFINITY;
      let minV = Number.POSITIVE_INFINITY;
      let maxU = -1;
      let maxV = -1;
      for (let k = 0; k < pixels.length; k++) {
        const d = ((pixels[k] ?? 0) - (plain[k] ?? 0)) / 65535;
        if (Math.abs(d) < Math.abs(peak) * 0.12) continue;
        const u = k % design.width;
        const v = Math.floor(k / design.width);
        minU = Math.min(minU, u);
        maxU = Math.max(maxU, u);
        minV = Math.min(minV, v);
        maxV = Math.max(maxV, v);
      }
      const { bbox, centroidPx } = truth;
      assert.ok(
        minU >= bbox.x - 1 && maxU <= bbox.x + bbox.width,
        `${truth.class}: drawn beyond the box`,
      );
      assert.ok(
        minV >= bbox.y - 1 && maxV <= bbox.y + bbox.height,
        `${truth.class}: drawn beyond the box`,
      );
      if (truth.class !== "scratch") {
        assert.ok(
          centroidPx.x >= bbox.x &&
            centroidPx.x <= bbox.x + bbox.width - 1 &&
            centroidPx.y >= bbox.y &&
            centroidPx.y <= bbox.y + bbox.height - 1,
          `${truth.class}: centroid outside its box`,
        );
      }
      checked++;
    }
  }
  assert.ok(checked >= 15, `only ${checked} defects checked`);
});

test("on patterned wafers every defect centre is clear of the streets, so its die is unambiguous", () => {
  let checked = 0;
  for (const index of SWEEP.slice(0, 16)) {
    const options = { size: 700, surface: "patterned" as const, clean: false };
    // The truth's defects are the render's (generateWafer adds the encoding, which the tests
    // above check, and the truth's frame rounded to 0.001 px, which "truth validates" checks).
    const design = designWafer(18, index, options);
    const { defects } = renderDesign(design);
    const pattern = design.pattern;
    assert.ok(pattern);
    for (const defect of defects) {
      const mm = pixelToWaferMm(design.frame, defect.centroidPx.x, defect.centroidPx.y);
      const cellX: number = (mm.x + pattern.grid.offsetMm.x) / pattern.grid.pitchMm.x;
      const cellY: number = (-mm.y + pattern.grid.offsetMm.y) / pattern.grid.pitchMm.y;
      assert.deepEqual(defect.die, { row: Math.floor(cellY), col: Math.floor(cellX) });
      for (const [value, street] of [
        [cellX, pattern.streetFraction.x],
        [cellY, pattern.streetFraction.y],
      ] as const) {
        const fraction = value - Math.floor(value);
        const clearance = Math.min(fraction, 1 - fraction);
        assert.ok(
          clearance >= street / 2 + 0.02,
          `${defect.class} centre ${clearance.toFixed(3)} cells from a die edge`,
        );
      }
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} defects checked`);
});

test("the notch is drawn where truth says it is", async () => {
  for (const [index, angle] of [
    [0, 90],
    [1, 0],
    [2, 212.5],
  ] as const) {
    const wafer = await generateWafer(14, index, {
      size: 1024,
      notchAngleDeg: angle,
      clean: true,
      bitDepth: 8,
    });
    const image = await decodeGray(wafer.bytes);
    const { centerPx, radiusPx } = wafer.truth;
    // Mean of a 3x3 window at a radius inside the notch's depth but outside any rim blur.
    const at = (deg: number, r: number) => {
      const a = (deg * Math.PI) / 180;
      const u = Math.round(centerPx.x + r * Math.cos(a));
      const v = Math.round(centerPx.y + r * Math.sin(a));
      let sum = 0;
      for (let dv = -1; dv <= 1; dv++)
        for (let du = -1; du <= 1; du++) sum += image.data[(v + dv) * image.width + u + du] ?? 0;
      return sum / 9;
    };
    const r = radiusPx * 0.996;
    const inNotch = at(angle, r);
    const besideNotch = at(angle + 25, r);
    const chuck = at(angle, radiusPx * 1.05);
    assert.ok(
      Math.abs(inNotch - chuck) < Math.abs(besideNotch - chuck) / 2,
      `notch at ${angle}: notch ${inNotch}, rim ${besideNotch}, chuck ${chuck}`,
    );
  }
});

test("options pin what they name, and bad options are refused by name", async () => {
  const pinned = designWafer(15, 0, {
    size: 900,
    frame: { width: 900, height: 880 },
    bitDepth: 16,
    format: "tiff",
    surface: "patterned",
    diameterMm: 200,
    notchAngleDeg: 45,
    defectClasses: ["void", "scratch"],
    defectCount: 2,
    clean: false,
  });
  assert.equal(pinned.width, 900);
  assert.equal(pinned.height, 880);
  assert.equal(pinned.bitDepth, 16);
  assert.equal(pinned.format, "tiff");
  assert.ok(pinned.pattern);
  assert.equal(pinned.frame.diameterMm, 200);
  assert.equal(pinned.frame.notchAngleDeg, 45);
  assert.deepEqual(pinned.defects.map((d) => d.shape.kind).sort(), ["scratch", "void"]);
  assert.equal(designWafer(15, 1, { clean: true }).defects.length, 0);
  assert.throws(
    () => designWafer(1, 0, { size: 100 }),
    (e) => e instanceof SynthOptionsError && /size/.test(e.message),
  );
  assert.throws(() => designWafer(1, 0, { cleanFraction: 2 }), /cleanFraction/);
  assert.throws(() => designWafer(1, 0, { notchAngleDeg: 360 }), /notchAngleDeg/);
  assert.throws(() => designWafer(1, 0, { defectClasses: ["crack" as "void"] }), /crack/);
});

test("about a quarter of wafers are clean by default", () => {
  const clean = SWEEP.filter(
    (index) => designWafer(16, index, { size: 512 }).defects.length === 0,
  ).length;
  assert.ok(clean >= 6 && clean <= 26, `${clean} of ${SWEEP.length} clean`);
  const none = SWEEP.filter(
    (index) => designWafer(16, index, { size: 512, cleanFraction: 0 }).defects.length === 0,
  );
  assert.equal(none.length, 0);
});

test("generateLots writes images, truth.json and lot.json that agree", async () => {
  const outDir = await mkdtemp(join(tmpdir(), "synth-lots-"));
  try {
    await generateLots({ outDir, lots: 1, wafers: 5, seed: 99, size: 512, format: "png" });
    const dirs = await generateLots({ outDir, lots: 4, wafers: 3, seed: 99, size: 512 });
    assert.equal(dirs.length, 4);
    // No half-built (hidden) lot folders are left behind, and a rerun replaces a lot whole.
    assert.deepEqual((await readdir(outDir)).sort(), [
      "SYN-99-1",
      "SYN-99-2",
      "SYN-99-3",
      "SYN-99-4",
    ]);
    for (const [lot, dir] of dirs.entries()) {
      assert.equal(dir, join(outDir, `SYN-99-${lot + 1}`));
      const truth = TruthSchema.parse(JSON.parse(await readFile(join(dir, "truth.json"), "utf8")));
      const lotFile = LotFileSchema.parse(
        JSON.parse(await readFile(join(dir, "lot.json"), "utf8")),
      );
      assert.equal(truth.lotId, lotFile.lotId);
      const files = (await readdir(dir)).filter((f) => f.startsWith("wafer-")).sort();
      assert.deepEqual(files, truth.wafers.map((w) => w.fileName).sort());
      for (const wafer of truth.wafers) {
        assert.equal(wafer.diameterMm, lotFile.waferDiameterMm);
        if (lotFile.notchAngleDeg !== undefined)
          assert.equal(wafer.notchAngleDeg, lotFile.notchAngleDeg);
        if (lotFile.diePitchMm !== undefined) {
          const pitch =
            typeof lotFile.diePitchMm === "number"
              ? { x: lotFile.diePitchMm, y: lotFile.diePitchMm }
              : lotFile.diePitchMm;
          const mmPerPx = wafer.diameterMm / (2 * wafer.radiusPx);
          assert.ok(wafer.diePitchPx, "a lot with a die pitch is patterned");
          assert.ok(Math.abs(wafer.diePitchPx.x * mmPerPx - pitch.x) < 0.01);
          assert.ok(Math.abs(wafer.diePitchPx.y * mmPerPx - pitch.y) < 0.01);
        }
      }
      if (lotFile.notchAngleDeg === undefined) {
        const angles = new Set(truth.wafers.map((w) => w.notchAngleDeg));
        assert.ok(angles.size >= 1);
      }
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
