// Threshold, segment, group and classify stages of two detector trees, re-run on the same inputs in one process: CPU ms a call, like for like.
//
//   node --import tsx bench/threshold-stages.ts --against <old checkout> [--rounds 15] [--inner 5] <image>...
//
// The stages before "threshold" run once per image (with this checkout's code: they are the
// same inputs for both trees); then, round after round with the trees taking turns, each tree's
// threshold, segment, group and classify stages run `inner` times in a row and their main-thread
// CPU time is divided by `inner`. Thread CPU clocks tick in whole milliseconds or coarser, so a
// 2 ms stage timed once (as `detect-compare.ts ab` does) reads 0, 1 or 4; timed five times in a
// row it reads within a fifth of a tick. A whole detect() of each tree is timed once per round.
// Prints the median over rounds, per tree and stage.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { commandLineOrExit } from "../lib/cli.ts";

const USAGE =
  "Usage: threshold-stages.ts --against <old checkout> [--rounds n] [--inner n] <image>...";
const { values, positionals } = commandLineOrExit(
  "bench/threshold-stages.ts",
  USAGE,
  process.argv.slice(2),
  { against: { type: "string" }, rounds: { type: "string" }, inner: { type: "string" } },
  { allowPositionals: true },
);
if (!values.against || positionals.length === 0) {
  console.error(USAGE);
  process.exit(2);
}
// sharp (under lib/gray-image.ts) loads once the command line is read: --help stays cheap.
const { fullScale } = await import("../lib/gray-image.ts");

const rounds = Number(values.rounds ?? 15);
const inner = Number(values.inner ?? 5);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;

/** One tree's modules, loaded from its own checkout. */
async function loadTree(root: string) {
  const at = (path: string) => import(join(root, path));
  const detector = "endpoint/detector";
  return {
    root,
    gray: await at("lib/gray-image.ts"),
    index: await at(`${detector}/index.ts`),
    input: await at(`${detector}/stages/input.ts`),
    place: await at(`${detector}/stages/place.ts`),
    noise: await at(`${detector}/stages/noise.ts`),
    surface: await at(`${detector}/stages/surface.ts`),
    dieToDie: await at(`${detector}/stages/die-to-die.ts`),
    thresholds: await at(`${detector}/stages/thresholds.ts`),
    segment: await at(`${detector}/segment.ts`),
    defects: await at(`${detector}/stages/defects.ts`),
    chips: await at(`${detector}/stages/chips.ts`),
    disk: await at("endpoint/quality/disk.ts"),
  };
}

const trees = [
  await loadTree(resolve(values.against)),
  await loadTree(resolve(import.meta.dirname, "..")),
];
const names = ["old", "new"];
const [, current] = trees as [
  Awaited<ReturnType<typeof loadTree>>,
  Awaited<ReturnType<typeof loadTree>>,
];

for (const path of positionals) {
  const image = await current.gray.decodeGray(await readFile(path));
  // The inputs of the threshold stage, as detect() computes them.
  const hint = current.input.parseHints({});
  const size = current.input.workingMapSize(image);
  const work = current.input.workingMap(image, new Float32Array(size));
  // Locate starts from the gate's disk, as detect() fits it when not handed one.
  const disk = current.place.locateDisk(
    image,
    work,
    fullScale(image),
    current.disk.diskSeedOf?.(image, work) ?? null,
  );
  let wafer = current.place.placeWafer(image, work, disk, hint);
  const noise = current.noise.measureNoise(work, wafer);
  const illumination = current.surface.fitIllumination(work, wafer, noise, hint);
  const lattice = illumination.mayBePatterned
    ? current.surface.findLattice(work, wafer, noise, hint)
    : null;
  if (lattice) wafer = current.place.alignNotchWithGrid(wafer, lattice);
  const compared = lattice
    ? current.dieToDie.dieToDie(work, wafer, noise, lattice, {
        residual: new Float32Array(size),
        edgeMask: new Uint8Array(size),
        edgeGain: new Uint8Array(size),
      })
    : {
        residual: current.surface.bareResidual(
          work,
          wafer,
          noise,
          illumination.background,
          new Float32Array(size),
        ),
        edgeMask: null,
        comparisonSigma: null,
        edgeGain: null,
      };
  const stagesOf = (tree: (typeof trees)[number]) => {
    const score = new Float32Array(size);
    // Each stage reads what the one before it returned in the same round.
    let thresholds: unknown;
    let blobs: unknown;
    let groups: unknown;
    return {
      threshold: () => {
        thresholds = tree.thresholds.detectionThresholds(
          work,
          wafer,
          noise,
          compared.residual,
          lattice,
          compared.edgeMask,
          compared.comparisonSigma,
          compared.edgeGain,
          score,
        );
      },
      segment: () => {
        const t = thresholds as { score: Float32Array; seeds: unknown };
        blobs = tree.segment.hysteresisBlobs(
          t.score,
          work.width,
          work.height,
          wafer.analysis,
          t.seeds,
        );
        // A tree whose score tail is measured after segmentation (branch tail9) does it here.
        if (tree.thresholds.withScoreTail)
          thresholds = tree.thresholds.withScoreTail(thresholds, blobs, work, wafer);
      },
      group: () => {
        groups = tree.defects.groupBlobs(
          blobs,
          work,
          wafer,
          lattice,
          compared.residual,
          thresholds,
          compared.edgeMask,
        );
      },
      classify: () => [
        ...tree.defects.classifyGroups(groups, image, work, wafer, lattice, thresholds),
        ...tree.chips.chipDefects(image, work.scale, wafer, lattice, noise),
      ],
    };
  };
  const stages = trees.map(stagesOf);
  const times = trees.map(() => ({}) as Record<string, number[]>);
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.threadCpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  // Two warm-up rounds, then old and new alternate which goes first.
  for (let round = 0; round < rounds + 2; round++) {
    for (const t of round % 2 ? [0, 1] : [1, 0]) {
      const tree = trees[t] as (typeof trees)[number];
      const record = (name: string, ms: number) => {
        if (round < 2) return;
        const byStage = times[t] as Record<string, number[]>;
        const list = byStage[name] ?? [];
        list.push(ms);
        byStage[name] = list;
      };
      for (const [name, stage] of Object.entries(stages[t] as ReturnType<typeof stagesOf>)) {
        const since = process.threadCpuUsage();
        for (let k = 0; k < inner; k++) stage();
        record(name, cpuMs(since) / inner);
      }
      const since = process.threadCpuUsage();
      tree.index.detect(image);
      record("detect", cpuMs(since));
    }
  }
  console.log(path);
  for (const [t, name] of names.entries()) {
    const parts = Object.entries(times[t] as Record<string, number[]>).map(
      ([stage, ms]) => `${stage} ${median(ms).toFixed(2)}`,
    );
    console.log(`  ${name}: ${parts.join(", ")}`);
  }
}
