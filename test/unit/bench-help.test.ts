// Every benchmark that reads a command line answers --help with its usage on stdout and exit 0 (the README says so).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, it } from "vitest";

const run = promisify(execFile);
const BENCH = resolve(import.meta.dirname, "../../bench");
const COMMANDS = readdirSync(BENCH)
  .filter((name) => name.endsWith(".ts"))
  .filter((name) => readFileSync(join(BENCH, name), "utf8").includes("process.argv"))
  .sort();

describe("the benchmarks' --help", () => {
  it("finds the benchmarks that read a command line", () => {
    assert.ok(COMMANDS.length >= 8, `only ${COMMANDS.join(", ")}`);
  });

  it("prints each one's usage on stdout and exits 0, starting nothing", async () => {
    await Promise.all(
      COMMANDS.map(async (name) => {
        const { stdout } = await run(
          process.execPath,
          ["--import", "tsx", join(BENCH, name), "--help"],
          { timeout: 60_000 },
        ).catch((error: Error) => {
          throw new Error(`${name} --help failed: ${error.message}`);
        });
        assert.match(stdout, /^Usage: /, `${name} --help printed: ${stdout.slice(0, 200)}`);
      }),
    );
  }, 120_000);
});
