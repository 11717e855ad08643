// `waferflow evaluate`: scores a model against labelled lots (truth.json) with the spec's rules; a QA tool, kept out of the model container.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EvaluationInputError } from "../endpoint/detector/errors.ts";
import type { DetectionResult } from "../endpoint/detector/index.ts";
import { ModelLoadError, ModelSpecError } from "../endpoint/errors.ts";
import { UsageError, wantsHelp } from "../lib/cli.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import { type BBox, DEFECT_CLASSES, type DefectClass, type Point } from "../schemas/common.ts";
import type { Defect, DetectionHints } from "../schemas/detection.ts";
import type { LotFile } from "../schemas/lot.ts";
import type { TruthWafer } from "../schemas/truth.ts";

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
  /** What truth.json expects: `unusable` for out-of-spec images, else `inspected`. */
  expected?: "inspected" | "unusable";
  /** What came back (the quality gate's verdict); `failed` when detection threw. */
  answered?: "inspected" | "unusable" | "failed";
  /** Artefacts drawn on the wafer (truth.json), and the out-of-spec kind if any. */
  artefacts?: string[];
  outOfSpec?: string;
  hotPixelsRemoved?: number;
  /** The gate's reasons when it answered unusable. */
  reasons?: string[];
}

/** Defect metrics over a subset of in-spec wafers (one artefact kind, or all). */
export interface SubsetMetrics {
  wafers: number;
  cleanWafers: number;
  truthDefects: number;
  found: number;
  falseAlarms: number;
  recall: number;
  precision: number;
  classAccuracy: number;
  waferAccuracy: number;
  falseAlarmsPerCleanWafer: number;
  /** In-spec wafers the gate called unusable (should be 0). */
  unusable: number;
}

/** The defect metrics over all in-spec wafers, with what only the whole set has. */
export interface EvaluationMetrics extends Omit<SubsetMetrics, "unusable"> {
  reports: number;
  msPerImage: number;
  decodeMsPerImage: number;
  failedImages: number;
  perClassRecall: Record<string, { truth: number; found: number; recall: number }>;
  /** confusion[trueClass][reportedClass] = count over found defects. */
  confusion: Record<string, Record<string, number>>;
  /** In-spec wafers (the defect metrics above are over these) and how many the gate refused. */
  inSpecWafers: number;
  inSpecUnusable: number;
  /** Out-of-spec images (truth expects `unusable`) and how many the gate refused. */
  outOfSpecWafers: number;
  outOfSpecUnusable: number;
  /** Defect metrics per artefact kind (`none`: wafers without artefacts). */
  perArtefact: Record<string, SubsetMetrics>;
  /** Out-of-spec images per kind and how many were reported unusable. */
  perOutOfSpec: Record<string, { wafers: number; unusable: number }>;
  hotPixelsRemoved: number;
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
  /** Put the endpoint's image-quality gate in front of the detector, as the server does (default true). */
  qualityGate?: boolean;
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

function safeRatio(a: number, b: number, empty: number): number {
  return b > 0 ? a / b : empty;
}

function subsetMetrics(wafers: WaferEvaluation[]): SubsetMetrics {
  let cleanWafers = 0;
  let truthDefects = 0;
  let found = 0;
  let falseAlarms = 0;
  let classCorrect = 0;
  let cleanFalseAlarms = 0;
  let waferCorrect = 0;
  let unusable = 0;
  for (const w of wafers) {
    const clean = w.truthDefects === 0;
    truthDefects += w.truthDefects;
    found += w.score.found;
    falseAlarms += w.score.falseAlarms;
    classCorrect += w.score.classCorrect;
    if (clean) {
      cleanWafers++;
      cleanFalseAlarms += w.score.falseAlarms;
    }
    if (w.answered === "unusable") unusable++;
    if (w.answered !== "unusable" && !w.error && clean === (w.reports === 0)) waferCorrect++;
  }
  return {
    wafers: wafers.length,
    cleanWafers,
    truthDefects,
    found,
    falseAlarms,
    recall: safeRatio(found, truthDefects, 1),
    precision: safeRatio(found, found + falseAlarms, 1),
    classAccuracy: safeRatio(classCorrect, found, 1),
    waferAccuracy: safeRatio(waferCorrect, wafers.length, 1),
    falseAlarmsPerCleanWafer: safeRatio(cleanFalseAlarms, cleanWafers, 0),
    unusable,
  };
}

/**
 * Headline metrics. Defect metrics count in-spec wafers only (an in-spec wafer the gate refused
 * has all its defects missed); out-of-spec images are scored on being reported unusable.
 */
export function summarise(allWafers: WaferEvaluation[]): EvaluationMetrics {
  const wafers = allWafers.filter((w) => w.expected !== "unusable");
  const outOfSpec = allWafers.filter((w) => w.expected === "unusable");
  const perArtefact: Record<string, SubsetMetrics> = {};
  const kinds = new Set<string>(["none"]);
  for (const w of wafers) for (const k of w.artefacts ?? []) kinds.add(k);
  for (const kind of [...kinds].sort()) {
    const subset = wafers.filter((w) =>
      kind === "none" ? !w.artefacts?.length : (w.artefacts ?? []).includes(kind),
    );
    if (subset.length > 0) perArtefact[kind] = subsetMetrics(subset);
  }
  const perOutOfSpec: Record<string, { wafers: number; unusable: number }> = {};
  for (const w of outOfSpec) {
    const kind = w.outOfSpec ?? "unknown";
    const entry = perOutOfSpec[kind] ?? { wafers: 0, unusable: 0 };
    perOutOfSpec[kind] = entry;
    entry.wafers++;
    if (w.answered === "unusable") entry.unusable++;
  }
  const { unusable: inSpecUnusable, ...defects } = subsetMetrics(wafers);
  let reports = 0;
  let detectMs = 0;
  let decodeMs = 0;
  const perClass: Record<string, { truth: number; found: number; recall: number }> = {};
  const confusion: Record<string, Record<string, number>> = {};
  for (const c of DEFECT_CLASSES) {
    perClass[c] = { truth: 0, found: 0, recall: 0 };
    confusion[c] = Object.fromEntries(DEFECT_CLASSES.map((d) => [d, 0]));
  }
  for (const w of wafers) {
    reports += w.reports;
    detectMs += w.detectMs;
    decodeMs += w.decodeMs;
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
    ...defects,
    wafers: allWafers.length,
    reports,
    msPerImage: safeRatio(detectMs, wafers.length, 0),
    decodeMsPerImage: safeRatio(decodeMs, wafers.length, 0),
    failedImages: allWafers.filter((w) => w.error).length,
    perClassRecall: perClass,
    confusion,
    inSpecWafers: wafers.length,
    inSpecUnusable,
    outOfSpecWafers: outOfSpec.length,
    outOfSpecUnusable: outOfSpec.filter((w) => w.answered === "unusable").length,
    perArtefact,
    perOutOfSpec,
    hotPixelsRemoved: allWafers.reduce((sum, w) => sum + (w.hotPixelsRemoved ?? 0), 0),
  };
}

/** The detector a model spec names, loaded once so that ONNX files are read before the first wafer. */
async function detectorFromSpec(
  spec: string | undefined,
): Promise<NonNullable<EvaluateOptions["detector"]>> {
  if (spec === undefined || spec.trim() === "classical") {
    return (await import("../endpoint/detector/index.ts")).detect;
  }
  const { createModel } = await import("../endpoint/models/index.ts");
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
  // Loaded once there is a labelled set to read: `waferflow evaluate --help`, its usage errors
  // and a missing directory load none of it (about 1 s of CPU per start).
  const { gatedDetect } = await import("../endpoint/quality/index.ts");
  const { hintsFromMetadata } = await import("../lib/custom-attributes.ts");
  const { decodeGray } = await import("../lib/gray-image.ts");
  const { LotFileSchema } = await import("../schemas/lot.ts");
  const { TruthSchema } = await import("../schemas/truth.ts");
  const reader: WaferReader = { decodeGray, gatedDetect };
  const wafers: WaferEvaluation[] = [];
  for (const lotDir of lotDirs) {
    const parsedTruth = TruthSchema.safeParse(await readJson(join(lotDir, "truth.json")));
    if (!parsedTruth.success) {
      throw new EvaluationInputError(
        `${join(lotDir, "truth.json")} does not match the truth schema: ${describeZodError(parsedTruth.error)}`,
        { cause: parsedTruth.error },
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
    const hints = lotFile ? hintsFromMetadata(lotFile) : {};
    for (const truthWafer of parsedTruth.data.wafers) {
      const evaluation = await evaluateWafer(
        lotDir,
        truthWafer,
        hints,
        run,
        options.qualityGate ?? true,
        reader,
      );
      wafers.push(evaluation);
      options.onWafer?.(evaluation);
    }
  }
  return { dir, metrics: summarise(wafers), wafers };
}

/** The decoder and the quality gate, loaded by evaluateDirectory once it has a set to read. */
interface WaferReader {
  decodeGray: typeof import("../lib/gray-image.ts").decodeGray;
  gatedDetect: typeof import("../endpoint/quality/index.ts").gatedDetect;
}

async function evaluateWafer(
  lotDir: string,
  truth: TruthWafer,
  hints: DetectionHints,
  run: NonNullable<EvaluateOptions["detector"]>,
  qualityGate: boolean,
  { decodeGray, gatedDetect }: WaferReader,
): Promise<WaferEvaluation> {
  const expected = truth.expected === "unusable" ? ("unusable" as const) : ("inspected" as const);
  const base = {
    expected,
    artefacts: truth.artefacts ?? [],
    ...(truth.outOfSpec ? { outOfSpec: truth.outOfSpec } : {}),
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
    const result = qualityGate
      ? await gatedDetect(image, hints, run)
      : { status: "inspected" as const, ...(await run(image, hints)) };
    detectMs = performance.now() - t;
    const gate =
      "quality" in result && result.quality
        ? {
            hotPixelsRemoved: result.quality.hotPixelsRemoved,
            ...(result.status === "unusable"
              ? { reasons: result.quality.reasons.map((r) => r.message) }
              : {}),
          }
        : {};
    // An out-of-spec image has no defects to score: it is judged on being refused.
    const truthDefects = expected === "unusable" ? [] : truth.defects;
    const reports = expected === "unusable" ? [] : result.defects;
    const score = scoreWafer(truthDefects, reports);
    return {
      ...base,
      truthDefects: truthDefects.length,
      truthClasses: truthDefects.map((d) => d.class),
      answered: result.status,
      reports: reports.length,
      score,
      decodeMs,
      detectMs,
      ...gate,
    };
  } catch (cause) {
    const truthDefects = expected === "unusable" ? [] : truth.defects;
    const score = scoreWafer(truthDefects, []);
    return {
      ...base,
      truthDefects: truthDefects.length,
      truthClasses: truthDefects.map((d) => d.class),
      answered: "failed",
      reports: 0,
      score,
      decodeMs,
      detectMs,
      error: (cause as Error).message,
    };
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
    ["in-spec reported unusable", `${m.inSpecUnusable}/${m.inSpecWafers}`],
    ["out-of-spec reported unusable", `${m.outOfSpecUnusable}/${m.outOfSpecWafers}`],
    ["hot/dead pixels removed", String(m.hotPixelsRemoved)],
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
  const artefacts = Object.entries(m.perArtefact);
  if (artefacts.length > 1 || artefacts[0]?.[0] !== "none") {
    lines.push("", "  per artefact (in-spec wafers carrying it)");
    lines.push(`  ${formatArtefactHeader()}`);
    for (const [kind, a] of artefacts) lines.push(`  ${formatArtefactRow(kind, a)}`);
  }
  for (const [kind, o] of Object.entries(m.perOutOfSpec)) {
    lines.push(`  out of spec: ${kind.padEnd(13)} ${o.unusable}/${o.wafers} reported unusable`);
  }
  return lines.join("\n");
}

function formatArtefactHeader(): string {
  return `${"artefact".padEnd(17)} ${"wafers".padStart(6)} ${"recall".padStart(8)} ${"precision".padStart(9)} ${"class".padStart(8)} ${"FA/clean".padStart(8)} ${"unusable".padStart(8)}`;
}

function formatArtefactRow(kind: string, a: SubsetMetrics): string {
  return `${kind.padEnd(17)} ${String(a.wafers).padStart(6)} ${pct(a.recall).padStart(8)} ${pct(a.precision).padStart(9)} ${pct(a.classAccuracy).padStart(8)} ${a.falseAlarmsPerCleanWafer.toFixed(3).padStart(8)} ${String(a.unusable).padStart(8)}`;
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
