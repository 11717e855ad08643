// Benchmark of the default detector: quality on fresh seeded wafers, single-core speed vs decode, peak memory.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Plugin } from "esbuild";
import type { DetectionResult } from "../endpoint/detector/index.ts";
import { commandLineOrExit } from "../lib/cli.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import type { EvaluationMetrics, SubsetMetrics, WaferEvaluation } from "../qa/evaluate.ts";
import type { TruthWafer } from "../schemas/truth.ts";
import type { ArtefactKind } from "../synth/artefacts.ts";
import type { WaferForMisses } from "./misses.ts";

const SECTION_START = "<!-- detector:start -->";
const SECTION_END = "<!-- detector:end -->";
const QUALITY_START = "<!-- quality:start -->";
const QUALITY_END = "<!-- quality:end -->";
const SPEED_START = "<!-- detector-speed:start -->";
const SPEED_END = "<!-- detector-speed:end -->";
const ISOLATED_START = "<!-- quality-isolated:start -->";
const ISOLATED_END = "<!-- quality-isolated:end -->";
/** Artefact runs stay at 1024-2048 px: a 4096 px defocused frame costs minutes to render. */
const QUALITY_SIZES = [1024, 1536, 2048];
/** Never used while tuning the detector: the quality numbers are on unseen wafers. */
const DEFAULT_SEED = 917_263;
const SIZES = [1024, 1536, 2048, 3072, 4096];
/** The ONNX second stage the endpoint can chain after the classical detector, scored on the same wafers. */
const ONNX_CHAIN_SPEC = "classical+onnx:endpoint/models/wafer-classifier.onnx";

interface SpeedRow {
  label: string;
  decodeMs: number;
  decodeCpuMs: number;
  detectCpuMs: number;
  detectWallMs: number;
  /** Median over blocks of (detect CPU / decode CPU), each block's decodes and detects adjacent. */
  blockRatio: number;
  /** Lowest and highest block ratio: how far the host moved during the run. */
  blockRatioRange: [number, number];
  /** Median wall ms per detector stage (the result's timingMs). */
  stages: Record<string, number>;
}

/** Detect runs before timing: V8 optimises a function after several calls, not after one. */
/**
 * Runs of detect before timing: V8 needs about a dozen 2048 px wafers before the detector is
 * compiled (the endpoint warms each inference thread the same way before /ping answers 200).
 */
const WARM_UPS = 12;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function cpuMs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Timed runs of each kind per block: three, so one disturbed run does not move a block's median. */
const RUNS_PER_BLOCK = 3;

/**
 * Decode (one libvips thread) and detect times of one 2048x2048 wafer, timed in alternating
 * blocks: three decodes, then three detects, `blocks` times. Runs inside a block are back to
 * back, as on a busy endpoint; the ratio of each block's two medians is taken while the host
 * runs at one speed, and the ratio reported is the median over blocks (this shared host's
 * speed moves by 2x within a minute, which skewed a ratio of two medians from separate loops).
 */
async function measureSpeed(label: string, bytes: Buffer, blocks: number): Promise<SpeedRow> {
  const decoded = await decodeGray(bytes);
  // Warm-up: JIT compilation is not the steady state a server sees.
  for (let i = 0; i < WARM_UPS; i++) detect(decoded);
  const decodes: number[] = [];
  const decodeCpu: number[] = [];
  const cpu: number[] = [];
  const wall: number[] = [];
  const ratios: number[] = [];
  const stageTimes: Record<string, number[]> = {};
  for (let block = 0; block < blocks; block++) {
    const blockDecodeCpu: number[] = [];
    for (let i = 0; i < RUNS_PER_BLOCK; i++) {
      const t = performance.now();
      const before = process.cpuUsage();
      await decodeGray(bytes);
      const used = process.cpuUsage(before);
      decodes.push(performance.now() - t);
      // Every thread of the process: libvips decodes on its own (one) thread while we await.
      blockDecodeCpu.push((used.user + used.system) / 1000);
    }
    const blockDetectCpu: number[] = [];
    for (let i = 0; i < RUNS_PER_BLOCK; i++) {
      const t = performance.now();
      let timing: Record<string, number> = {};
      blockDetectCpu.push(
        cpuMs(() => {
          timing = detect(decoded).timingMs;
        }),
      );
      wall.push(performance.now() - t);
      for (const [stage, ms] of Object.entries(timing)) {
        const times = stageTimes[stage] ?? [];
        times.push(ms);
        stageTimes[stage] = times;
      }
    }
    decodeCpu.push(...blockDecodeCpu);
    cpu.push(...blockDetectCpu);
    ratios.push(median(blockDetectCpu) / median(blockDecodeCpu));
  }
  const stages = Object.fromEntries(
    Object.entries(stageTimes).map(([stage, times]) => [stage, median(times)]),
  );
  return {
    label,
    decodeMs: median(decodes),
    decodeCpuMs: median(decodeCpu),
    detectCpuMs: median(cpu),
    detectWallMs: median(wall),
    blockRatio: median(ratios),
    blockRatioRange: [Math.min(...ratios), Math.max(...ratios)],
    stages,
  };
}

/** The 2048 px speed and memory cases: bare and patterned, 8 and 16 bit, with defects. */
async function speedAndMemory(
  dir: string,
  seed: number,
  repeats: number,
  command: string,
): Promise<string> {
  sharp.concurrency(1); // single-core decode, to compare like with like
  console.error("timing 2048x2048 images ...");
  const speed: SpeedRow[] = [];
  const memory: Array<Awaited<ReturnType<typeof measureMemory>>> = [];
  const probe = await buildProbe(dir);
  const warmWafer = await generateWafer(seed + 2, 0, { size: 512, clean: false });
  const warmUp = await writeRaw(dir, await decodeGray(warmWafer.bytes), "warm-up");
  const cases = [
    { label: "bare, 8 bit", surface: "bare", bitDepth: 8 },
    { label: "bare, 16 bit", surface: "bare", bitDepth: 16 },
    { label: "patterned, 8 bit", surface: "patterned", bitDepth: 8 },
    { label: "patterned, 16 bit", surface: "patterned", bitDepth: 16 },
  ] as const;
  for (const [i, c] of cases.entries()) {
    const wafer = await generateWafer(seed + 1, i, {
      size: 2048,
      surface: c.surface,
      bitDepth: c.bitDepth,
      format: "png",
      clean: false,
    });
    speed.push(await measureSpeed(c.label, wafer.bytes, repeats));
    memory.push(
      await measureMemory(
        dir,
        probe,
        warmUp,
        await decodeGray(wafer.bytes),
        c.label.replaceAll(/[^a-z0-9]+/g, "-"),
      ),
    );
  }
  const stageNames = [...new Set(speed.flatMap((s) => Object.keys(s.stages)))].filter(
    (n) => n !== "total",
  );
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return [
    SPEED_START,
    `Speed and memory measured on ${cpu}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, with \`${command}\`.`,
    "",
    `### Speed on 2048 x 2048 (${repeats} blocks of ${RUNS_PER_BLOCK} decodes then ${RUNS_PER_BLOCK} detects, after ${WARM_UPS} warm-up runs; times are medians of all runs; detect = CPU time of the process, all threads (V8's compiler and GC included); decode = PNG via sharp with one libvips thread, wall and CPU time)`,
    "",
    "| image | decode wall ms | decode CPU ms | detect CPU ms | detect wall ms | detect CPU / decode CPU (median of blocks) | range over blocks | detect CPU / decode wall |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...speed.map(
      (s) =>
        `| ${s.label} | ${s.decodeMs.toFixed(1)} | ${s.decodeCpuMs.toFixed(1)} | ${s.detectCpuMs.toFixed(1)} | ${s.detectWallMs.toFixed(1)} | ${s.blockRatio.toFixed(2)} | ${s.blockRatioRange[0].toFixed(2)}-${s.blockRatioRange[1].toFixed(2)} | ${(s.detectCpuMs / s.decodeMs).toFixed(2)} |`,
    ),
    "",
    "Target (issue 8): detect / decode <= 2.5 on 2048 x 2048, patterned included. Both ratios are",
    "shown: on a shared machine the decode's wall time also counts the time it waited for a core,",
    "its CPU time does not, so CPU / CPU is the like-for-like ratio. It is taken per block (three",
    "decodes, then three detects) and the median over blocks is shown, with the blocks' range.",
    "",
    "Median wall ms per stage (`timingMs` of the result; stages named as in `endpoint/detector/index.ts`):",
    "",
    `| image | ${stageNames.join(" | ")} |`,
    `| --- | ${stageNames.map(() => "---").join(" | ")} |`,
    ...speed.map(
      (s) =>
        `| ${s.label} | ${stageNames.map((n) => (s.stages[n] === undefined ? "-" : s.stages[n].toFixed(1))).join(" | ")} |`,
    ),
    "",
    "### Peak memory of detect on 2048 x 2048 (peak RSS (VmHWM) of a child minus a baseline child; both load the code and the image and run detect once on a 512 px wafer first)",
    "",
    "| image | decoded MB | detect peak MB | ratio |",
    "| --- | --- | --- | --- |",
    ...memory.map(
      (m) =>
        `| ${m.label} | ${m.decodedMb.toFixed(1)} | ${m.deltaMb.toFixed(1)} | ${m.ratio.toFixed(2)} |`,
    ),
    "",
    "Target: <= 8 x the decoded image.",
    SPEED_END,
  ].join("\n");
}

/**
 * The memory probe runs detect in a child built with esbuild into one plain .mjs, so that
 * tsx's own transpiling peak does not mask detect's peak in maxRSS.
 */
const PROBE_SOURCE = `
import { readFileSync } from "node:fs";
import { detect } from ${JSON.stringify(join(import.meta.dirname, "..", "endpoint", "detector", "index.ts"))};
function load(rawPath, width, height, depth) {
  const raw = readFileSync(rawPath);
  const w = Number(width);
  const h = Number(height);
  const data = depth === "16" ? new Uint16Array(raw.buffer, raw.byteOffset, w * h) : new Uint8Array(raw.buffer, raw.byteOffset, w * h);
  return { width: w, height: h, bitDepth: depth === "16" ? 16 : 8, data };
}
const [warmPath, warmWidth, warmHeight, warmDepth, rawPath, width, height, depth, mode] = process.argv.slice(2);
// Both children compile and run detect once on a small 512 px wafer and load the big image;
// the difference is then what detect needs for the big image itself, not code or startup.
detect(load(warmPath, warmWidth, warmHeight, warmDepth));
const image = load(rawPath, width, height, depth);
if (mode !== "baseline") detect(image);
// VmHWM is this process's own peak; maxRSS can inherit the parent's size across fork/exec.
let peakKb = process.resourceUsage().maxRSS;
try {
  const hwm = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (hwm) peakKb = Number(hwm[1]);
} catch {}
process.stdout.write(JSON.stringify({ maxRssKb: peakKb }) + "\\n");
`;

async function buildProbe(dir: string): Promise<string> {
  const source = join(dir, "probe.ts");
  const outfile = join(dir, "probe.mjs");
  await writeFile(source, PROBE_SOURCE);
  // detect never decodes, so sharp (pulled in by lib/gray-image.ts) is stubbed out.
  const stubSharp: Plugin = {
    name: "stub-sharp",
    setup(b) {
      b.onResolve({ filter: /^sharp$/ }, () => ({ path: "sharp", namespace: "stub" }));
      b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: "export default {};" }));
    },
  };
  await build({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    plugins: [stubSharp],
    logLevel: "error",
  });
  return outfile;
}

function runProbe(probe: string, args: string[]): number {
  const out = execFileSync(process.execPath, [probe, ...args], { encoding: "utf8" });
  return (JSON.parse(out.trim().split("\n").pop() ?? "{}") as { maxRssKb: number }).maxRssKb;
}

async function writeRaw(dir: string, image: GrayImage, label: string): Promise<string[]> {
  const rawPath = join(dir, `${label}.raw`);
  await writeFile(
    rawPath,
    Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  );
  return [rawPath, String(image.width), String(image.height), String(image.bitDepth)];
}

async function measureMemory(
  dir: string,
  probe: string,
  warmUp: string[],
  image: GrayImage,
  label: string,
) {
  const args = [...warmUp, ...(await writeRaw(dir, image, label))];
  const baselines: number[] = [];
  const peaks: number[] = [];
  for (let i = 0; i < 3; i++) {
    baselines.push(runProbe(probe, [...args, "baseline"]));
    peaks.push(runProbe(probe, args));
  }
  const deltaMb = (median(peaks) - median(baselines)) / 1024;
  const decodedMb = image.data.byteLength / (1024 * 1024);
  return { label, decodedMb, deltaMb, ratio: deltaMb / decodedMb };
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

function qualityTable(m: EvaluationMetrics): string {
  const rows = [
    ["wafers (clean)", `${m.inSpecWafers} (${m.cleanWafers})`, ""],
    ["true defects", String(m.truthDefects), ""],
    ["recall", pct(m.recall), ">= 99%"],
    ["precision", pct(m.precision), ">= 99%"],
    ["class accuracy", pct(m.classAccuracy), ">= 95%"],
    ["wafer-level accuracy", pct(m.waferAccuracy), ">= 99.5%"],
    ["false alarms per clean wafer", m.falseAlarmsPerCleanWafer.toFixed(3), "<= 0.02"],
    ["failed images", String(m.failedImages), "0"],
    ["in-spec images reported unusable", `${m.inSpecUnusable}/${m.inSpecWafers}`, "0%"],
    ["mean detect ms / image (all sizes, wall)", m.msPerImage.toFixed(1), ""],
  ];
  const perClass = Object.entries(m.perClassRecall)
    .filter(([, e]) => e.truth > 0)
    .map(([cls, e]) => {
      const reported = Object.entries(m.confusion[cls] ?? {})
        .filter(([, n]) => n > 0)
        .map(([c, n]) => `${c} ${n}`)
        .join(", ");
      return `| ${cls} | ${e.found}/${e.truth} | ${pct(e.recall)} | ${reported} |`;
    });
  return [
    "| metric | value | target |",
    "| --- | --- | --- |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    "| true class | found | recall | reported as |",
    "| --- | --- | --- | --- |",
    ...perClass,
  ].join("\n");
}

const ratio = (a: number, b: number) => (b > 0 ? pct(a / b) : "-");

/** Per artefact: defect metrics on the in-spec wafers carrying it, and the gate's verdicts. */
function artefactTable(m: EvaluationMetrics): string {
  const row = (kind: string, a: SubsetMetrics) =>
    `| ${kind} | ${a.wafers} (${a.cleanWafers}) | ${a.truthDefects} | ${pct(a.recall)} | ${pct(a.precision)} | ${pct(a.classAccuracy)} | ${pct(a.waferAccuracy)} | ${a.falseAlarmsPerCleanWafer.toFixed(3)} | ${a.unusable} |`;
  return [
    "| artefact (in-spec wafers carrying it) | wafers (clean) | true defects | recall | precision | class | wafer acc. | FA / clean wafer | reported unusable |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...Object.entries(m.perArtefact).map(([kind, a]) => row(kind, a)),
    "",
    "| out-of-spec image | images | reported unusable | target |",
    "| --- | --- | --- | --- |",
    ...Object.entries(m.perOutOfSpec).map(
      ([kind, o]) =>
        `| ${kind} | ${o.wafers} | ${o.unusable} (${ratio(o.unusable, o.wafers)}) | 100% |`,
    ),
    `| **all out-of-spec** | ${m.outOfSpecWafers} | ${m.outOfSpecUnusable} (${ratio(m.outOfSpecUnusable, m.outOfSpecWafers)}) | 100% |`,
    `| **in-spec images reported unusable** | ${m.inSpecWafers} | ${m.inSpecUnusable} (${ratio(m.inSpecUnusable, m.inSpecWafers)}) | 0% |`,
    "",
    `Hot/dead pixels removed by the gate over the run: ${m.hotPixelsRemoved}.`,
  ].join("\n");
}

async function writeSection(
  text: string,
  startMarker = SECTION_START,
  endMarker = SECTION_END,
): Promise<string> {
  const path = join(import.meta.dirname, "..", "docs", "benchmarks.md");
  const section = `${startMarker}\n${text}\n${endMarker}`;
  let doc = existsSync(path) ? await readFile(path, "utf8") : "# Benchmarks\n";
  const start = doc.indexOf(startMarker);
  const end = doc.indexOf(endMarker);
  if (start >= 0 && end > start)
    doc = doc.slice(0, start) + section + doc.slice(end + endMarker.length);
  else doc = `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(path, doc);
  return path;
}

const DETECTOR_BENCH_USAGE = `Usage: npm run bench:detector -- [options]
  (no quality options)         quality of the classical detector and of it with the ONNX stage on seeded
                               lots, then speed and memory; rewrites the detector section of docs/benchmarks.md
  --seed <n>                   generator seed (default ${DEFAULT_SEED})
  --lots <n> --wafers <n>      lots and wafers per lot of the quality run (default 20 x 10)
  --repeats <n>                timed blocks per speed image, each 3 decodes then 3 detects (default 7)
  --artefact-mix <p>           draw each artefact of the spec with probability p (quality-gate run)
  --out-of-spec-fraction <p>   share of out-of-spec images that must come back unusable
  --isolate <n>                n wafers per artefact drawn alone (with the quality options: as well)
  --no-hints                   score without lot.json hints (the detector finds diameter, notch, grid)
  --speed-only                 only the 2048 px speed and memory tables
  --no-write                   print the tables, leave docs/benchmarks.md alone
  --keep <dir>                 quality run: generate the wafers into <dir> and keep them (to follow a miss)
  --list-misses                quality run: list per in-spec wafer the missed defects, false alarms and
                               wrong wafer verdicts (with size, bit depth, pattern, artefacts) on stderr
  -h, --help                   this text`;

async function main(): Promise<void> {
  const { values } = commandLine;
  const seed = Number(values.seed ?? DEFAULT_SEED);
  const lots = Number(values.lots ?? 20);
  const wafers = Number(values.wafers ?? 10);
  const repeats = Number(values.repeats ?? 7);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, got '${values.seed}'`);
  const artefactMix = Number(values["artefact-mix"] ?? 0);
  const outOfSpecFraction = Number(values["out-of-spec-fraction"] ?? 0);
  if (
    !(artefactMix >= 0 && artefactMix <= 1) ||
    !(outOfSpecFraction >= 0 && outOfSpecFraction <= 1)
  )
    throw new Error("--artefact-mix and --out-of-spec-fraction must be numbers from 0 to 1");
  const isolate = Number(values.isolate ?? 0);
  if (artefactMix > 0 || outOfSpecFraction > 0) {
    await qualityRun({
      seed,
      lots,
      wafers,
      artefactMix,
      outOfSpecFraction,
      isolate,
      write: !values["no-write"],
      useLotHints: !values["no-hints"],
      ...(values.keep ? { keepDir: values.keep } : {}),
      listMisses: values["list-misses"] ?? false,
    });
    return;
  }
  if (values["speed-only"]) {
    await speedRun({ seed, repeats, write: !values["no-write"] });
    return;
  }
  if (isolate > 0) {
    await isolatedRun({ seed, isolate, write: !values["no-write"] });
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "waferflow-bench-"));
  try {
    console.error(`generating ${lots * wafers} wafers (seed ${seed}) in ${dir} ...`);
    await generateLots({ outDir: join(dir, "lots"), lots, wafers, seed, sizes: SIZES });
    console.error("evaluating ...");
    const useLotHints = !values["no-hints"];
    const evaluation = await evaluateDirectory(join(dir, "lots"), { useLotHints });
    console.error(`evaluating ${ONNX_CHAIN_SPEC} ...`);
    const chained = await evaluateDirectory(join(dir, "lots"), {
      useLotHints,
      model: `classical+onnx:${join(import.meta.dirname, "..", "endpoint", "models", "wafer-classifier.onnx")}`,
    });

    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const command = `node --import tsx bench/detector.ts --seed ${seed} --lots ${lots} --wafers ${wafers} --repeats ${repeats}${useLotHints ? "" : " --no-hints"}`;
    const speedText = await speedAndMemory(dir, seed, repeats, command);
    const text = [
      "## Detector (issue 8)",
      "",
      `Default detector \`waferflow-classical\` ${DETECTOR_VERSION} (release + hash of endpoint/detector/thresholds.ts).`,
      "",
      `Machine: ${cpu}, ${cpus().length} cores, Node ${process.version}. Run on ${new Date().toISOString().slice(0, 10)}.`,
      "",
      "```",
      command,
      "```",
      "",
      `### Quality on ${evaluation.metrics.wafers} fresh wafers (seed ${seed}; sizes ${SIZES.join(", ")}; 8/16 bit; bare and patterned; ${useLotHints ? "lot.json hints as the pipeline passes them" : "no hints: diameter 300 mm assumed, notch and die grid found by the detector"})`,
      "",
      qualityTable(evaluation.metrics),
      "",
      `### Same wafers through the ONNX second stage (\`--model ${ONNX_CHAIN_SPEC}\`)`,
      "",
      qualityTable(chained.metrics),
      "",
      speedText,
    ].join("\n");
    console.log(text);
    if (!values["no-write"]) console.error(`updated ${await writeSection(text)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The `nice -n N ` this process runs under (empty at 0), so the written command says how it was run. */
function niceness(): string {
  const nice = getPriority();
  return nice === 0 ? "" : `nice -n ${nice} `;
}

/** Only the speed and memory tables, written between their own markers inside the detector section. */
async function speedRun(args: { seed: number; repeats: number; write: boolean }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "waferflow-bench-speed-"));
  try {
    const command = `${niceness()}npm run bench:detector -- --speed-only --seed ${args.seed} --repeats ${args.repeats}`;
    const text = await speedAndMemory(dir, args.seed, args.repeats, command);
    console.log(text);
    if (args.write) {
      // The text carries its own markers; writeSection adds them again around it.
      const inner = text.slice(SPEED_START.length + 1, text.length - SPEED_END.length - 1);
      console.error(`updated ${await writeSection(inner, SPEED_START, SPEED_END)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The quality-gate run: a mix of the spec's artefacts and out-of-spec images, scored per artefact. */
async function qualityRun(args: {
  seed: number;
  lots: number;
  wafers: number;
  artefactMix: number;
  outOfSpecFraction: number;
  isolate: number;
  write: boolean;
  useLotHints: boolean;
  /** Generate into this folder and keep it (else a temp folder, removed at the end). */
  keepDir?: string;
  listMisses?: boolean;
}): Promise<void> {
  const dir = args.keepDir ?? (await mkdtemp(join(tmpdir(), "waferflow-bench-quality-")));
  if (args.keepDir) {
    // A kept folder must not mix two runs: the evaluation reads every lot under it.
    if (existsSync(join(dir, "lots")))
      throw new Error(`--keep ${dir}: it already holds lots/; give an empty or new folder`);
    await mkdir(dir, { recursive: true });
  }
  try {
    const total = args.lots * args.wafers;
    console.error(`generating ${total} wafers with artefacts (seed ${args.seed}) in ${dir} ...`);
    await generateLots({
      outDir: join(dir, "lots"),
      lots: args.lots,
      wafers: args.wafers,
      seed: args.seed,
      sizes: QUALITY_SIZES,
      artefactMix: args.artefactMix,
      outOfSpecFraction: args.outOfSpecFraction,
    });
    console.error("evaluating through the quality gate ...");
    let done = 0;
    // The evaluation keeps counts, not boxes: the detector is wrapped to keep each wafer's reports.
    let lastResult: DetectionResult | null = null;
    const reportsByWafer = new Map<WaferEvaluation, DetectionResult["defects"]>();
    const evaluation = await evaluateDirectory(join(dir, "lots"), {
      useLotHints: args.useLotHints,
      detector: (image, hints) => {
        lastResult = detect(image, hints);
        return lastResult;
      },
      onWafer: (wafer) => {
        reportsByWafer.set(
          wafer,
          wafer.answered === "inspected" ? (lastResult?.defects ?? []) : [],
        );
        lastResult = null;
        done++;
        if (done % 20 === 0) console.error(`  ${done}/${total}`);
      },
    });
    if (args.listMisses) {
      const lines = await listMisses(evaluation.wafers, reportsByWafer);
      console.error(
        [
          "misses, false alarms and wrong wafer verdicts:",
          ...(lines.length ? lines : ["  none"]),
        ].join("\n"),
      );
    }
    const m = evaluation.metrics;
    // A failed image is a bug to chase, not a number: name each with its error.
    for (const w of evaluation.wafers.filter((w) => w.error))
      console.error(
        `failed: ${join(w.lot, w.fileName)} (${w.artefacts?.join(", ") || "no artefacts"}): ${w.error}`,
      );
    const onOthers = evaluation.wafers
      .filter((w) => !(w.artefacts ?? []).includes("hot_pixels") && w.expected !== "unusable")
      .reduce((sum, w) => sum + (w.hotPixelsRemoved ?? 0), 0);
    const isolated = args.isolate > 0 ? await isolatedTable(dir, args.seed, args.isolate) : [];
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const command = `${niceness()}npm run bench:detector -- --seed ${args.seed} --lots ${args.lots} --wafers ${args.wafers} --artefact-mix ${args.artefactMix} --out-of-spec-fraction ${args.outOfSpecFraction}${args.isolate ? ` --isolate ${args.isolate}` : ""}${args.useLotHints ? "" : " --no-hints"}`;
    const text = [
      "## Quality gate and artefacts",
      "",
      `Machine: ${cpu}, ${cpus().length} cores, Node ${process.version}. Run on ${new Date().toISOString().slice(0, 10)}.`,
      "",
      "```",
      command,
      "```",
      "",
      `${m.wafers} fresh wafers (seed ${args.seed}, never used while tuning; sizes ${QUALITY_SIZES.join(", ")}; ${args.useLotHints ? "lot.json hints as the pipeline passes them" : "no hints: diameter 300 mm assumed, notch and die grid found by the detector"}). Each artefact of the spec's "What real cameras and processes add" is drawn on a wafer with probability ${args.artefactMix}; ${pct(args.outOfSpecFraction)} of the images are out of spec (noise, checkerboard, defocus, over/under-exposed, noisy) and must come back \`unusable\`. The quality gate (\`endpoint/quality/\`) runs before the classical detector, as in the endpoint.`,
      "",
      "### All in-spec wafers",
      "",
      qualityTable(m),
      "",
      "### Per artefact (wafers carrying it among others) and out-of-spec kind",
      "",
      artefactTable(m),
      `Of those, removed on in-spec wafers drawn without hot pixels: ${onOthers}.`,
      ...isolated,
    ].join("\n");
    console.log(text);
    if (args.write)
      console.error(`updated ${await writeSection(text, QUALITY_START, QUALITY_END)}`);
  } finally {
    if (args.keepDir) console.error(`kept the wafers in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** The miss listing of a quality run: each wafer's truth is read back from its lot's truth.json. */
async function listMisses(
  wafers: readonly WaferEvaluation[],
  reportsByWafer: ReadonlyMap<WaferEvaluation, DetectionResult["defects"]>,
): Promise<string[]> {
  const truthByLot = new Map<string, Map<string, TruthWafer>>();
  const rows: WaferForMisses[] = [];
  for (const evaluation of wafers) {
    let lot = truthByLot.get(evaluation.lot);
    if (!lot) {
      const truth = TruthSchema.parse(
        JSON.parse(await readFile(join(evaluation.lot, "truth.json"), "utf8")),
      );
      lot = new Map(truth.wafers.map((w) => [w.fileName, w]));
      truthByLot.set(evaluation.lot, lot);
    }
    const truth = lot.get(evaluation.fileName);
    if (!truth) throw new Error(`${evaluation.fileName} is not in ${evaluation.lot}/truth.json`);
    rows.push({ evaluation, truth, reports: reportsByWafer.get(evaluation) ?? [] });
  }
  return missLines(rows);
}

/** One artefact per wafer, so a weak artefact is not hidden among the others it came with. */
async function isolatedTable(dir: string, seed: number, perKind: number): Promise<string[]> {
  const kinds = ["none", ...ARTEFACT_KINDS];
  for (const [k, kind] of kinds.entries()) {
    await generateLots({
      outDir: join(dir, "isolated", kind),
      lots: 1,
      wafers: perKind,
      seed: seed + 1000 + k,
      sizes: QUALITY_SIZES,
      ...(kind === "none" ? {} : { artefacts: [kind as ArtefactKind] }),
      ...(PATTERN_ARTEFACTS.includes(kind as ArtefactKind)
        ? { surface: "patterned" as const }
        : {}),
    });
  }
  console.error(`evaluating ${kinds.length * perKind} wafers with one artefact each ...`);
  const alone = await evaluateDirectory(join(dir, "isolated"));
  return [
    "",
    `### One artefact per wafer (${perKind} wafers per artefact, seeds ${seed + 1000}-${seed + 1000 + kinds.length - 1}, never used while tuning; sizes ${QUALITY_SIZES.join(", ")}; pattern artefacts on patterned wafers)`,
    "",
    artefactTable(alone.metrics).split("\n\n")[0] ?? "",
  ];
}

/** Only the one-artefact-per-wafer table, in its own section. */
async function isolatedRun(args: { seed: number; isolate: number; write: boolean }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "waferflow-bench-isolated-"));
  try {
    const command = `${niceness()}npm run bench:detector -- --seed ${args.seed} --isolate ${args.isolate}`;
    const text = [
      "```",
      command,
      "```",
      ...(await isolatedTable(dir, args.seed, args.isolate)),
    ].join("\n");
    console.log(text);
    if (args.write)
      console.error(`updated ${await writeSection(text, ISOLATED_START, ISOLATED_END)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Read before anything heavy loads (below): --help and usage errors stay cheap.
const commandLine = commandLineOrExit(
  "bench/detector.ts",
  DETECTOR_BENCH_USAGE,
  process.argv.slice(2),
  {
    seed: { type: "string" },
    lots: { type: "string" },
    wafers: { type: "string" },
    repeats: { type: "string" },
    "no-write": { type: "boolean" },
    /** Each artefact of the spec is added to a wafer with this probability (writes the quality section). */
    "artefact-mix": { type: "string" },
    "out-of-spec-fraction": { type: "string" },
    /** Score without lot.json hints (diameter, notch, die pitch): the detector finds them. */
    "no-hints": { type: "boolean" },
    /** Also run this many wafers per artefact with that artefact alone (and a lot with none). */
    isolate: { type: "string" },
    /** Only the 2048 px speed and memory tables (rewrites that part of the detector section). */
    "speed-only": { type: "boolean" },
    /** Quality run: write the wafers here and leave them, so a miss can be followed stage by stage. */
    keep: { type: "string" },
    /** Quality run: name each missed defect, false alarm and wrong wafer verdict. */
    "list-misses": { type: "boolean" },
  },
  { allowPositionals: true },
);

// The detector, the generator, sharp and esbuild load once the command line is read.
const { build } = await import("esbuild");
const { default: sharp } = await import("sharp");
const { DETECTOR_VERSION, detect } = await import("../endpoint/detector/index.ts");
const { decodeGray } = await import("../lib/gray-image.ts");
const { evaluateDirectory } = await import("../qa/evaluate.ts");
const { TruthSchema } = await import("../schemas/truth.ts");
const { ARTEFACT_KINDS, PATTERN_ARTEFACTS } = await import("../synth/artefacts.ts");
const { generateLots, generateWafer } = await import("../synth/generate.ts");
const { missLines } = await import("./misses.ts");

await main();
