// `waferflow evaluate`: scores the detector against labelled lots (truth.json) with the spec's rules.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { UsageError, wantsHelp } from "../lib/cli.ts";
import { decodeGray, type GrayImage } from "../lib/gray-image.ts";
import { type BBox, DEFECT_CLASSES, type DefectClass, type Point } from "../schemas/common.ts";
import type { Defect, DetectionHints } from "../schemas/detection.ts";
import { type LotFile, LotFileSchema } from "../schemas/lot.ts";
import { TruthSchema, type TruthWafer } from "../schemas/truth.ts";
import { EvaluationInputError } from "./detector/errors.ts";
import { type DetectionResult, detect } from "./detector/index.ts";
import { ModelLoadError, ModelSpecError } from "./errors.ts";
import { createModel } from "./models/index.ts";

/** Spec: a report finds a true defect at IoU >= 0.1, or when one box holds the other's centre. */
export const MATCH_IOU = 0.1;

export interface WaferScore {
  /** For each true defect, the index of the report that found it (best IoU) or -1. */
  truthMatches: number[];
  /** For each report, whether it matched any true defect (fragments of one defect all match). */
  reportMatched: boolean[];
  found: number;
  missed: number;
  falseAlarms: number;
  classCorrect: number;
  /** [true class, reported class] pairs of found defects. */
  confusion: Array<[DefectClass, DefectClass]>;
}

export function iou(a: BBox, b: BBox): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

function boxCentre(b: BBox): Point {
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

function contains(b: BBox, p: Point): boolean {
  return p.x >= b.x && p.x <= b.x + b.width && p.y >= b.y && p.y <= b.y + b.height;
}

/** The spec's match rule between one true box and one reported box. */
export function boxesMatch(truth: BBox, report: BBox): boolean {
  return (
    iou(truth, report) >= MATCH_IOU ||
    contains(truth, boxCentre(report)) ||
    contains(report, boxCentre(truth))
  );
}

/**
 * Scores one wafer's reports against its truth. Pure, so training-data labelling can reuse it.
 * A report matching several true defects finds each of them; several reports on one true
 * defect find it once and none of them is a false alarm.
 */
export function scoreWafer(
  truth: ReadonlyArray<{ class: DefectClass; bbox: BBox }>,
  reports: ReadonlyArray<Pick<Defect, "class" | "bbox">>,
): WaferScore {
  const reportMatched = reports.map(() => false);
  const truthMatches: number[] = [];
  const confusion: Array<[DefectClass, DefectClass]> = [];
  let classCorrect = 0;
  for (const t of truth) {
    let best = -1;
    let bestIou = -1;
    reports.forEach((r, j) => {
      if (!boxesMatch(t.bbox, r.bbox)) return;
      reportMatched[j] = true;
      const overlap = iou(t.bbox, r.bbox);
      if (overlap > bestIou) {
        bestIou = overlap;
        best = j;
      }
    });
    truthMatches.push(best);
    const report = reports[best];
    if (report) {
      confusion.push([t.class, report.class]);
      if (report.class === t.class) classCorrect++;
    }
  }
  const found = truthMatches.filter((j) => j >= 0).length;
  return {
    truthMatches,
    reportMatched,
    found,
    missed: truth.length - found,
    falseAlarms: reportMatched.filter((m) => !m).length,
    classCorrect,
    confusion,
  };
}

export interface WaferEvaluation {
  lot: string;
  fileName: string;
  width: number;
  height: number;
  bitDepth: number;
  surface: string;
  truthDefects: number;
  truthClasses: DefectClass[];
  reports: number;
  score: WaferScore;
  decodeMs: number;
  detectMs: number;
  error?: string;
}

export interface EvaluationMetrics {
  wafers: number;
  cleanWafers: number;
  truthDefects: number;
  reports: number;
  found: number;
  falseAlarms: number;
  recall: number;
  precision: number;
  classAccuracy: number;
  waferAccuracy: number;
  falseAlarmsPerCleanWafer: number;
  msPerImage: number;
  decodeMsPerImage: number;
  failedImages: number;
  perClassRecall: Record<string, { truth: number; found: number; recall: number }>;
  /** confusion[trueClass][reportedClass] = count over found defects. */
  confusion: Record<string, Record<string, number>>;
}

export interface EvaluationResult {
  dir: string;
  metrics: EvaluationMetrics;
  wafers: WaferEvaluation[];
}

export interface EvaluateOptions {
  /** Pass lot.json's diameter, notch angle and die pitch to the detector (default true). */
  useLotHints?: boolean;
  /** The detector under test; the default classical detector when omitted. */
  detector?: (
    image: GrayImage,
    hints: DetectionHints,
  ) => DetectionResult | Promise<DetectionResult>;
  /** A model spec (as for the endpoint's --model), built and loaded once; ignored when `detector` is given. */
  model?: string;
  onWafer?: (wafer: WaferEvaluation) => void;
}

/** Lot folders under `dir` (or `dir` itself) that hold a truth.json. */
async function findLotDirs(dir: string): Promise<string[]> {
  const isFile = async (p: string) => (await stat(p).catch(() => null))?.isFile() ?? false;
  if (await isFile(join(dir, "truth.json"))) return [dir];
  const entries = await readdir(dir, { withFileTypes: true }).catch((cause: unknown) => {
    throw new EvaluationInputError(`cannot read evaluation directory '${dir}'`, { cause });
  });
  const lots: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) lots.push(...(await findLotDirs(join(dir, e.name))));
  }
  return lots;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EvaluationInputError(`${path} is not valid JSON`, { cause });
  }
}

function hintsFromLot(lot: LotFile | null): DetectionHints {
  const hints: DetectionHints = {};
  if (!lot) return hints;
  if (lot.waferDiameterMm !== undefined) hints.waferDiameterMm = lot.waferDiameterMm;
  if (lot.notchAngleDeg !== undefined) hints.notchAngleDeg = lot.notchAngleDeg;
  if (lot.diePitchMm !== undefined) {
    hints.diePitchMm =
      typeof lot.diePitchMm === "number"
        ? { x: lot.diePitchMm, y: lot.diePitchMm }
        : lot.diePitchMm;
  }
  return hints;
}

function safeRatio(a: number, b: number, empty: number): number {
  return b > 0 ? a / b : empty;
}

export function summarise(wafers: WaferEvaluation[]): EvaluationMetrics {
  let truthDefects = 0;
  let reports = 0;
  let found = 0;
  let falseAlarms = 0;
  let classCorrect = 0;
  let waferCorrect = 0;
  let cleanWafers = 0;
  let cleanFalseAlarms = 0;
  let detectMs = 0;
  let decodeMs = 0;
  let failed = 0;
  const perClass: Record<string, { truth: number; found: number; recall: number }> = {};
  const confusion: Record<string, Record<string, number>> = {};
  for (const c of DEFECT_CLASSES) {
    perClass[c] = { truth: 0, found: 0, recall: 0 };
    confusion[c] = Object.fromEntries(DEFECT_CLASSES.map((d) => [d, 0]));
  }
  for (const w of wafers) {
    if (w.error) failed++;
    truthDefects += w.truthDefects;
    reports += w.reports;
    found += w.score.found;
    falseAlarms += w.score.falseAlarms;
    classCorrect += w.score.classCorrect;
    detectMs += w.detectMs;
    decodeMs += w.decodeMs;
    const clean = w.truthDefects === 0;
    if (clean) {
      cleanWafers++;
      cleanFalseAlarms += w.score.falseAlarms;
    }
    if (!w.error && clean === (w.reports === 0)) waferCorrect++;
    for (const [t, r] of w.score.confusion) {
      const row = confusion[t] as Record<string, number>;
      row[r] = (row[r] ?? 0) + 1;
    }
  }
  for (const w of wafers) {
    for (const t of w.truthClasses) (perClass[t] as { truth: number }).truth++;
    for (const [t] of w.score.confusion) (perClass[t] as { found: number }).found++;
  }
  for (const entry of Object.values(perClass))
    entry.recall = safeRatio(entry.found, entry.truth, 1);
  return {
    wafers: wafers.length,
    cleanWafers,
    truthDefects,
    reports,
    found,
    falseAlarms,
    recall: safeRatio(found, truthDefects, 1),
    precision: safeRatio(found, found + falseAlarms, 1),
    classAccuracy: safeRatio(classCorrect, found, 1),
    waferAccuracy: safeRatio(waferCorrect, wafers.length, 1),
    falseAlarmsPerCleanWafer: safeRatio(cleanFalseAlarms, cleanWafers, 0),
    msPerImage: safeRatio(detectMs, wafers.length, 0),
    decodeMsPerImage: safeRatio(decodeMs, wafers.length, 0),
    failedImages: failed,
    perClassRecall: perClass,
    confusion,
  };
}

/** The detector a model spec names, loaded once so that ONNX files are read before the first wafer. */
async function detectorFromSpec(
  spec: string | undefined,
): Promise<NonNullable<EvaluateOptions["detector"]>> {
  if (spec === undefined || spec.trim() === "classical") return detect;
  const model = createModel(spec);
  await model.load();
  return (image, hints) => model.detect(image, hints);
}

/** Evaluates every lot (folder with truth.json and images) found in `dir`. */
export async function evaluateDirectory(
  dir: string,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const lotDirs = await findLotDirs(dir);
  if (lotDirs.length === 0) {
    throw new EvaluationInputError(`no truth.json found in '${dir}' or its sub-folders`);
  }
  const run = options.detector ?? (await detectorFromSpec(options.model));
  const wafers: WaferEvaluation[] = [];
  for (const lotDir of lotDirs) {
    const parsedTruth = TruthSchema.safeParse(await readJson(join(lotDir, "truth.json")));
    if (!parsedTruth.success) {
      const issue = parsedTruth.error.issues[0];
      throw new EvaluationInputError(
        `${join(lotDir, "truth.json")} does not match the truth schema at ${issue?.path.join(".")}: ${issue?.message}`,
      );
    }
    let lotFile: LotFile | null = null;
    const lotPath = join(lotDir, "lot.json");
    if (options.useLotHints !== false && (await stat(lotPath).catch(() => null))) {
      const parsedLot = LotFileSchema.safeParse(await readJson(lotPath));
      if (!parsedLot.success)
        throw new EvaluationInputError(
          `${lotPath} is not a valid lot file: ${parsedLot.error.message}`,
        );
      lotFile = parsedLot.data;
    }
    const hints = hintsFromLot(lotFile);
    for (const truthWafer of parsedTruth.data.wafers) {
      const evaluation = await evaluateWafer(lotDir, truthWafer, hints, run);
      wafers.push(evaluation);
      options.onWafer?.(evaluation);
    }
  }
  return { dir, metrics: summarise(wafers), wafers };
}

async function evaluateWafer(
  lotDir: string,
  truth: TruthWafer,
  hints: DetectionHints,
  run: NonNullable<EvaluateOptions["detector"]>,
): Promise<WaferEvaluation> {
  const base = {
    lot: lotDir,
    fileName: truth.fileName,
    width: truth.width,
    height: truth.height,
    bitDepth: truth.bitDepth,
    surface: truth.surface,
    truthDefects: truth.defects.length,
    truthClasses: truth.defects.map((d) => d.class),
  };
  let decodeMs = 0;
  let detectMs = 0;
  try {
    const bytes = await readFile(join(lotDir, truth.fileName));
    let t = performance.now();
    const image = await decodeGray(bytes);
    decodeMs = performance.now() - t;
    t = performance.now();
    const result = await run(image, hints);
    detectMs = performance.now() - t;
    const score = scoreWafer(truth.defects, result.defects);
    return { ...base, reports: result.defects.length, score, decodeMs, detectMs };
  } catch (cause) {
    const score = scoreWafer(truth.defects, []);
    return { ...base, reports: 0, score, decodeMs, detectMs, error: (cause as Error).message };
  }
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/** Human-readable summary: headline metrics, per-class recall and the class confusion. */
export function formatEvaluationTable(result: EvaluationResult): string {
  const m = result.metrics;
  const rows: Array<[string, string]> = [
    ["wafers (clean)", `${m.wafers} (${m.cleanWafers})`],
    ["true defects", String(m.truthDefects)],
    ["reports", String(m.reports)],
    ["recall", pct(m.recall)],
    ["precision", pct(m.precision)],
    ["class accuracy", pct(m.classAccuracy)],
    ["wafer-level accuracy", pct(m.waferAccuracy)],
    ["false alarms / clean wafer", m.falseAlarmsPerCleanWafer.toFixed(3)],
    ["detect ms / image", m.msPerImage.toFixed(1)],
    ["decode ms / image", m.decodeMsPerImage.toFixed(1)],
    ["failed images", String(m.failedImages)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `evaluation of ${result.dir}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  lines.push("", "  per-class recall (true -> reported classes of found defects)");
  for (const cls of DEFECT_CLASSES) {
    const entry = m.perClassRecall[cls];
    if (!entry || entry.truth === 0) continue;
    const reported = Object.entries(m.confusion[cls] ?? {})
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ");
    lines.push(
      `  ${cls.padEnd(10)} ${String(entry.found).padStart(5)}/${String(entry.truth).padEnd(5)} ${pct(entry.recall).padStart(8)}   ${reported}`,
    );
  }
  return lines.join("\n");
}

interface EvaluateArgs {
  dir: string;
  json: boolean;
  /** Model spec; the classical detector when not given. */
  model: string;
  minimums: Partial<Record<"recall" | "precision" | "classAccuracy" | "waferAccuracy", number>>;
}

const THRESHOLD_FLAGS = {
  "--min-recall": "recall",
  "--min-precision": "precision",
  "--min-class-accuracy": "classAccuracy",
  "--min-wafer-accuracy": "waferAccuracy",
} as const;

export const EVALUATE_USAGE = `Usage: waferflow evaluate <dir> [--json] [--model <spec>] [--min-recall x] [--min-precision x]
                          [--min-class-accuracy x] [--min-wafer-accuracy x]
  Scores a model on a labelled set (images + truth.json) with the spec's matching rules.
  Exit 1 when a metric is below its --min-* (a number from 0 to 1).
  --json   print the metrics as JSON
  --model  the model spec, as for waferflow endpoint (default classical)`;
const USAGE = EVALUATE_USAGE;

export function parseEvaluateArgs(argv: string[]): EvaluateArgs {
  let dir: string | undefined;
  let json = false;
  let model = "classical";
  const minimums: EvaluateArgs["minimums"] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--json") json = true;
    else if (arg === "--model") {
      const raw = argv[++i];
      if (raw === undefined || raw.trim() === "" || raw.startsWith("--"))
        throw new EvaluationInputError(`--model needs a model spec\n${USAGE}`);
      model = raw;
    } else if (arg.startsWith("--model=")) model = arg.slice("--model=".length);
    else if (arg in THRESHOLD_FLAGS) {
      const raw = argv[++i];
      const value = Number(raw);
      if (raw === undefined || !Number.isFinite(value) || value < 0 || value > 1) {
        throw new EvaluationInputError(
          `${arg} needs a number from 0 to 1, got '${raw ?? ""}'\n${USAGE}`,
        );
      }
      minimums[THRESHOLD_FLAGS[arg as keyof typeof THRESHOLD_FLAGS]] = value;
    } else if (arg.startsWith("--"))
      throw new EvaluationInputError(`unknown option '${arg}'\n${USAGE}`);
    else if (dir === undefined) dir = arg;
    else
      throw new EvaluationInputError(`unexpected argument '${arg}': give one directory\n${USAGE}`);
  }
  if (dir === undefined)
    throw new EvaluationInputError(`missing the directory to evaluate\n${USAGE}`);
  return { dir, json, model, minimums };
}

/** Entry point of `waferflow evaluate`; returns the exit code (1 when below a given minimum). */
export async function runEvaluateCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(EVALUATE_USAGE);
    return 0;
  }
  let args: EvaluateArgs;
  try {
    args = parseEvaluateArgs(argv);
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  let result: EvaluationResult;
  try {
    result = await evaluateDirectory(args.dir, { model: args.model });
  } catch (error) {
    const known =
      error instanceof EvaluationInputError ||
      error instanceof ModelSpecError ||
      error instanceof ModelLoadError;
    if (!known) throw error;
    // The command line was fine; the data or the model was not.
    process.stderr.write(`waferflow evaluate: ${error.message}\n`);
    return 1;
  }
  const failures: string[] = [];
  for (const [key, minimum] of Object.entries(args.minimums)) {
    const value = result.metrics[key as keyof typeof args.minimums];
    if (value < minimum)
      failures.push(`${key} ${value.toFixed(4)} is below the required ${minimum}`);
  }
  if (args.json)
    process.stdout.write(`${JSON.stringify({ ...result.metrics, failures }, null, 2)}\n`);
  else {
    process.stdout.write(`${formatEvaluationTable(result)}\n`);
    for (const f of failures) process.stdout.write(`FAIL: ${f}\n`);
  }
  return failures.length > 0 ? 1 : 0;
}
