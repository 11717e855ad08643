// Every event in events/ replays through `waferflow invoke` against a `waferflow local` seeded by the edge agent with the fixture lot.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "vitest";
import { REPO_ROOT } from "../../infra/template.ts";
import { ENDPOINTS_FILE, type EndpointsFile } from "../../local/endpoints-file.ts";
import { EVENTS_DIR } from "../../scripts/make-events.ts";

const runFile = promisify(execFile);
const NODE = resolve(REPO_ROOT, "node_modules/.bin/node");
const CLI = resolve(REPO_ROOT, "bin/waferflow.js");
const LOT = resolve(REPO_ROOT, "test/fixtures/lot-e2e");

/** Which function each event is for; an event file missing here fails the test. */
const EVENT_FUNCTIONS: Record<string, string> = {
  "manifest-created.json": "StartLotFunction",
  "record-lot.json": "RecordLotFunction",
  "preprocess-image.json": "PreprocessImageFunction",
  "detect-defects.json": "DetectDefectsFunction",
  "publish-report.json": "PublishReportFunction",
  "fail-lot.json": "FailLotFunction",
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function waferflow(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  try {
    const { stdout, stderr } = await runFile(NODE, [CLI, ...args], {
      cwd: REPO_ROOT,
      env,
      maxBuffer: 32 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 250));
  }
}

describe("waferflow invoke: every event in events/ against a seeded local stack", () => {
  let dir: string;
  let local: ChildProcess;
  let stdout = "";
  let stderr = "";
  let endpoints: EndpointsFile;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "waferflow-invoke-"));
    const dataDir = join(dir, "data");
    // The stack runs the built functions too, so the agent's upload goes through what ships.
    local = spawn(
      NODE,
      [CLI, "local", "--data-dir", dataDir, "--inbox", join(dir, "inbox"), "--quiet-ms", "600000"],
      { cwd: REPO_ROOT, env: { ...process.env, WAFERFLOW_FUNCTIONS: "built" } },
    );
    local.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    local.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const file = join(dataDir, ENDPOINTS_FILE);
    endpoints = await until("waferflow local's endpoints.json", 120_000, () => {
      if (local.exitCode !== null) throw new Error(`waferflow local exited: ${stderr}`);
      return existsSync(file)
        ? (JSON.parse(readFileSync(file, "utf8")) as EndpointsFile)
        : undefined;
    });

    // Seed the bucket with the fixture lot exactly as a site would: the edge agent, through S3.
    const agentEnv = {
      PATH: process.env.PATH,
      ...endpoints.Parameters,
      WAFERFLOW_BUCKET: endpoints.names.bucket ?? "",
      WAFERFLOW_STATE_DIR: join(dir, "agent"),
    };
    const upload = await waferflow(["agent", "upload", LOT], agentEnv);
    assert.equal(upload.code, 0, `agent upload: ${upload.stderr}`);
    // The upload triggers the pipeline; its report means every object the events name exists.
    await until("the fixture lot's report", 240_000, () => {
      if (local.exitCode !== null) throw new Error(`waferflow local exited: ${stderr}`);
      return stdout.includes('"lotId":"E2E-FIX-1"') ? true : undefined;
    });
  });

  afterAll(async () => {
    if (local && local.exitCode === null) {
      const exited = new Promise((done) => local.once("exit", done));
      local.kill("SIGTERM");
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("knows which function each event file is for", () => {
    const files = readdirSync(EVENTS_DIR).filter(
      (name) => name.endsWith(".json") && name !== "env.json",
    );
    assert.deepEqual(files.sort(), Object.keys(EVENT_FUNCTIONS).sort());
  });

  it("replays every event successfully through the built functions", async () => {
    const dataDir = endpoints.dataDir;
    // Independent of each other (every object they name exists): run side by side to keep CI short.
    const runs = await Promise.all(
      Object.entries(EVENT_FUNCTIONS).map(async ([file, logicalId]) => {
        const run = await waferflow([
          "invoke",
          logicalId,
          "-e",
          join(EVENTS_DIR, file),
          "--data-dir",
          dataDir,
        ]);
        return { file, logicalId, run };
      }),
    );
    const results: Record<string, unknown> = {};
    for (const { file, logicalId, run } of runs) {
      assert.equal(run.code, 0, `${logicalId} with events/${file}: ${run.stderr}`);
      assert.match(run.stderr, /using the local stack of process/, "the running stack was used");
      results[file] = JSON.parse(run.stdout) as unknown;
    }
    // The lot was started by the upload: the replayed manifest event is recognised, not ignored.
    assert.deepEqual(results["manifest-created.json"], {
      outcome: "already_started",
      lotId: "E2E-FIX-1",
    });
    assert.deepEqual(results["record-lot.json"], { lotId: "E2E-FIX-1", images: 6 });
    assert.equal((results["publish-report.json"] as { status: string }).status, "defects_found");
    assert.equal((results["fail-lot.json"] as { status: string }).status, "failed");
  });

  it("exits 1 with the function's errorType on stderr when the function fails", async () => {
    const bad = join(dir, "bad-event.json");
    writeFileSync(bad, JSON.stringify({ lotId: "E2E-FIX-1" }));
    const run = await waferflow([
      "invoke",
      "RecordLotFunction",
      "-e",
      bad,
      "--data-dir",
      endpoints.dataDir,
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^InvalidInputError: invalid RecordLot input/m);
    assert.equal(run.stdout, "");
  });

  it("exits 2 on usage errors and 0 for --help", async () => {
    const help = await waferflow(["invoke", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: waferflow invoke <LogicalId> -e <event.json>/);
    const noEvent = await waferflow(["invoke", "StartLotFunction"]);
    assert.equal(noEvent.code, 2);
    assert.match(noEvent.stderr, /-e <event.json>/);
    const unknown = await waferflow([
      "invoke",
      "NoSuchFunction",
      "-e",
      join(EVENTS_DIR, "record-lot.json"),
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no function 'NoSuchFunction'.*StartLotFunction/);
  });
});

describe("waferflow invoke without a running stack", () => {
  it("starts a stack of its own for the one invocation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "waferflow-invoke-own-"));
    try {
      const run = await waferflow([
        "invoke",
        "RecordLotFunction",
        "-e",
        join(EVENTS_DIR, "record-lot.json"),
        "--data-dir",
        join(dir, "nobody-runs-here"),
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /no running stack holds .*starting one on a temporary dir/);
      assert.deepEqual(JSON.parse(run.stdout), { lotId: "E2E-FIX-1", images: 6 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
