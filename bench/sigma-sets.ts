// Writes the tuning sets of docs/detector-false-alarms.md round 5 (and the bench's quality mix) for the sigma diagnosis.
//
//   node --import tsx bench/sigma-sets.ts <seed> <dir>
//
// Seeds 7010, 7011, 7012 take their round-5 options; any other tuning seed (5150-5159) takes the
// bench's quality mix (`npm run bench:detector -- --artefact-mix 0.3 --out-of-spec-fraction 0.1`,
// 4 lots x 30 wafers), written to <dir>/lots as the bench's --keep does.
import { join } from "node:path";
import { commandLineOrExit, usageErrorLine } from "../lib/cli.ts";
import type { LotOptions } from "../synth/generate.ts";

const SIZES = [1024, 1536, 2048];
const PRESETS: Record<number, Omit<LotOptions, "outDir" | "seed">> = {
  7010: {
    lots: 3,
    wafers: 20,
    surface: "patterned",
    artefacts: ["reticle", "frame_clip", "frame_vignetting"],
    artefactMix: 0.2,
    cleanFraction: 0.6,
  },
  7011: {
    lots: 3,
    wafers: 20,
    surface: "patterned",
    artefacts: ["reticle"],
    defectClasses: ["particle"],
    artefactMix: 0.2,
    clean: false,
  },
  7012: { lots: 3, wafers: 20, surface: "patterned", artefactMix: 0.5, cleanFraction: 0.5 },
};
const QUALITY_MIX = { lots: 4, wafers: 30, artefactMix: 0.3, outOfSpecFraction: 0.1 };

const USAGE = `Usage: node --import tsx bench/sigma-sets.ts <seed> <dir>

Writes a tuning set to <dir>/lots: seeds 7010, 7011 and 7012 with their round-5 options, any
other tuning seed with the bench's quality mix (4 lots x 30 wafers).`;
const { positionals } = commandLineOrExit(
  "sigma-sets.ts",
  USAGE,
  process.argv.slice(2),
  {},
  {
    allowPositionals: true,
  },
);
const [seedText, dir] = positionals;
const seed = Number(seedText);
if (!Number.isSafeInteger(seed) || !dir || positionals.length !== 2) {
  process.stderr.write(`${usageErrorLine("sigma-sets.ts", "wants a whole seed and a folder")}\n`);
  process.exit(2);
}
// The generator (sharp, the renderer) loads once the command line is read: --help stays cheap.
const { generateLots } = await import("../synth/generate.ts");
await generateLots({
  outDir: join(dir, "lots"),
  seed,
  sizes: SIZES,
  ...(PRESETS[seed] ?? QUALITY_MIX),
});
console.error(`wrote seed ${seed} to ${join(dir, "lots")}`);
