// Benchmark of the default detector: quality on fresh seeded wafers, single-core speed vs decode, peak memory.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";
import sharp from "sharp";
import { DETECTOR_VERSION, detect } from "../endpoint/detector/index.ts";
import { type EvaluationMetrics, evaluateDirectory } from "../endpoint/evaluate.ts";
import { decodeGray, type GrayImage } from "../lib/gray-image.ts";
import { generateLots, generateWafer } from "../synth/generate.ts";

const SECTION_START = "<!-- detector:start -->";
const SECTION_END = "<!-- detector:end -->";
/** Never used while tuning the detector: the quality numbers are on unseen wafers. */
const DEFAULT_SEED = 917_263;
const SIZES = [1024, 1536, 2048, 3072, 4096];
/** The ONNX second stage the endpoint can chain after the classical detector, scored on the same wafers. */
const ONNX_CHAIN_SPEC = "classical+onnx:endpoint/models/wafer-classifier.onnx";

interface SpeedRow {
  label: string;
  decodeMs: number;
  detectCpuMs: number;
  detectWallMs: number;
}

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

/** Median decode (one libvips thread) and detect times of one 2048x2048 wafer. */
async function measureSpeed(label: string, bytes: Buffer, repeats: number): Promise<SpeedRow> {
  const decodes: number[] = [];
  let image: GrayImage | undefined;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    image = await decodeGray(bytes);
    decodes.push(performance.now() - t);
  }
  if (!image) throw new Error("no image decoded");
  const decoded = image;
  detect(decoded); // warm-up: JIT compilation is not the steady state a server sees
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    cpu.push(cpuMs(() => detect(decoded)));
    wall.push(performance.now() - t);
  }
  return { label, decodeMs: median(decodes), detectCpuMs: median(cpu), detectWallMs: median(wall) };
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
    ["wafers (clean)", `${m.wafers} (${m.cleanWafers})`, ""],
    ["true defects", String(m.truthDefects), ""],
    ["recall", pct(m.recall), ">= 99%"],
    ["precision", pct(m.precision), ">= 99%"],
    ["class accuracy", pct(m.classAccuracy), ">= 95%"],
    ["wafer-level accuracy", pct(m.waferAccuracy), ">= 99.5%"],
    ["false alarms per clean wafer", m.falseAlarmsPerCleanWafer.toFixed(3), "<= 0.02"],
    ["failed images", String(m.failedImages), "0"],
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

async function writeSection(text: string): Promise<string> {
  const path = join(import.meta.dirname, "..", "docs", "benchmarks.md");
  const section = `${SECTION_START}\n${text}\n${SECTION_END}`;
  let doc = existsSync(path) ? await readFile(path, "utf8") : "# Benchmarks\n";
  const start = doc.indexOf(SECTION_START);
  const end = doc.indexOf(SECTION_END);
  if (start >= 0 && end > start)
    doc = doc.slice(0, start) + section + doc.slice(end + SECTION_END.length);
  else doc = `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(path, doc);
  return path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      lots: { type: "string" },
      wafers: { type: "string" },
      repeats: { type: "string" },
      "no-write": { type: "boolean" },
      /** Score without lot.json hints (diameter, notch, die pitch): the detector finds them. */
      "no-hints": { type: "boolean" },
    },
    allowPositionals: true,
  });
  const seed = Number(values.seed ?? DEFAULT_SEED);
  const lots = Number(values.lots ?? 20);
  const wafers = Number(values.wafers ?? 10);
  const repeats = Number(values.repeats ?? 7);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, got '${values.seed}'`);
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
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const command = `node --import tsx bench/detector.ts --seed ${seed} --lots ${lots} --wafers ${wafers} --repeats ${repeats}${useLotHints ? "" : " --no-hints"}`;
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
      `### Speed on 2048 x 2048 (median of ${repeats}; detect = CPU time of one thread; decode = PNG via sharp with one libvips thread)`,
      "",
      "| image | decode ms | detect CPU ms | detect wall ms | detect / decode |",
      "| --- | --- | --- | --- | --- |",
      ...speed.map(
        (s) =>
          `| ${s.label} | ${s.decodeMs.toFixed(1)} | ${s.detectCpuMs.toFixed(1)} | ${s.detectWallMs.toFixed(1)} | ${(s.detectCpuMs / s.decodeMs).toFixed(2)} |`,
      ),
      "",
      "Target (issue 8): detect / decode <= 2.5 on 2048 x 2048, patterned included.",
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
    ].join("\n");
    console.log(text);
    if (!values["no-write"]) console.error(`updated ${await writeSection(text)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
