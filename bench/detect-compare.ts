// Speed work must not move detections: records gate + detect outputs of wafer folders, diffs two records, and times stages in CPU ms.
//
//   node --import tsx bench/detect-compare.ts record --out before.json <dir>...
//   node --import tsx bench/detect-compare.ts diff before.json after.json
//   node --import tsx bench/detect-compare.ts stages [--repeats 7] <image>...
//   node --import tsx bench/detect-compare.ts ab --against <old checkout> [--repeats 7] <image>...
//
// `record` runs every image of every lot folder under the given dirs twice through the quality
// gate and the detector: with the lot.json hints (as the pipeline passes them) and without
// (the detector then finds notch and die grid itself, the costlier path). The record holds
// every box, class, score, the wafer block (lattice pitch and angle) and the gate's measures,
// everything but times. `diff` names each wafer whose output changed in any digit.
//
// `ab` loads the detector and gate of this checkout and of another one (e.g. `git archive
// <commit> | tar -x -C /tmp/old`, with node_modules linked) into one process and runs them in
// turn on the same decoded image, each stage timed in CPU ms of the main thread
// (process.threadCpuUsage), next to the PNG decode's CPU time (one libvips thread): on a loaded
// shared machine, old and new then see the same load, which two separate runs do not.
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { commandLineOrExit } from "../lib/cli.ts";
import type { DetectionHints } from "../schemas/detection.ts";

const IMAGE = /\.(png|tiff?)$/i;

async function lotFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const found: string[] = [];
  if (entries.some((e) => e.isFile() && IMAGE.test(e.name))) found.push(dir);
  for (const e of entries)
    if (e.isDirectory()) found.push(...(await lotFolders(join(dir, e.name))));
  return found.sort();
}

async function lotHints(dir: string): Promise<DetectionHints> {
  const path = join(dir, "lot.json");
  if (!(await stat(path).catch(() => null))) return {};
  const parsed = LotFileSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) throw new Error(`${path} is not a valid lot file: ${parsed.error.message}`);
  return hintsFromMetadata(parsed.data);
}

async function record(out: string, dirs: string[]): Promise<void> {
  const results: Record<string, unknown> = {};
  // The lattice itself (vectors, street phase, periodicity), which the report gives only as pitches.
  let lattice: unknown = null;
  const timed = StageTimer.prototype.run;
  StageTimer.prototype.run = function run<T>(name: string, stage: () => T): T {
    const out = timed.call(this, name, stage) as T;
    if (name === "lattice") lattice = out;
    return out;
  };
  for (const root of dirs) {
    for (const dir of await lotFolders(root)) {
      const hints = await lotHints(dir);
      const names = (await readdir(dir)).filter((n) => IMAGE.test(n)).sort();
      for (const name of names) {
        const image = await decodeGray(await readFile(join(dir, name)));
        for (const [mode, h] of [
          ["hints", hints],
          ["no-hints", {}],
        ] as const) {
          lattice = null;
          const { timingMs: _times, ...rest } = await gatedDetect(image, h, detect);
          results[`${join(dir, name)} ${mode}`] = { ...rest, lattice };
          const defects = rest.defects.length;
          console.error(`${join(dir, name)} ${mode}: ${rest.status}, ${defects} defects`);
        }
      }
    }
  }
  await writeFile(out, `${JSON.stringify(results, null, 1)}\n`);
  console.error(`wrote ${Object.keys(results).length} results to ${out}`);
}

async function diff(beforePath: string, afterPath: string): Promise<number> {
  const before = JSON.parse(await readFile(beforePath, "utf8")) as Record<string, unknown>;
  const after = JSON.parse(await readFile(afterPath, "utf8")) as Record<string, unknown>;
  let changed = 0;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a === b) continue;
    changed++;
    console.log(`CHANGED ${key}\n  before ${a?.slice(0, 600)}\n  after  ${b?.slice(0, 600)}`);
  }
  const total = Object.keys(before).length;
  console.log(`${changed} of ${total} results differ`);
  return changed;
}

/** Stage times in CPU ms: the detector's own stage timer, reading process CPU instead of wall time. */
async function stages(paths: string[], repeats: number): Promise<void> {
  const cpu: Record<string, number[]> = {};
  StageTimer.prototype.run = function run<T>(name: string, stage: () => T): T {
    const t = process.cpuUsage();
    const out = stage();
    const used = process.cpuUsage(t);
    const times = cpu[name] ?? [];
    times.push((used.user + used.system) / 1000);
    cpu[name] = times;
    return out;
  };
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  for (const path of paths) {
    const image = await decodeGray(await readFile(path));
    const gate: number[] = [];
    const total: number[] = [];
    for (const key of Object.keys(cpu)) delete cpu[key];
    for (let i = 0; i < 3 + repeats; i++) {
      if (i === 3) for (const key of Object.keys(cpu)) delete cpu[key];
      let t = process.cpuUsage();
      await gatedDetect(image, {}, (im) => {
        const used = process.cpuUsage(t);
        if (i >= 3) gate.push((used.user + used.system) / 1000);
        t = process.cpuUsage();
        const result = detect(im);
        const run = process.cpuUsage(t);
        if (i >= 3) total.push((run.user + run.system) / 1000);
        return result;
      });
    }
    const parts = Object.entries(cpu).map(([k, v]) => `${k} ${median(v).toFixed(1)}`);
    console.log(
      `${path}: gate ${median(gate).toFixed(1)}, detect ${median(total).toFixed(1)} CPU ms; ${parts.join(", ")}`,
    );
  }
}

type DetectFn = typeof detect;
type GateFn = typeof gatedDetect;

/** Old and new detector, turn about on each image; main-thread CPU ms per stage, gate and decode. */
async function ab(paths: string[], against: string, repeats: number): Promise<void> {
  sharp.concurrency(1);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const threadMs = (t: NodeJS.CpuUsage) => {
    const u = process.threadCpuUsage(t);
    return (u.user + u.system) / 1000;
  };
  const trees: Array<{
    name: string;
    detect: DetectFn;
    gate: GateFn;
    cpu: Record<string, number[]>;
  }> = [];
  for (const [name, root] of [
    ["old", resolve(against)],
    ["new", resolve(import.meta.dirname, "..")],
  ] as const) {
    const detector = (await import(join(root, "endpoint/detector/index.ts"))) as {
      detect: DetectFn;
    };
    const timer = (await import(join(root, "endpoint/detector/stages/timer.ts"))) as {
      StageTimer: typeof StageTimer;
    };
    const quality = (await import(join(root, "endpoint/quality/index.ts"))) as {
      gatedDetect: GateFn;
    };
    const cpu: Record<string, number[]> = {};
    timer.StageTimer.prototype.run = function run<T>(stage: string, work: () => T): T {
      const t = process.threadCpuUsage();
      const out = work();
      const times = cpu[stage] ?? [];
      times.push(threadMs(t));
      cpu[stage] = times;
      return out;
    };
    trees.push({ name, detect: detector.detect, gate: quality.gatedDetect, cpu });
  }
  for (const path of paths) {
    const bytes = await readFile(path);
    const decodes: number[] = [];
    let image = await decodeGray(bytes);
    for (let i = 0; i < repeats; i++) {
      const t = process.cpuUsage();
      image = await decodeGray(bytes);
      const used = process.cpuUsage(t);
      decodes.push((used.user + used.system) / 1000);
    }
    const decodeCpu = median(decodes);
    const totals = new Map(
      trees.map((tree) => [tree.name, { gate: [] as number[], detect: [] as number[] }]),
    );
    for (let i = 0; i < 3 + repeats; i++) {
      // Warm-ups first; then old and new alternate which goes first.
      const order = i % 2 ? trees : [...trees].reverse();
      for (const tree of order) {
        if (i === 3) for (const stage of Object.keys(tree.cpu)) delete tree.cpu[stage];
        const total = totals.get(tree.name) as { gate: number[]; detect: number[] };
        let t = process.threadCpuUsage();
        await tree.gate(image, {}, (cleaned) => {
          if (i >= 3) total.gate.push(threadMs(t));
          t = process.threadCpuUsage();
          const result = tree.detect(cleaned);
          if (i >= 3) total.detect.push(threadMs(t));
          return result;
        });
      }
    }
    console.log(`${path}: decode ${decodeCpu.toFixed(1)} CPU ms`);
    for (const tree of trees) {
      const total = totals.get(tree.name) as { gate: number[]; detect: number[] };
      const detectMs = median(total.detect);
      const stages = Object.entries(tree.cpu).map(([k, v]) => `${k} ${median(v).toFixed(1)}`);
      console.log(
        `  ${tree.name}: detect ${detectMs.toFixed(1)} (${(detectMs / decodeCpu).toFixed(2)}x decode), gate ${median(total.gate).toFixed(1)}; ${stages.join(", ")}`,
      );
    }
  }
}

const DETECT_COMPARE_USAGE =
  "Usage: detect-compare.ts record --out <file> <dir>... | diff <before> <after> | stages [--repeats n] <image>... | ab --against <old checkout> [--repeats n] <image>...";
const { values, positionals: args } = commandLineOrExit(
  "bench/detect-compare.ts",
  DETECT_COMPARE_USAGE,
  process.argv.slice(2),
  { out: { type: "string" }, repeats: { type: "string" }, against: { type: "string" } },
  { allowPositionals: true },
);
const [command, ...positionals] = args;
// The detector, the gate and sharp load once the command line is read: --help stays cheap.
const { default: sharp } = await import("sharp");
const { detect } = await import("../endpoint/detector/index.ts");
const { StageTimer } = await import("../endpoint/detector/stages/timer.ts");
const { gatedDetect } = await import("../endpoint/quality/index.ts");
const { hintsFromMetadata } = await import("../lib/custom-attributes.ts");
const { decodeGray } = await import("../lib/gray-image.ts");
const { LotFileSchema } = await import("../schemas/lot.ts");

if (command === "record" && values.out && positionals.length > 0) {
  await record(values.out, positionals);
} else if (command === "diff" && positionals.length === 2) {
  process.exitCode = (await diff(positionals[0] as string, positionals[1] as string)) ? 1 : 0;
} else if (command === "stages" && positionals.length > 0) {
  await stages(positionals, Number(values.repeats ?? 7));
} else if (command === "ab" && values.against && positionals.length > 0) {
  await ab(positionals, values.against, Number(values.repeats ?? 7));
} else {
  console.error(DETECT_COMPARE_USAGE);
  process.exitCode = 2;
}
