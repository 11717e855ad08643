// The committed test fixtures (lot-e2e and eval) as data, so the script and the tests build the same thing.
import { join } from "node:path";
import type { LotFile } from "../schemas/lot.ts";
import type { Truth } from "../schemas/truth.ts";
import {
  GENERATOR_NAME,
  GENERATOR_VERSION,
  type GeneratedWafer,
  generateWafer,
  type WaferOptions,
  writeLot,
} from "./generate.ts";

export const FIXTURE_SEED = 20261126;
export const E2E_LOT_ID = "E2E-FIX-1";
export const EVAL_LOT_ID = "EVAL-FIX-1";
export const EVAL_WAFERS = 22;

/** Well above the detection threshold, so pipeline tests do not hinge on borderline defects. */
const CLEAR = 2.4;

/**
 * Six 1024 px wafers that between them show every class, both surfaces, a clean wafer,
 * a 16-bit PNG and TIFF files: enough for an end-to-end run to exercise everything once.
 */
const E2E_CONTENT: WaferOptions[] = [
  {
    surface: "bare",
    bitDepth: 8,
    format: "png",
    defectClasses: ["particle", "scratch"],
    defectCount: 2,
  },
  {
    surface: "patterned",
    bitDepth: 16,
    format: "png",
    defectClasses: ["void", "particle"],
    defectCount: 2,
  },
  { surface: "bare", bitDepth: 8, format: "tiff", clean: true },
  {
    surface: "patterned",
    bitDepth: 8,
    format: "png",
    defectClasses: ["stain", "edge_chip", "scratch"],
    defectCount: 3,
  },
  {
    surface: "bare",
    bitDepth: 8,
    format: "tiff",
    defectClasses: ["edge_chip", "void", "stain"],
    defectCount: 3,
  },
  {
    surface: "patterned",
    bitDepth: 8,
    format: "png",
    defectClasses: ["scratch", "particle", "void"],
    defectCount: 3,
  },
];

export const E2E_WAFERS: readonly WaferOptions[] = E2E_CONTENT.map((options) => ({
  ...options,
  size: 1024,
  diameterMm: 300 as const,
  minContrastFactor: CLEAR,
  compactPng: true,
}));

/** The labelled evaluation set: mixed sizes, surfaces and formats, default contrast range. */
export function evalWaferOptions(index: number): WaferOptions {
  // 16-bit images cost three times the bytes (more as TIFF); one small one covers that path.
  if (index === 5)
    return { size: 768, bitDepth: 16, format: "png", diameterMm: 300, compactPng: true };
  return { sizes: [768, 832, 896, 1024], bitDepth: 8, diameterMm: 300, compactPng: true };
}

async function buildLot(
  lotDir: string,
  lotId: string,
  seed: number,
  optionsFor: (index: number) => WaferOptions,
  count: number,
  lotFile: LotFile,
): Promise<Truth> {
  const wafers: GeneratedWafer[] = [];
  for (let index = 0; index < count; index++) {
    wafers.push(await generateWafer(seed, index, optionsFor(index)));
  }
  const truth: Truth = {
    generator: { name: GENERATOR_NAME, version: GENERATOR_VERSION, seed },
    lotId,
    wafers: wafers.map((w) => w.truth),
  };
  await writeLot(lotDir, truth, wafers, lotFile);
  return truth;
}

export function e2eOptions(index: number): WaferOptions {
  const options = E2E_WAFERS[index];
  if (!options)
    throw new RangeError(`the e2e lot has ${E2E_WAFERS.length} wafers, not ${index + 1}`);
  return options;
}

export const QUALITY_LOT_ID = "QUALITY-FIX-1";

/**
 * Camera artefacts the spec accepts (must be inspected) and images it does not (must come back
 * unusable): small frames, so the lot stays a few MB with its incompressible noise images.
 */
const QUALITY_CONTENT: WaferOptions[] = [
  {
    surface: "bare",
    artefacts: ["hot_pixels", "jpeg"],
    clean: false,
    defectClasses: ["particle", "scratch"],
    defectCount: 2,
  },
  {
    surface: "patterned",
    artefacts: ["reticle", "dark_streets", "blur"],
    clean: false,
    defectClasses: ["void", "stain"],
    defectCount: 2,
  },
  { surface: "bare", artefacts: ["frame_clip", "out_of_round", "frame_vignetting"], clean: true },
  {
    surface: "bare",
    artefacts: ["correlated_noise", "soft_void_rim"],
    clean: false,
    defectClasses: ["void", "particle"],
    defectCount: 2,
  },
  { size: 512, outOfSpec: "noise" },
  { size: 512, outOfSpec: "checkerboard" },
  { outOfSpec: "defocus", clean: false, defectClasses: ["particle", "void"], defectCount: 2 },
  { outOfSpec: "overexposed" },
  { outOfSpec: "underexposed" },
  { outOfSpec: "noisy" },
];

export const QUALITY_WAFERS: readonly WaferOptions[] = QUALITY_CONTENT.map((options) => ({
  size: 768,
  bitDepth: 8 as const,
  format: "png" as const,
  diameterMm: 300 as const,
  minContrastFactor: CLEAR,
  compactPng: true,
  ...options,
}));

export function qualityOptions(index: number): WaferOptions {
  const options = QUALITY_WAFERS[index];
  if (!options)
    throw new RangeError(`the quality lot has ${QUALITY_WAFERS.length} wafers, not ${index + 1}`);
  return options;
}

/** Writes test/fixtures/lot-e2e, test/fixtures/eval and test/fixtures/lot-quality under fixturesDir. */
export async function makeFixtures(fixturesDir: string): Promise<string[]> {
  const e2eDir = join(fixturesDir, "lot-e2e");
  await buildLot(e2eDir, E2E_LOT_ID, FIXTURE_SEED, e2eOptions, E2E_WAFERS.length, {
    lotId: E2E_LOT_ID,
    product: "ENG-MIX-01",
    equipment: "MACRO-INSP-01",
    recipe: "post-cmp",
    waferDiameterMm: 300,
  });
  const evalDir = join(fixturesDir, "eval");
  await buildLot(evalDir, EVAL_LOT_ID, FIXTURE_SEED + 1, evalWaferOptions, EVAL_WAFERS, {
    lotId: EVAL_LOT_ID,
    product: "QUAL-SPLIT-2",
    equipment: "MACRO-INSP-02",
    recipe: "incoming",
    waferDiameterMm: 300,
  });
  const qualityDir = join(fixturesDir, "lot-quality");
  await buildLot(
    qualityDir,
    QUALITY_LOT_ID,
    FIXTURE_SEED + 2,
    qualityOptions,
    QUALITY_WAFERS.length,
    {
      lotId: QUALITY_LOT_ID,
      product: "ENG-MIX-01",
      equipment: "EDGE-CAM-3",
      recipe: "incoming",
      waferDiameterMm: 300,
    },
  );
  return [e2eDir, evalDir, qualityDir];
}
