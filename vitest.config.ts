// The one test runner: unit (no network), integration (embedded stack, real files), e2e (a whole lot).
import { defineConfig } from "vitest/config";
import SlowestFirst from "./test/setup/sequencer.ts";

/**
 * Handlers run in the test's own process write their JSON logs straight to stdout, past vitest's
 * console capture (Powertools' own Console), so a green run would print thousands of lines (a
 * 1000-image lot logs every failed image). Quiet by default; `POWERTOOLS_LOG_LEVEL=INFO npx
 * vitest run <file>` shows them.
 */
const HANDLER_LOGS = { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT" };

export default defineConfig({
  test: {
    // Each file gets its own process: handlers read their configuration once, at load, per stack.
    pool: "forks",
    // vitest's default on 2 cores is one worker, so every file waited for the one before; most
    // integration and e2e time is spent waiting on child processes, servers and the aws CLI.
    maxWorkers: "150%",
    // The slowest files first, across projects (test/setup/sequencer.ts): the run ends together.
    sequence: { sequencer: SlowestFirst },
    // Handler logs (JSON lines) only for the tests that fail: a green run stays readable.
    silent: "passed-only",
    coverage: {
      provider: "v8",
      // Sources only: a README, Dockerfile or .onnx model in these folders is not JavaScript.
      include: ["{functions,edge-agent,schemas,lib,endpoint,local}/**/*.ts"],
      reporter: ["text-summary", "json-summary"],
      // `npm run coverage` fails under these floors. Each sits just under what the unit project
      // alone measured (npx vitest run --project unit --coverage, 2026-11-30), per folder:
      // functions/ 96.4 lines, 95.2 statements, 98.0 functions, 83.8 branches; edge-agent/ 31.5,
      // 30.9, 29.6, 28.8 (its upload paths are tested against the embedded stack); schemas/ 100.
      thresholds: {
        "functions/**/*.ts": { lines: 96, statements: 95, functions: 97, branches: 83 },
        "edge-agent/**/*.ts": { lines: 31, statements: 30, functions: 29, branches: 28 },
        "schemas/**/*.ts": { lines: 99, statements: 99, functions: 99, branches: 99 },
      },
    },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          env: HANDLER_LOGS,
          // One embedded stack for the files that need none of their own (helpers/shared-stack.ts).
          globalSetup: ["test/setup/build.ts", "test/setup/shared-stack.ts"],
          // Generous: limits for a hung test, not for a machine that is merely shared.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          env: HANDLER_LOGS,
          globalSetup: ["test/setup/build.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
