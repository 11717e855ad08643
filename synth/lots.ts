// Writing synthetic lots to disk: one folder per lot with images, truth.json and lot.json.
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type LotFile, LotFileSchema } from "../schemas/lot.ts";
import { type Truth, TruthSchema, type TruthWafer } from "../schemas/truth.ts";
import { SynthOptionsError, SynthOutputError } from "./errors.ts";
import {
  GENERATOR_NAME,
  GENERATOR_VERSION,
  type GeneratedWafer,
  generateWafer,
  planOptionsFrom,
  type WaferOptions,
} from "./generate.ts";
import { drawAspectPitch, drawPitch } from "./plan.ts";
import { hashName, mixSeed, streamFor } from "./random.ts";

export interface LotOptions extends WaferOptions {
  outDir: string;
  lots: number;
  wafers: number;
  seed: number;
  writeLotJson?: boolean;
}

const PATTERNED_PRODUCTS = ["AX7-LOGIC", "MEM-2200", "PWR-M48", "RF-FE12", "IMG-S5"];
const BARE_PRODUCTS = ["SOI-BLANK-A", "PRIME-SUB-300", "SOI-BOND-7"];
const MIXED_PRODUCTS = ["ENG-MIX-01", "QUAL-SPLIT-2"];
const EQUIPMENT = ["MACRO-INSP-01", "MACRO-INSP-02", "EDGE-CAM-3", "AOI-LINE-B"];
const RECIPES = ["post-cmp", "post-etch", "post-litho", "incoming", "post-clean"];

export function lotIdFor(seed: number, lotIndex: number): string {
  return `SYN-${seed}-${lotIndex + 1}`;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds the lot in a hidden sibling folder and renames it into place, so a watcher of
 * outDir (the edge agent's inbox) never sees half a lot. lot.json goes last for the same
 * reason: the agent takes its presence as "lot complete".
 */
/**
 * mkdir -p that gives up: Node's recursive mkdir spins forever where the kernel answers ENOENT
 * for a directory whose parent exists (/proc, some FUSE mounts).
 */
async function ensureDir(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return;
      if (code !== "ENOENT" || attempt > 0 || dirname(path) === path) throw error;
      await ensureDir(dirname(path));
    }
  }
}

async function publishLot(
  lotDir: string,
  fill: (partialDir: string) => Promise<{ truth: Truth; lotFile: LotFile | null }>,
): Promise<void> {
  const partialDir = join(dirname(lotDir), `.${basename(lotDir)}.partial-${process.pid}`);
  try {
    await rm(partialDir, { recursive: true, force: true });
    await ensureDir(partialDir);
    const { truth, lotFile } = await fill(partialDir);
    await writeJson(join(partialDir, "truth.json"), TruthSchema.parse(truth));
    if (lotFile) await writeJson(join(partialDir, "lot.json"), LotFileSchema.parse(lotFile));
    // Same seed, same lot: an older copy of it is replaced, not merged.
    await rm(lotDir, { recursive: true, force: true });
    await rename(partialDir, lotDir);
  } catch (cause) {
    await rm(partialDir, { recursive: true, force: true }).catch(() => {});
    if (cause instanceof SynthOptionsError || cause instanceof SynthOutputError) throw cause;
    throw new SynthOutputError(`writing lot folder ${lotDir} failed: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Writes one lot folder from wafers already in memory (small sets such as the fixtures). */
export async function writeLot(
  lotDir: string,
  truth: Truth,
  wafers: readonly GeneratedWafer[],
  lotFile: LotFile | null,
): Promise<void> {
  await publishLot(lotDir, async (dir) => {
    for (const wafer of wafers) await writeFile(join(dir, wafer.fileName), wafer.bytes);
    return { truth, lotFile };
  });
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new SynthOptionsError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
}

/**
 * Generates `lots` lots of `wafers` wafers under outDir and returns their folders. A lot is
 * one product: its wafers share diameter, die layout and (in most lots) surface; about half
 * the lots also share a notch angle, which lot.json then states, as a production line would.
 */
export async function generateLots(options: LotOptions): Promise<string[]> {
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
    throw new SynthOptionsError(`seed must be a non-negative integer, got ${options.seed}`);
  }
  checkCount("lots", options.lots, 1000);
  // The lot manifest holds at most 1000 images.
  checkCount("wafers", options.wafers, 1000);
  planOptionsFrom(options);
  const written: string[] = [];
  for (let lot = 0; lot < options.lots; lot++) {
    const lotId = lotIdFor(options.seed, lot);
    const random = streamFor(options.seed, lot, "lot");
    const diameterMm = options.diameterMm ?? (random.chance(0.75) ? 300 : 200);
    const surfaceRoll = random.next();
    const surface =
      options.surface ?? (surfaceRoll < 0.4 ? "patterned" : surfaceRoll < 0.8 ? "bare" : undefined);
    const sharedNotch =
      options.notchAngleDeg ??
      (random.chance(0.5)
        ? random.chance(0.6)
          ? 90
          : (Math.round(random.uniform(0, 3600)) / 10) % 360
        : undefined);
    const usualPitch = options.diePitchMm ?? drawPitch(random, diameterMm);
    // The spec's die aspect extremes are a product's, so the whole lot shares them.
    const aspectRandom = streamFor(options.seed, lot, "lot-die-aspect");
    const wideAspect =
      !options.diePitchMm &&
      (options.artefacts?.includes("die_aspect") ||
        (options.artefactMix ? aspectRandom.chance(options.artefactMix) : false));
    const diePitchMm = wideAspect ? drawAspectPitch(aspectRandom, diameterMm) : usualPitch;
    const patternSeed = options.patternSeed ?? random.nextUint32();
    const waferOptions: WaferOptions = { ...options, diameterMm, diePitchMm, patternSeed };
    if (surface) waferOptions.surface = surface;
    if (sharedNotch !== undefined) waferOptions.notchAngleDeg = sharedNotch;
    // Each lot draws from its own seed so lot 3 is the same whatever the lot count.
    const waferSeed = mixSeed(options.seed, lot, hashName("lot-wafers"));
    const product = random.pick(
      surface === "patterned"
        ? PATTERNED_PRODUCTS
        : surface === "bare"
          ? BARE_PRODUCTS
          : MIXED_PRODUCTS,
    );
    const equipment = random.pick(EQUIPMENT);
    const recipe = random.pick(RECIPES);
    const lotDir = join(options.outDir, lotId);
    await publishLot(lotDir, async (dir) => {
      const truths = await generateInto(dir, waferSeed, options.wafers, waferOptions);
      const truth: Truth = {
        generator: { name: GENERATOR_NAME, version: GENERATOR_VERSION, seed: options.seed },
        lotId,
        wafers: truths,
      };
      if (!(options.writeLotJson ?? true)) return { truth, lotFile: null };
      const lotFile: LotFile = { lotId, product, equipment, recipe, waferDiameterMm: diameterMm };
      if (sharedNotch !== undefined) lotFile.notchAngleDeg = sharedNotch;
      if (truths.every((w) => w.surface === "patterned")) {
        lotFile.diePitchMm =
          diePitchMm.x === diePitchMm.y ? diePitchMm.x : { x: diePitchMm.x, y: diePitchMm.y };
      }
      return { truth, lotFile };
    });
    written.push(lotDir);
  }
  return written;
}

/**
 * Renders wafer n+1 on this thread while sharp encodes and writes wafer n on its own
 * threads; only two wafers are ever held in memory, however large the lot.
 */
async function generateInto(
  dir: string,
  seed: number,
  count: number,
  options: WaferOptions,
): Promise<TruthWafer[]> {
  const truths: TruthWafer[] = [];
  let inFlight: Promise<void> | undefined;
  for (let index = 0; index < count; index++) {
    const next = generateWafer(seed, index, options).then(async (wafer) => {
      await writeFile(join(dir, wafer.fileName), wafer.bytes);
      truths[index] = wafer.truth;
    });
    // Marks the rejection as handled until it is awaited below, one turn later.
    next.catch(() => {});
    if (inFlight) await inFlight;
    inFlight = next;
  }
  if (inFlight) await inFlight;
  return truths;
}
