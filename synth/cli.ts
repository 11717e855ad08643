// `waferflow fixtures`: writes seeded synthetic lots (images, truth.json, lot.json) from the command line.
import { parseArgs } from "node:util";
import { UsageError, wantsHelp } from "../lib/cli.ts";
import {
  ARTEFACT_KINDS,
  type ArtefactKind,
  OUT_OF_SPEC_KINDS,
  type OutOfSpecKind,
} from "./artefacts.ts";
import { SynthOptionsError } from "./errors.ts";
import { generateLots, type LotOptions, MAX_SIDE, MIN_SIDE } from "./generate.ts";

export const FIXTURES_USAGE = `waferflow fixtures --out <dir> --lots <n> --wafers <m> --seed <s>
    [--size <px> | --sizes 1024,2048] [--bit-depth 8|16] [--format png|tiff]
    [--surface bare|patterned] [--clean-fraction f] [--colour] [--no-lot-json]
    [--artefacts all|<kind,...>] [--artefact-mix p] [--out-of-spec <kind>] [--out-of-spec-fraction f]
  artefacts: ${ARTEFACT_KINDS.join(", ")}
  out-of-spec: ${OUT_OF_SPEC_KINDS.join(", ")}`;

function fractionFlag(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new SynthOptionsError(`--${name} must be a number from 0 to 1, got '${raw}'`);
  }
  return value;
}

function integerFlag(name: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined) throw new SynthOptionsError(`--${name} is required`);
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SynthOptionsError(`--${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/** Turns the command's flags into LotOptions, naming the first flag that is wrong. */
export function parseFixturesArgs(argv: string[]): LotOptions {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (cause) {
    throw new SynthOptionsError((cause as Error).message, { cause });
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    throw new SynthOptionsError(`unexpected argument '${positionals[0]}'`);
  }
  if (!values.out || values.out.trim() === "")
    throw new SynthOptionsError("--out <dir> is required");
  const options: LotOptions = {
    outDir: values.out,
    lots: integerFlag("lots", values.lots, 1, 1000),
    wafers: integerFlag("wafers", values.wafers, 1, 1000),
    seed: integerFlag("seed", values.seed, 0, Number.MAX_SAFE_INTEGER),
    writeLotJson: !values["no-lot-json"],
  };
  if (values.colour) options.colour = true;
  if (values.size !== undefined && values.sizes !== undefined) {
    throw new SynthOptionsError("give either --size or --sizes, not both");
  }
  if (values.size !== undefined)
    options.size = integerFlag("size", values.size, MIN_SIDE, MAX_SIDE);
  if (values.sizes !== undefined) {
    options.sizes = values.sizes
      .split(",")
      .map((part) => integerFlag("sizes", part, MIN_SIDE, MAX_SIDE));
  }
  const bitDepth = values["bit-depth"];
  if (bitDepth !== undefined) {
    if (bitDepth !== "8" && bitDepth !== "16") {
      throw new SynthOptionsError(`--bit-depth must be 8 or 16, got '${bitDepth}'`);
    }
    options.bitDepth = bitDepth === "8" ? 8 : 16;
  }
  if (values.format !== undefined) {
    const format = values.format === "tif" ? "tiff" : values.format;
    if (format !== "png" && format !== "tiff") {
      throw new SynthOptionsError(`--format must be png or tiff, got '${values.format}'`);
    }
    options.format = format;
  }
  if (values.surface !== undefined) {
    if (values.surface !== "bare" && values.surface !== "patterned") {
      throw new SynthOptionsError(`--surface must be bare or patterned, got '${values.surface}'`);
    }
    options.surface = values.surface;
  }
  if (values["clean-fraction"] !== undefined) {
    const raw = values["clean-fraction"];
    const fraction = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
      throw new SynthOptionsError(`--clean-fraction must be a number from 0 to 1, got '${raw}'`);
    }
    options.cleanFraction = fraction;
  }
  if (values.artefacts !== undefined) {
    const kinds =
      values.artefacts.trim() === "all"
        ? [...ARTEFACT_KINDS]
        : values.artefacts.split(",").map((k) => k.trim().replaceAll("-", "_"));
    for (const kind of kinds) {
      if (!ARTEFACT_KINDS.includes(kind as ArtefactKind)) {
        throw new SynthOptionsError(
          `--artefacts: '${kind}' is not one of all, ${ARTEFACT_KINDS.join(", ")}`,
        );
      }
    }
    options.artefacts = kinds as ArtefactKind[];
  }
  if (values["artefact-mix"] !== undefined)
    options.artefactMix = fractionFlag("artefact-mix", values["artefact-mix"]);
  if (values["out-of-spec"] !== undefined) {
    const kind = values["out-of-spec"].trim();
    if (!OUT_OF_SPEC_KINDS.includes(kind as OutOfSpecKind)) {
      throw new SynthOptionsError(
        `--out-of-spec must be one of ${OUT_OF_SPEC_KINDS.join(", ")}, got '${kind}'`,
      );
    }
    options.outOfSpec = kind as OutOfSpecKind;
  }
  if (values["out-of-spec-fraction"] !== undefined)
    options.outOfSpecFraction = fractionFlag(
      "out-of-spec-fraction",
      values["out-of-spec-fraction"],
    );
  return options;
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: "string" },
      lots: { type: "string" },
      wafers: { type: "string" },
      seed: { type: "string" },
      size: { type: "string" },
      sizes: { type: "string" },
      "bit-depth": { type: "string" },
      format: { type: "string" },
      surface: { type: "string" },
      "clean-fraction": { type: "string" },
      "no-lot-json": { type: "boolean" },
      colour: { type: "boolean" },
      artefacts: { type: "string" },
      "artefact-mix": { type: "string" },
      "out-of-spec": { type: "string" },
      "out-of-spec-fraction": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

export async function runFixturesCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(`Usage: ${FIXTURES_USAGE}`);
    return 0;
  }
  let options: LotOptions;
  try {
    options = parseFixturesArgs(argv);
  } catch (error) {
    if (!(error instanceof SynthOptionsError)) throw error;
    throw new UsageError(error.message, { cause: error });
  }
  const lotDirs = await generateLots(options);
  for (const dir of lotDirs) console.log(dir);
  return 0;
}
