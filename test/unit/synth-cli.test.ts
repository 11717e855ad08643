// `waferflow fixtures`: flag parsing, errors that name the bad flag, and a small real run.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished, test, vi } from "vitest";
import { UsageError } from "../../lib/cli.ts";
import { parseFixturesArgs, runFixturesCommand } from "../../synth/cli.ts";
import { SynthOptionsError } from "../../synth/errors.ts";

const REQUIRED = ["--out", "/tmp/x", "--lots", "2", "--wafers", "3", "--seed", "7"];

test("flags become lot options", () => {
  assert.deepEqual(
    parseFixturesArgs([
      ...REQUIRED,
      "--sizes",
      "1024,2048",
      "--bit-depth",
      "16",
      "--format",
      "tiff",
      "--clean-fraction",
      "0.5",
    ]),
    {
      outDir: "/tmp/x",
      lots: 2,
      wafers: 3,
      seed: 7,
      writeLotJson: true,
      sizes: [1024, 2048],
      bitDepth: 16,
      format: "tiff",
      cleanFraction: 0.5,
    },
  );
  assert.equal(parseFixturesArgs([...REQUIRED, "--size", "512"]).size, 512);
  assert.equal(parseFixturesArgs([...REQUIRED, "--no-lot-json"]).writeLotJson, false);
  assert.equal(parseFixturesArgs([...REQUIRED, "--colour"]).colour, true);
});

test("each bad flag is refused with its name in the message", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--lots", "2", "--wafers", "3", "--seed", "7"], /--out/],
    [[...REQUIRED.slice(0, 2), "--wafers", "3", "--seed", "7"], /--lots/],
    [[...REQUIRED.slice(0, 6), "--seed", "-1"], /--seed/],
    [[...REQUIRED.slice(0, 4), "--wafers", "2.5", "--seed", "7"], /--wafers/],
    [[...REQUIRED, "--size", "100"], /--size/],
    [[...REQUIRED, "--sizes", "1024,abc"], /--sizes/],
    [[...REQUIRED, "--size", "1024", "--sizes", "1024"], /--size.*--sizes|--sizes/],
    [[...REQUIRED, "--bit-depth", "12"], /--bit-depth/],
    [[...REQUIRED, "--format", "jpeg"], /--format/],
    [[...REQUIRED, "--clean-fraction", "1.5"], /--clean-fraction/],
    [[...REQUIRED, "--tint", "red"], /tint/],
    [[...REQUIRED, "stray"], /stray/],
  ];
  for (const [argv, pattern] of cases) {
    assert.throws(
      () => parseFixturesArgs(argv),
      (error) => error instanceof SynthOptionsError && pattern.test(error.message),
      `argv ${argv.join(" ")}`,
    );
  }
});

test("runFixturesCommand writes the lots, prints their folders and returns 0; bad flags are a usage error", async () => {
  const outDir = await mkdtemp(join(tmpdir(), "synth-cli-"));
  const printed: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((line: string) => printed.push(line));
  const error = vi.spyOn(console, "error").mockImplementation(() => {});
  onTestFinished(() => {
    log.mockRestore();
    error.mockRestore();
  });
  try {
    const code = await runFixturesCommand([
      "--out",
      outDir,
      "--lots",
      "2",
      "--wafers",
      "1",
      "--seed",
      "3",
      "--size",
      "512",
    ]);
    assert.equal(code, 0);
    assert.deepEqual(printed, [join(outDir, "SYN-3-1"), join(outDir, "SYN-3-2")]);
    const files = await readdir(join(outDir, "SYN-3-2"));
    assert.ok(files.includes("truth.json") && files.includes("lot.json"));
    // A usage error: cli/main.ts turns it into exit status 2 with one stderr line.
    await assert.rejects(
      runFixturesCommand(["--out", outDir, "--lots", "0", "--wafers", "1", "--seed", "3"]),
      UsageError,
    );
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

test("an output folder the kernel refuses is a named error, not an endless spin", async () => {
  const run = runFixturesCommand([
    "--out",
    "/proc/waferflow-cannot-be-here",
    "--lots",
    "1",
    "--wafers",
    "1",
    "--seed",
    "1",
    "--size",
    "512",
  ]);
  await assert.rejects(run, { name: "SynthOutputError", message: /ENOENT/ });
});
