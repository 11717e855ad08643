// Runs one detector checkout over fixed wafers and writes every box, class and score, or diffs two such runs (a speed change must not move a detection).
//
//   node --import tsx bench/compare-detections.ts run --detector <checkout>/endpoint/detector/index.ts --out old.json
//   node --import tsx bench/compare-detections.ts run --out new.json          (this checkout's detector)
//   node --import tsx bench/compare-detections.ts diff old.json new.json
//
// An old checkout to run: `git archive <commit> | tar -x -C /tmp/old` and
// `ln -s "$PWD/node_modules" /tmp/old/node_modules` (bench/stage-cpu.ts --checkout and
// bench/profile-die-to-die.ts --reference take such a directory too).
// The wafers: every image of test/fixtures/lot-e2e and lot-quality, and `--wafers` generated
// 2048 px patterned wafers (seeded, half of them with --artefact-mix 0.3), cached as PNG under
// `--cache` so both runs read the same bytes and the second does not pay for generating them.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { decodeGray, type GrayImage } from "../lib/gray-image.ts";
import { generateWafer } from "../synth/generate.ts";

interface Detected {
  wafer: unknown;
  defects: unknown[];
  error?: string;
}
type DetectFn = (image: GrayImage) => Detected & { timingMs: Record<string, number> };

const FIXTURE_LOTS = ["test/fixtures/lot-e2e", "test/fixtures/lot-quality"];

async function waferFiles(
  cache: string,
  seed: number,
  count: number,
): Promise<Array<{ name: string; path: string }>> {
  const files: Array<{ name: string; path: string }> = [];
  for (const lot of FIXTURE_LOTS) {
    const dir = resolve(import.meta.dirname, "..", lot);
    for (const name of (await readdir(dir)).sort()) {
      if (/\.(png|tif)$/.test(name)) files.push({ name: `${lot}/${name}`, path: join(dir, name) });
    }
  }
  await mkdir(cache, { recursive: true });
  for (let i = 0; i < count; i++) {
    // Even indices plain, odd ones with camera and process artefacts.
    const artefactMix = i % 2 === 0 ? 0 : 0.3;
    const name = `generated-${seed}-${i}-mix${artefactMix}.png`;
    const path = join(cache, name);
    if (!existsSync(path)) {
      const wafer = await generateWafer(seed, i, {
        size: 2048,
        surface: "patterned",
        format: "png",
        artefactMix,
      });
      await writeFile(path, wafer.bytes);
    }
    files.push({ name, path });
  }
  return files;
}

async function run(args: {
  detector: string;
  out: string;
  cache: string;
  seed: number;
  wafers: number;
}): Promise<void> {
  const module = (await import(pathToFileURL(resolve(args.detector)).href)) as {
    detect: DetectFn;
  };
  const results: Record<string, Detected & { cpuMs: number; dieToDieMs?: number }> = {};
  for (const file of await waferFiles(args.cache, args.seed, args.wafers)) {
    const image = await decodeGray(await readFile(file.path));
    const before = process.cpuUsage();
    let result: ReturnType<DetectFn>;
    try {
      result = module.detect(image);
    } catch (error) {
      // Images that cannot be inspected (lot-quality has some): the error is the outcome.
      results[file.name] = { wafer: null, defects: [], error: String(error), cpuMs: 0 };
      console.error(`${file.name}: ${String(error)}`);
      continue;
    }
    const used = process.cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    results[file.name] = {
      wafer: result.wafer,
      defects: result.defects,
      cpuMs,
      dieToDieMs: result.timingMs.dieToDie,
    };
    console.error(
      `${file.name}: ${result.defects.length} defects, ${cpuMs.toFixed(0)} ms CPU (dieToDie ${result.timingMs.dieToDie ?? "-"} ms wall)`,
    );
  }
  await writeFile(args.out, `${JSON.stringify(results, null, 1)}\n`);
}

/** Exit 1 when any wafer's report or defect list differs (timings are left out). */
async function diff(oldPath: string, newPath: string): Promise<void> {
  const before = JSON.parse(await readFile(oldPath, "utf8")) as Record<string, Detected>;
  const after = JSON.parse(await readFile(newPath, "utf8")) as Record<string, Detected>;
  let differing = 0;
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[name];
    const b = after[name];
    const same =
      a !== undefined &&
      b !== undefined &&
      JSON.stringify(a.wafer) === JSON.stringify(b.wafer) &&
      JSON.stringify(a.defects) === JSON.stringify(b.defects) &&
      a.error === b.error;
    if (same) continue;
    differing++;
    console.log(`DIFFERS ${name}`);
    console.log(
      `  old: ${JSON.stringify(a && { wafer: a.wafer, defects: a.defects, error: a.error })}`,
    );
    console.log(
      `  new: ${JSON.stringify(b && { wafer: b.wafer, defects: b.defects, error: b.error })}`,
    );
  }
  const total = new Set([...Object.keys(before), ...Object.keys(after)]).size;
  console.log(`${total - differing} of ${total} wafers identical`);
  if (differing > 0) process.exitCode = 1;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    detector: { type: "string" },
    out: { type: "string" },
    cache: { type: "string" },
    seed: { type: "string" },
    wafers: { type: "string" },
  },
});
const [command, ...rest] = positionals;
if (command === "run") {
  if (!values.out) throw new Error("run needs --out <file.json>");
  const seed = Number(values.seed ?? 8_146_723);
  const wafers = Number(values.wafers ?? 20);
  if (!Number.isInteger(seed) || seed < 0 || !Number.isInteger(wafers) || wafers < 0) {
    throw new Error(
      `--seed and --wafers must be non-negative integers, got '${values.seed}', '${values.wafers}'`,
    );
  }
  await run({
    detector:
      values.detector ?? join(import.meta.dirname, "..", "endpoint", "detector", "index.ts"),
    out: values.out,
    cache: values.cache ?? join(tmpdir(), "waferflow-compare-detections"),
    seed,
    wafers,
  });
} else if (command === "diff" && rest.length === 2) {
  await diff(rest[0] as string, rest[1] as string);
} else {
  throw new Error(
    "usage: compare-detections.ts run [--detector index.ts] --out file.json | diff old.json new.json",
  );
}
