// `npm test`: lint, type check and the test runner side by side (tsc, TypeScript 7's Go compiler, takes seconds; biome less), one exit code for all.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules/.bin");
// Node's on-disk compile cache, for every Node process of the run (vitest's workers, the stacks,
// each `waferflow` the tests start): the first process to load a module compiles it for the rest.
// Measured: a `waferflow local --no-such-flag` start takes 1.9 s of CPU cold, 1.1 s warm.
process.env.NODE_COMPILE_CACHE ??= join(ROOT, "node_modules/.cache/waferflow/node-compile-cache");

/**
 * One step as a child process. The test runner streams its output (it is the long one); the others
 * are held back and printed whole when they end, so their lines never interleave with the tests'.
 */
function step(name, command, args, { stream = false } = {}) {
  const started = Date.now();
  return new Promise((resolveStep) => {
    const child = spawn(join(BIN, command), args, {
      cwd: ROOT,
      stdio: stream ? "inherit" : ["ignore", "pipe", "pipe"],
      // A coloured report even when held back: the steps write to our terminal in the end.
      env: stream ? process.env : { ...process.env, FORCE_COLOR: process.stdout.isTTY ? "1" : "0" },
    });
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", (error) => {
      output += `${error.message}\n`;
    });
    child.on("close", (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (output) process.stdout.write(`\n── ${name} ──\n${output}`);
      const ok = code === 0;
      process.stdout.write(
        `${ok ? "✓" : "✗"} ${name} ${ok ? "passed" : `failed (${signal ?? `exit ${code}`})`} in ${seconds} s\n`,
      );
      resolveStep({ name, ok });
    });
  });
}

// Extra arguments (`npm test -- test/unit/foo.test.ts`) go to vitest.
const vitestArgs = ["run", ...process.argv.slice(2)];
const results = await Promise.all([
  step("biome check", "biome", ["check", "."]),
  // Incremental: a second run re-checks only what changed (the cache lives in node_modules/.cache).
  // One thread: TypeScript 7's default four checkers each build their own type caches, 15 s of CPU
  // for this project against 8 s in one thread; tsc runs beside vitest, which wants the cores,
  // and still ends long before it.
  step("tsc --noEmit", "tsc", [
    "--noEmit",
    "--singleThreaded",
    "-p",
    "tsconfig.json",
    "--incremental",
    "--tsBuildInfoFile",
    "node_modules/.cache/waferflow/tsconfig.tsbuildinfo",
  ]),
  step("vitest", "vitest", vitestArgs, { stream: true }),
]);
const failed = results.filter((result) => !result.ok).map((result) => result.name);
if (failed.length > 0) {
  process.stdout.write(`\nnpm test failed: ${failed.join(", ")}\n`);
  process.exitCode = 1;
}
