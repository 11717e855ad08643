// Per patterned wafer: how much of the flattest class's score sigma is die-level offsets the levelling left, and which true defects a die-levelled threshold would seed.
//
//   node --import tsx bench/sigma-dies.ts <image>...   (truth.json beside each image)
//
// For each image, detect() runs once (no hints, no quality gate); at its stages it reads:
// - levelDies' view: per die cell (interior, every other pixel), the share of residual pixels
//   the misregistration allowance set to exactly 0, and the typical |median| per die over all
//   pixels (what levelDies tests against 0.3% of the level) and over the non-zero ones;
// - the score per activity class (measureSigmas' classes, interior zone): sigma from |score|'s
//   95th percentile as the thresholds read it, and the flattest class's sigma once each die's
//   own median (over its flattest-class pixels) is taken off;
// - per true defect, the score's peak in its box over the seed threshold there (highAt), and the
//   peak less its die's median over a threshold scaled by (die-levelled sigma / sigma) of the
//   flattest class, floored as detect() floors it (an estimate: one ratio for every class).
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Lattice } from "../endpoint/detector/lattice.ts";
import type { FloatMap } from "../endpoint/detector/raster.ts";
import type { Noise } from "../endpoint/detector/stages/noise.ts";
import type { WaferPlace } from "../endpoint/detector/stages/place.ts";
import type { DetectionThresholds } from "../endpoint/detector/stages/thresholds.ts";
import type { PatternAwareSigma } from "../endpoint/detector/threshold.ts";
import { commandLineOrExit, usageErrorLine } from "../lib/cli.ts";
import type { TruthWafer } from "../schemas/truth.ts";

const USAGE = `Usage: node --import tsx bench/sigma-dies.ts <image>...   (truth.json beside each image)

Per patterned wafer: the die-level offsets left in the flattest class's score sigma, and which
true defects a die-levelled threshold would seed.`;
const { positionals: images } = commandLineOrExit(
  "sigma-dies.ts",
  USAGE,
  process.argv.slice(2),
  {},
  {
    allowPositionals: true,
  },
);
if (images.length === 0) {
  process.stderr.write(`${usageErrorLine("sigma-dies.ts", "no image given")}\n`);
  process.exit(2);
}
// The detector and sharp load once the command line is read: --help and usage errors stay cheap.
const { detect } = await import("../endpoint/detector/index.ts");
const { StageTimer } = await import("../endpoint/detector/stages/timer.ts");
const { measureSigmas } = await import("../endpoint/detector/threshold.ts");
const { patternActivity } = await import("../endpoint/detector/threshold-activity.ts");
const { DETECTION } = await import("../endpoint/detector/thresholds.ts");
const { decodeGray } = await import("../lib/gray-image.ts");
const { TruthSchema } = await import("../schemas/truth.ts");
const { latticePosition } = await import("./lattice-frame.ts");

const quantile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
};

/** Die cells of the lattice: street centre lines at whole s and t (levelDies' cells). */
function cellOf(lattice: Lattice, region: { cx: number; cy: number }) {
  const { a, b } = lattice;
  const det = a.x * b.y - a.y * b.x;
  const sOffset = lattice.streetPhase.a / Math.hypot(a.x, a.y);
  const tOffset = lattice.streetPhase.b / Math.hypot(b.x, b.y);
  return (x: number, y: number): number => {
    const dx = x - region.cx;
    const dy = y - region.cy;
    const s = (dx * b.y - dy * b.x) / det - sOffset;
    const t = (a.x * dy - a.y * dx) / det - tOffset;
    return Math.floor(s) * 100_003 + Math.floor(t);
  };
}

/** Whether (x, y) lies within `band` map px of a street centre line (either axis). */
function streetBand(lattice: Lattice, region: { cx: number; cy: number }, band: number) {
  const position = latticePosition(lattice, region);
  return (x: number, y: number): boolean => {
    const { acrossA, acrossB } = position(x, y);
    return acrossA <= band || acrossB <= band;
  };
}

/** Calls `visit` on every other pixel of every other row of the analysis disk outside the ring. */
function eachInterior(
  wafer: WaferPlace,
  width: number,
  edgeMask: Uint8Array,
  visit: (x: number, y: number, i: number) => void,
): void {
  const { cx, cy, r } = wafer.analysis;
  for (let y = Math.ceil(cy - r); y < cy + r; y += 2)
    for (let x = Math.ceil(cx - r); x < cx + r; x += 2) {
      if ((x - cx) ** 2 + (y - cy) ** 2 >= r * r) continue;
      const i = y * width + x;
      if (!edgeMask[i]) visit(x, y, i);
    }
}

function groupBy(entries: Iterable<[number, number]>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const [key, value] of entries) {
    const list = groups.get(key) ?? [];
    list.push(value);
    groups.set(key, list);
  }
  return groups;
}

interface Captured {
  work: FloatMap;
  wafer: WaferPlace;
  noise: Noise;
  lattice: Lattice | null;
  compared: { residual: Float32Array; edgeMask: Uint8Array };
}

/** levelDies' view of the residual right after the comparison (before the score exists). */
function levellingView({ work, wafer, noise, lattice, compared }: Captured): string {
  const cell = cellOf(lattice as Lattice, wafer.analysis);
  const pairs: [number, number][] = [];
  eachInterior(wafer, work.width, compared.edgeMask, (x, y, i) =>
    pairs.push([cell(x, y), compared.residual[i] as number]),
  );
  const all: number[] = [];
  const nonZero: number[] = [];
  const zeros: number[] = [];
  for (const list of groupBy(pairs).values()) {
    if (list.length < 30) continue;
    all.push(Math.abs(quantile(list, 0.5)));
    const kept = list.filter((v) => v !== 0);
    zeros.push(1 - kept.length / list.length);
    if (kept.length >= 15) nonZero.push(Math.abs(quantile(kept, 0.5)));
  }
  const typical = DETECTION.growLevelShare * Math.abs(noise.level);
  return `level ${noise.level}, levelDies' typical-offset test ${typical.toFixed(3)}; ${all.length} dies, median share of zeros ${quantile(zeros, 0.5).toFixed(2)}; typical |die median| over all pixels ${quantile(all, 0.5).toFixed(3)} (q90 ${quantile(all, 0.9).toFixed(3)}), over non-zero pixels ${quantile(nonZero, 0.5).toFixed(3)} (q90 ${quantile(nonZero, 0.9).toFixed(3)})`;
}

function scoreView(
  captured: Captured,
  thresholds: DetectionThresholds,
  truth: TruthWafer,
): string[] {
  const { work, wafer, noise, compared } = captured;
  const lattice = captured.lattice as Lattice;
  const [model] = measureSigmas(
    [thresholds.score],
    [0],
    work,
    wafer.analysis,
    lattice.a,
    compared.edgeMask,
    0,
    null,
  ) as [PatternAwareSigma];
  const classes = model.sigmas.length;
  const perClass: number[][] = Array.from({ length: classes }, () => []);
  const cell = cellOf(lattice, wafer.analysis);
  const flat: [number, number][] = [];
  eachInterior(wafer, work.width, compared.edgeMask, (x, y, i) => {
    const activity = patternActivity(model, i);
    let k = 0;
    while (k < classes - 1 && activity > (model.bounds[k] as number)) k++;
    const v = thresholds.score[i] as number;
    (perClass[k] as number[]).push(v);
    if (k === 0) flat.push([cell(x, y), v]);
  });
  const dieMedian = new Map<number, number>();
  const levelled: number[] = [];
  for (const [key, list] of groupBy(flat)) {
    if (list.length < 15) continue;
    const m = quantile(list, 0.5);
    dieMedian.set(key, m);
    for (const v of list) levelled.push(Math.abs(v - m));
  }
  const sigma0 = quantile((perClass[0] as number[]).map(Math.abs), 0.95) / 1.96;
  const levelledSigma = quantile(levelled, 0.95) / 1.96;
  const medians = [...dieMedian.values()];
  const lines = [
    `score sigma per class ${perClass.map((v) => (quantile(v.map(Math.abs), 0.95) / 1.96).toFixed(3)).join(" ")}; flattest class ${sigma0.toFixed(3)}, less each die's median ${levelledSigma.toFixed(3)}; die medians q05 ${quantile(medians, 0.05).toFixed(3)} q50 ${quantile(medians, 0.5).toFixed(3)} q95 ${quantile(medians, 0.95).toFixed(3)} (${medians.length} dies)`,
  ];
  const highFloor = DETECTION.seedLevelShare * Math.abs(noise.level);
  // What such a threshold would seed where nothing is drawn: interior pixels (every other one)
  // over today's seed threshold, and, less their die's median, over the die-levelled one.
  let seedsToday = 0;
  const levelledSeedDies = new Set<number>();
  let seedsLevelled = 0;
  let seedsOnStreets = 0;
  let seedsFlat = 0;
  const nearStreet = streetBand(lattice, wafer.analysis, 2);
  eachInterior(wafer, work.width, compared.edgeMask, (x, y, i) => {
    const v = thresholds.score[i] as number;
    const high = thresholds.highAt(i);
    if (Math.abs(v) > high) seedsToday++;
    const key = cell(x, y);
    const m = dieMedian.get(key) ?? 0;
    if (Math.abs(v - m) > Math.max(highFloor, (high * levelledSigma) / sigma0)) {
      seedsLevelled++;
      if (nearStreet(x, y)) seedsOnStreets++;
      if (patternActivity(model, i) <= (model.bounds[0] as number)) seedsFlat++;
      levelledSeedDies.add(key);
    }
  });
  lines.push(
    `seed pixels (every other pixel, interior): ${seedsToday} over today's threshold, ${seedsLevelled} over the die-levelled one (in ${levelledSeedDies.size} dies; ${seedsOnStreets} within 2 map px of a street centre line, ${seedsFlat} in the flattest class); true defects ${truth.defects.length}`,
  );
  for (const [index, defect] of truth.defects.entries()) {
    const { x, y, width, height } = defect.bbox;
    // A box whose score is 0 throughout (the allowance forgave all of it) reports its corner.
    let peak = 0;
    let at = Math.floor(y / work.scale) * work.width + Math.floor(x / work.scale);
    for (let my = Math.floor(y / work.scale); my <= Math.ceil((y + height) / work.scale); my++)
      for (let mx = Math.floor(x / work.scale); mx <= Math.ceil((x + width) / work.scale); mx++) {
        const i = my * work.width + mx;
        if (Math.abs(thresholds.score[i] as number) > Math.abs(peak)) {
          peak = thresholds.score[i] as number;
          at = i;
        }
      }
    const ring = compared.edgeMask[at] === 1;
    const median = ring
      ? 0
      : (dieMedian.get(cell(at % work.width, Math.floor(at / work.width))) ?? 0);
    const high = thresholds.highAt(at);
    const levelledHigh = Math.max(highFloor, (high * levelledSigma) / sigma0);
    lines.push(
      `  defect ${index} ${defect.class} (${x}, ${y}) ${width}x${height} contrast ${defect.contrast}: peak ${peak.toFixed(2)} over seed threshold ${high.toFixed(2)} = ${(Math.abs(peak) / high).toFixed(2)}; less die median ${median.toFixed(2)} over die-levelled threshold = ${(Math.abs(peak - median) / levelledHigh).toFixed(2)}${ring ? " (rim ring)" : ""}`,
    );
  }
  return lines;
}

let captured: Partial<Captured> = {};
let truth: TruthWafer | null = null;
const timed = StageTimer.prototype.run;
StageTimer.prototype.run = function run<T>(name: string, stage: () => T): T {
  const out = timed.call(this, name, stage) as T;
  // The bin stage hands on the working map with the gate's overview beside it.
  if (name === "bin") captured.work = (out as { work: FloatMap }).work;
  else if (name === "rim") captured.wafer = out as WaferPlace;
  else if (name === "noise") captured.noise = out as Noise;
  else if (name === "lattice") captured.lattice = out as Lattice | null;
  else if (name === "dieToDie") {
    captured.compared = out as Captured["compared"];
    console.log(`  ${levellingView(captured as Captured)}`);
  } else if (name === "threshold" && captured.compared && truth)
    for (const line of scoreView(captured as Captured, out as DetectionThresholds, truth))
      console.log(`  ${line}`);
  return out;
};

for (const path of images) {
  const lot = TruthSchema.parse(
    JSON.parse(await readFile(join(dirname(path), "truth.json"), "utf8")),
  );
  truth = lot.wafers.find((w) => w.fileName === basename(path)) ?? null;
  if (!truth) throw new Error(`${basename(path)} is not in ${dirname(path)}/truth.json`);
  console.log(path);
  captured = {};
  detect(await decodeGray(await readFile(path)));
}
