// The one test runner: unit (no network), integration (embedded stack, real files), e2e (a whole lot).
import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import SlowestFirst from "./test/setup/sequencer.ts";

/**
 * Handlers run in the test's own process write their JSON logs straight to stdout, past vitest's
 * console capture (Powertools' own Console), so a green run would print thousands of lines (a
 * 1000-image lot logs every failed image). Quiet by default; `POWERTOOLS_LOG_LEVEL=INFO npx
 * vitest run <file>` shows them.
 */
const HANDLER_LOGS = { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT" };

/**
 * Integration files that hold no stack in their own process: they start real processes and servers,
 * or use the one shared stack (test/setup/shared-stack.ts, a child process). These share a worker's
 * module cache (isolate: false), which saves a fresh worker per file (about 0.3 s of CPU each). A
 * file that starts a stack in its own process (startLocalStack, the CLI's main()) does not run
 * here: the shared stack's connection, which these files put into process.env, would be under it.
 */
const INTEGRATION_SHARED_WORKER = [
  "awscli-local",
  "built-functions",
  "cli",
  "container",
  "edge-agent-cli",
  "edge-agent-inbox",
  "edge-agent-network",
  "edge-agent-upload",
  "endpoint-bounds",
  "endpoint-cli",
  "endpoint-onnx",
  "endpoint-quality",
  "evaluate",
  "image-integrity",
  "inference-pool",
  "launcher",
  "local-auth",
  "local-cli",
  "local-endpoint",
  "local-lambda",
  "local-lambda-process",
  "local-s3-digests",
  "local-s3-kms",
  "local-sns-structure",
  "lot-awscli",
  "lot-failure",
  "pipeline-parity",
  "pipeline-unusable",
].map((name) => `test/integration/${name}.test.ts`);

/**
 * Integration files that start stacks in their own process, one at a time, and set nothing else in
 * the environment: they share workers of their own (isolate: false), so the stack's modules
 * (aws-local-stepfunctions, dynalite, the handlers' imports, the model server; about 1.5-2 s of CPU)
 * load once per worker, not once per file. Each stack loads its own instance of every handler
 * (local/lambda.ts: one import URL per load, so a handler reads its configuration at load from the
 * stack that loaded it; local-restart checks this across stacks in one process), and a stack puts
 * back process.env as it found it when it stops. All five in one worker in either order: green.
 * endpoint-server stays isolated: it unsets WAFERFLOW_INFERENCE_THREADS for its whole process.
 */
const INTEGRATION_STACK_WORKER = [
  "execution-ended",
  "local-crash",
  "local-faults",
  "local-restart",
  "local-stack",
].map((name) => `test/integration/${name}.test.ts`);

/**
 * Each endpoint inference thread inspects WAFERFLOW_WARMUP_WAFERS seeded wafers before /ping
 * answers 200 (12 by default, about 17 s of CPU for 2 threads; even 1 costs about 3.7 s, as the
 * generator and the detector are compiled). The tests start some 25 endpoints: 0 here. The tests
 * of the warm-up (endpoint-server, inference-pool) ask for wafers explicitly. Set here so stacks
 * started in global setup and in child processes inherit it; an explicit value wins.
 */
process.env.WAFERFLOW_WARMUP_WAFERS ??= "0";

/**
 * One inference thread per endpoint, not one per core: each thread costs about 0.5 s of CPU to
 * start (the detector's modules) and compiles the detector for itself, and the tests'
 * stacks see a few wafers each. The tests of the default (endpoint-server) unset it.
 */
process.env.WAFERFLOW_INFERENCE_THREADS ??= "1";

export default defineConfig({
  test: {
    // Each file gets its own process: handlers read their configuration once, at load, per stack.
    pool: "forks",
    // 1.5 workers per core (3 on 2): most integration and e2e time is spent waiting on child
    // processes, servers and the aws CLI (measured: the two longest files are busy about 40% of
    // their wall time). A number, not "150%": vitest caps a percentage at the core count, so
    // "150%" ran 2 workers on 2 cores, and its default runs one.
    maxWorkers: Math.max(2, Math.ceil(availableParallelism() * 1.5)),
    // The slowest files first, across projects (test/setup/sequencer.ts): the run ends together.
    sequence: { sequencer: SlowestFirst },
    // Handler logs (JSON lines) only for the tests that fail: a green run stays readable.
    silent: "passed-only",
    // `WAFERFLOW_CPU_REPORT=<folder> npm test`: each file's CPU seconds (test/setup/cpu-report.ts).
    setupFiles: process.env.WAFERFLOW_CPU_REPORT ? ["test/setup/cpu-report.ts"] : [],
    coverage: {
      provider: "v8",
      // Sources only: a README, Dockerfile or .onnx model in these folders is not JavaScript.
      include: ["{functions,edge-agent,schemas,lib,endpoint,local}/**/*.ts"],
      reporter: ["text-summary", "json-summary"],
      // `npm run coverage` (every project: unit, integration, e2e) fails under these floors. Each
      // sits just under what the full run measured (2026-11-30), per folder: functions/ 98.0 lines,
      // 96.7 statements, 99.5 functions, 87.2 branches; edge-agent/ 89.9, 87.9, 94.9, 78.9 (its
      // upload paths run in the integration tests' own process); schemas/ 100. Handlers and
      // stacks that run in child processes are not counted.
      thresholds: {
        "functions/**/*.ts": { lines: 97, statements: 96, functions: 99, branches: 86 },
        "edge-agent/**/*.ts": { lines: 88, statements: 86, functions: 93, branches: 77 },
        "schemas/**/*.ts": { lines: 99, statements: 99, functions: 99, branches: 99 },
      },
    },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 60_000,
          // One module cache per worker, not one per file: a fresh worker per unit file cost about
          // 0.3 s of CPU each (50 files), a third of the unit project. What a file stubs is undone
          // when it ends (test/setup/unit-isolation.ts).
          isolate: false,
          setupFiles: ["test/setup/unit-isolation.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: [...INTEGRATION_SHARED_WORKER, ...INTEGRATION_STACK_WORKER],
          env: HANDLER_LOGS,
          globalSetup: ["test/setup/build.ts"],
          // Generous: limits for a hung test, not for a machine that is merely shared.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration-shared",
          include: INTEGRATION_SHARED_WORKER,
          isolate: false,
          env: HANDLER_LOGS,
          // One embedded stack for the files that need none of their own (helpers/shared-stack.ts).
          globalSetup: ["test/setup/build.ts", "test/setup/shared-stack.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration-stacks",
          include: INTEGRATION_STACK_WORKER,
          isolate: false,
          env: HANDLER_LOGS,
          globalSetup: ["test/setup/build.ts"],
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
