// CPU time of each part of the die-to-die stage on one generated 2048 px patterned wafer (where that stage's time goes).
//
//   nice -n 10 node --import tsx bench/profile-die-to-die.ts [--seed 5772157] [--index 2] [--bit-depth 8] [--repeats 9]
//
// Runs the detector's stages up to the lattice once, then each part of the die-to-die stage
// `repeats` times after 3 warm-ups and prints the median and least CPU ms of each (CPU time of this one
// thread, so a loaded machine inflates it less than wall time). `--reference <checkout>`
// first checks that this checkout's stage output equals that one's, bit for bit. Defaults: the speed bench's
// patterned 8-bit wafer (seed 5772156 + 1, index 2).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { dieToDieResidual, levelDies } from "../endpoint/detector/die-to-die.ts";
import { estimateDieDifferenceNoise, estimateNoiseSigma } from "../endpoint/detector/noise.ts";
import { binomialBlur3 } from "../endpoint/detector/raster.ts";
import { dieToDie } from "../endpoint/detector/stages/die-to-die.ts";
import { parseHints, workingMap } from "../endpoint/detector/stages/input.ts";
import { measureNoise } from "../endpoint/detector/stages/noise.ts";
import { locateDisk, placeWafer } from "../endpoint/detector/stages/place.ts";
import { findLattice, fitIllumination } from "../endpoint/detector/stages/surface.ts";
import { DETECTION, SPEC } from "../endpoint/detector/thresholds.ts";
import { decodeGray, fullScale } from "../lib/gray-image.ts";
import { generateWafer } from "../synth/generate.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    index: { type: "string" },
    "bit-depth": { type: "string" },
    repeats: { type: "string" },
    /** Another checkout: its die-to-die stage must give the same residual and edge mask, bit for bit. */
    reference: { type: "string" },
  },
});
const seed = Number(values.seed ?? 5_772_157);
const index = Number(values.index ?? 2);
const bitDepth = values["bit-depth"] === "16" ? 16 : 8;
const repeats = Number(values.repeats ?? 9);

function cpuMs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Median and minimum CPU ms (the minimum is the least disturbed by other processes). */
function cpuStats(run: () => void): { median: number; min: number } {
  for (let i = 0; i < 3; i++) run();
  const times = Array.from({ length: repeats }, () => cpuMs(run)).sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] as number, min: times[0] as number };
}

const wafer = await generateWafer(seed, index, {
  size: 2048,
  surface: "patterned",
  bitDepth,
  format: "png",
  clean: false,
});
const image = await decodeGray(wafer.bytes);
const hint = parseHints(undefined);
const work = workingMap(image);
const disk = locateDisk(image, work, fullScale(image));
const place = placeWafer(image, work, disk, hint);
const noise = measureNoise(work, place);
fitIllumination(work, place, noise, hint);
const lattice = findLattice(work, place, noise, hint);
if (!lattice) throw new Error("no lattice found on the patterned wafer");

const size = work.width * work.height;
const smoothMap = new Float32Array(size);
const residual = new Float32Array(size);
const edgeMask = new Uint8Array(size);
binomialBlur3(work.data, work.width, work.height, smoothMap);
const sigma = Math.max(
  DETECTION.binomialNoiseGain * noise.sigmaMap,
  estimateDieDifferenceNoise(
    smoothMap,
    work.width,
    work.height,
    place.analysis,
    lattice.a,
    lattice.b,
  ),
);
const levelled = new Float32Array(size);
dieToDieResidual(
  { ...work, data: smoothMap },
  lattice.a,
  lattice.b,
  place.analysis,
  place.circle.r / work.scale,
  sigma,
  residual,
  edgeMask,
);
let rimPixels = 0;
for (const m of edgeMask) rimPixels += m;
const { r } = place.analysis;
console.log(
  `disk ${Math.round(Math.PI * r * r)} px, of them ${rimPixels} near the rim (some reference extrapolated)`,
);
const rows: Array<[string, () => void]> = [
  ["noise stage (measureNoise)", () => measureNoise(work, place)],
  [
    "sensor noise (estimateNoiseSigma)",
    () => estimateNoiseSigma(work.data, work.width, work.height, place.analysis),
  ],
  ["whole stage (dieToDie)", () => dieToDie(work, place, noise, lattice)],
  ["smoothing (binomialBlur3)", () => binomialBlur3(work.data, work.width, work.height, smoothMap)],
  [
    "die-difference noise (estimateDieDifferenceNoise)",
    () =>
      estimateDieDifferenceNoise(
        smoothMap,
        work.width,
        work.height,
        place.analysis,
        lattice.a,
        lattice.b,
      ),
  ],
  [
    "residual (dieToDieResidual)",
    () =>
      dieToDieResidual(
        { ...work, data: smoothMap },
        lattice.a,
        lattice.b,
        place.analysis,
        place.circle.r / work.scale,
        sigma,
        residual,
        edgeMask,
      ),
  ],
  [
    "levelling (levelDies, on a copy)",
    () => {
      levelled.set(residual);
      levelDies(
        levelled,
        work.width,
        lattice.a,
        lattice.b,
        lattice.streetPhase,
        place.analysis,
        2 * SPEC.reticleLevelShare * Math.abs(noise.level),
        edgeMask,
        DETECTION.growLevelShare * Math.abs(noise.level),
      );
    },
  ],
];
console.log(
  `seed ${seed} index ${index}, ${bitDepth} bit, map ${work.width}x${work.height}, pitch a (${lattice.a.x.toFixed(2)}, ${lattice.a.y.toFixed(2)}) b (${lattice.b.x.toFixed(2)}, ${lattice.b.y.toFixed(2)}); ${repeats} runs each`,
);
if (values.reference) {
  const module = (await import(
    pathToFileURL(join(values.reference, "endpoint", "detector", "stages", "die-to-die.ts")).href
  )) as { dieToDie: typeof dieToDie };
  const expected = module.dieToDie(work, place, noise, lattice);
  const actual = dieToDie(work, place, noise, lattice);
  const same = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
    Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
      Buffer.from(y.buffer, y.byteOffset, y.byteLength),
    );
  const identical =
    same(expected.residual, actual.residual) && same(expected.edgeMask, actual.edgeMask);
  console.log(
    `die-to-die output ${identical ? "identical to" : "DIFFERS from"} ${values.reference}`,
  );
  if (!identical) process.exitCode = 1;
}
console.log(" median     min  (CPU ms)");
for (const [label, run] of rows) {
  const { median, min } = cpuStats(run);
  console.log(`${median.toFixed(1).padStart(7)} ${min.toFixed(1).padStart(7)}  ${label}`);
}
