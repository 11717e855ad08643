// Per patterned wafer, the seed threshold over the noise floor's seed: whether the thresholds read noise or the pattern's leftovers.
//
//   node --import tsx bench/seed-floor-scan.ts <lot dir>...
//
// Runs the gate and detect()'s stages up to the thresholds (no hints) on every wafer-* image of
// each lot folder and prints minHigh (the flattest activity class's seed threshold of the dies)
// over 6 x 0.8 x the comparison sigma (the seed the noise floor alone would set), then how many
// wafers read over 1.5x and 2x (docs/detector-recall.md rounds 26 and 29: a leftover of the die
// pattern over more than ~5% of the disk lifts the whole wafer's seed). Used in round 29 to count
// the reticle wafers whose seed reads the leftover, before and after a change.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { commandLineOrExit, usageErrorLine } from "../lib/cli.ts";

/** minHigh over the noise floor's seed, or null for an unusable or bare wafer. */
async function seedOverFloor(path: string): Promise<number | null> {
  const gate = assessQuality(await decodeGray(new Uint8Array(await readFile(path))));
  if (!gate.usable) return null;
  const image = gate.image;
  checkImage(image);
  const hint = parseHints({});
  const work = takeHandedOverMap(image) ?? workingMap(image);
  let wafer = placeWafer(image, work, locateDisk(image, work, fullScale(image)), hint);
  const noise = measureNoise(work, wafer);
  if (!fitIllumination(work, wafer, noise, hint).mayBePatterned) return null;
  const lattice = findLattice(work, wafer, noise, hint);
  if (!lattice) return null;
  wafer = alignNotchWithGrid(wafer, lattice);
  const compared = dieToDie(work, wafer, noise, lattice);
  const thresholds = thresholdsOfComparison(work, wafer, noise, lattice, compared);
  return thresholds.seeds.minHigh / (DETECTION.seedSigmas * 0.8 * compared.comparisonSigma);
}

const USAGE = `Usage: node --import tsx bench/seed-floor-scan.ts <lot dir>...

Per patterned wafer-* image of each lot folder (gate, then detect()'s stages to the thresholds, no
hints): the flattest class's seed threshold over the seed the noise floor alone would set, then
how many wafers read over 1.5x and 2x.`;
const { positionals: dirs } = commandLineOrExit(
  "seed-floor-scan.ts",
  USAGE,
  process.argv.slice(2),
  {},
  {
    allowPositionals: true,
  },
);
if (dirs.length === 0) {
  process.stderr.write(`${usageErrorLine("seed-floor-scan.ts", "no lot folder given")}\n`);
  process.exit(2);
}
// The gate and the detector load once the command line is read: --help and usage errors stay cheap.
const { dieToDie } = await import("../endpoint/detector/stages/die-to-die.ts");
const { checkImage, parseHints, takeHandedOverMap, workingMap } = await import(
  "../endpoint/detector/stages/input.ts"
);
const { measureNoise } = await import("../endpoint/detector/stages/noise.ts");
const { alignNotchWithGrid, locateDisk, placeWafer } = await import(
  "../endpoint/detector/stages/place.ts"
);
const { findLattice, fitIllumination } = await import("../endpoint/detector/stages/surface.ts");
const { thresholdsOfComparison } = await import("../endpoint/detector/stages/thresholds.ts");
const { DETECTION } = await import("../endpoint/detector/thresholds.ts");
const { assessQuality } = await import("../endpoint/quality/index.ts");
const { decodeGray, fullScale } = await import("../lib/gray-image.ts");

const ratios: number[] = [];
for (const dir of dirs)
  for (const name of (await readdir(dir)).filter((f) => f.startsWith("wafer-")).sort()) {
    const ratio = await seedOverFloor(join(dir, name));
    console.log(`${join(dir, name)} ${ratio === null ? "bare or unusable" : ratio.toFixed(2)}`);
    if (ratio !== null) ratios.push(ratio);
  }
ratios.sort((a, b) => a - b);
console.log(
  `${ratios.length} patterned wafers: over 1.5x ${ratios.filter((r) => r > 1.5).length}, over 2x ${ratios.filter((r) => r > 2).length}, median ${ratios[Math.floor(ratios.length / 2)]?.toFixed(2)}, max ${ratios.at(-1)?.toFixed(2)}`,
);
