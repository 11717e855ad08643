// CPU time per detector stage of one or more checkouts, measured in turns in one process (A/B on a loaded machine).
//
//   nice -n 10 node --import tsx bench/stage-cpu.ts [--checkout /path/to/other/checkout ...] [--repeats 15]
//
// The speed bench's 2048 px wafers (seed 5772156 + 1; bare and patterned, 8 bit) go through the
// stages of endpoint/detector/index.ts one by one, each timed with process.cpuUsage (CPU time
// of this thread, which a loaded machine inflates less than wall time). Every checkout runs
// once per round, in turn, so load that comes and goes hits them alike; the least and the
// median CPU ms over the rounds are printed per stage. With no --checkout, this checkout only.
// The stage sequence is index.ts's detect(), written out here: keep the two in step.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { decodeGray, fullScale, type GrayImage } from "../lib/gray-image.ts";
import { generateWafer } from "../synth/generate.ts";

const { values } = parseArgs({
  options: {
    checkout: { type: "string", multiple: true },
    repeats: { type: "string" },
    seed: { type: "string" },
  },
});
const repeats = Number(values.repeats ?? 15);
const seed = Number(values.seed ?? 5_772_156);
const checkouts = [
  resolve(import.meta.dirname, ".."),
  ...(values.checkout ?? []).map((c) => resolve(c)),
];

type Stages = (image: GrayImage) => Record<string, number>;

/** The detector's stages of one checkout, each timed in CPU ms. */
async function stagesOf(root: string): Promise<Stages> {
  const at = (path: string) => import(pathToFileURL(join(root, "endpoint", "detector", path)).href);
  const input = await at("stages/input.ts");
  const place = await at("stages/place.ts");
  const noiseStage = await at("stages/noise.ts");
  const surface = await at("stages/surface.ts");
  const d2d = await at("stages/die-to-die.ts");
  const thresholds = await at("stages/thresholds.ts");
  const segment = await at("segment.ts");
  const defects = await at("stages/defects.ts");
  const chips = await at("stages/chips.ts");
  return (image) => {
    const times: Record<string, number> = {};
    const timed = <T>(name: string, stage: () => T): T => {
      const before = process.cpuUsage();
      const out = stage();
      const used = process.cpuUsage(before);
      times[name] = (used.user + used.system) / 1000;
      return out;
    };
    const hint = input.parseHints(undefined);
    const work = timed("bin", () => input.workingMap(image));
    const disk = timed("locate", () => place.locateDisk(image, work, fullScale(image)));
    const wafer = timed("rim", () => place.placeWafer(image, work, disk, hint));
    const noise = timed("noise", () => noiseStage.measureNoise(work, wafer));
    const illumination = timed("background", () =>
      surface.fitIllumination(work, wafer, noise, hint),
    );
    const lattice = illumination.mayBePatterned
      ? timed("lattice", () => surface.findLattice(work, wafer, noise, hint))
      : null;
    const compared = lattice
      ? timed("dieToDie", () => d2d.dieToDie(work, wafer, noise, lattice))
      : {
          residual: timed("residual", () =>
            surface.bareResidual(work, wafer, noise, illumination.background),
          ),
          edgeMask: null,
        };
    const found = timed("threshold", () =>
      thresholds.detectionThresholds(
        work,
        wafer,
        noise,
        compared.residual,
        lattice,
        compared.edgeMask,
      ),
    );
    const blobs = timed("segment", () =>
      segment.hysteresisBlobs(found.score, work.width, work.height, wafer.analysis, found.seeds),
    );
    const groups = timed("group", () =>
      defects.groupBlobs(blobs, work, wafer, lattice, compared.residual, found),
    );
    timed("classify", () => [
      ...defects.classifyGroups(groups, image, work, wafer, lattice, found),
      ...chips.chipDefects(image, work.scale, wafer, lattice, noise),
    ]);
    times.total = Object.values(times).reduce((s, t) => s + t, 0);
    return times;
  };
}

const cases = [
  { label: "bare, 8 bit", surface: "bare", index: 0 },
  { label: "patterned, 8 bit", surface: "patterned", index: 2 },
] as const;
const runners = await Promise.all(checkouts.map(stagesOf));
for (const c of cases) {
  const wafer = await generateWafer(seed + 1, c.index, {
    size: 2048,
    surface: c.surface,
    bitDepth: 8,
    format: "png",
    clean: false,
  });
  const image = await decodeGray(wafer.bytes);
  for (const run of runners) for (let i = 0; i < 3; i++) run(image);
  const samples = runners.map(() => ({}) as Record<string, number[]>);
  for (let round = 0; round < repeats; round++) {
    runners.forEach((run, k) => {
      for (const [stage, ms] of Object.entries(run(image))) {
        const list = (samples[k] as Record<string, number[]>)[stage] ?? [];
        list.push(ms);
        (samples[k] as Record<string, number[]>)[stage] = list;
      }
    });
  }
  console.log(`\n${c.label}: CPU ms per stage, least / median of ${repeats} rounds`);
  const stages = Object.keys(samples[0] as Record<string, number[]>);
  console.log(
    ["stage".padEnd(11), ...checkouts.map((_, k) => `checkout ${k}`.padStart(16))].join(""),
  );
  for (const stage of stages) {
    const cells = samples.map((s) => {
      const list = [...(s[stage] ?? [])].sort((a, b) => a - b);
      const median = list[Math.floor(list.length / 2)] ?? Number.NaN;
      return `${(list[0] ?? Number.NaN).toFixed(1)} / ${median.toFixed(1)}`.padStart(16);
    });
    console.log([stage.padEnd(11), ...cells].join(""));
  }
}
console.log(`\n${checkouts.map((c, k) => `checkout ${k}: ${c}`).join("\n")}`);
