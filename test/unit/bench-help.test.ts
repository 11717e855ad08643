// Every benchmark that reads a command line answers --help with its usage on stdout and exit 0 (the README says so).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const BENCH = join(ROOT, "bench");
const COMMANDS = readdirSync(BENCH)
  .filter((name) => name.endsWith(".ts"))
  .filter((name) => readFileSync(join(BENCH, name), "utf8").includes("process.argv"))
  .sort();

describe("the benchmarks' --help", () => {
  it("finds the benchmarks that read a command line", () => {
    assert.ok(COMMANDS.length >= 8, `only ${COMMANDS.join(", ")}`);
  });

  // Each benchmark in one tsx process (bench-help-harness.ts), not one process each: a tsx start
  // is about 0.6 s of CPU, ten of them most of this file. The harness also lists the modules each
  // --help resolved, so "starting nothing" is checked, not only the usage.
  it("prints each one's usage on stdout and exits 0, loading nothing but lib/cli.ts", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "bench-help-harness.ts"),
        ...COMMANDS.map((name) => join(BENCH, name)),
      ],
      { timeout: 60_000 },
    );
    const answers = JSON.parse(stdout) as Array<{
      file: string;
      exit: number | string;
      stdout: string;
      modules: string[];
    }>;
    assert.deepEqual(
      answers.map(({ file }) => file),
      COMMANDS.map((name) => join(BENCH, name)),
    );
    const cli = pathToFileURL(join(ROOT, "lib/cli.ts")).href;
    for (const { file, exit, stdout: usage, modules } of answers) {
      assert.equal(exit, 0, `${file} --help exit`);
      assert.match(usage, /^Usage: /, `${file} --help printed: ${usage.slice(0, 200)}`);
      assert.deepEqual(
        modules.filter((url) => url !== pathToFileURL(file).href && url !== cli),
        [],
        `${file} --help loaded more than lib/cli.ts`,
      );
    }
  }, 120_000);

  it("answers --help as its own process: usage on stdout, exit 0", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", join(BENCH, "detector.ts"), "--help"],
      { timeout: 60_000 },
    );
    assert.match(stdout, /^Usage: /);
  }, 120_000);
});
