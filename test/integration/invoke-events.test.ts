// Every event in events/ replays through `waferflow invoke` against a `waferflow local` seeded by the edge agent with the fixture lot.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, it } from "vitest";
import { REPO_ROOT } from "../../infra/template.ts";
import { lotKeys } from "../../lib/keys.ts";
import { ENDPOINTS_FILE, type EndpointsFile } from "../../local/endpoints-file.ts";
import { LOCAL_CREDENTIALS } from "../../local/stack.ts";
import { EVENTS_DIR, fixtureManifest } from "../../scripts/make-events.ts";
import { type CliRun, inProcess } from "./helpers/cli-in-process.ts";

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
    // The stack runs the built functions too, so seeding the lot goes through what ships.
    local = spawn(
      NODE,
      [
        CLI,
        "local",
        "--data-dir",
        dataDir,
        "--inbox",
        join(dir, "inbox"),
        "--quiet-ms",
        "600000",
        "--console-port",
        "0",
        "--json",
      ],
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

    // Seed the bucket with the fixture lot as the events name it: its images and the very manifest
    // text the events' checksums are of (an agent upload would stamp its own createdAt and host).
    const { manifest, manifestText } = fixtureManifest();
    const s3 = new S3Client({
      endpoint: endpoints.endpoints.s3,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const bucket = endpoints.names.bucket ?? "";
    for (const image of manifest.images) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: image.key,
          Body: readFileSync(join(LOT, image.fileName)),
          ContentType: image.contentType,
        }),
      );
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: lotKeys.manifest(manifest.lotId),
        Body: manifestText,
        ContentType: "application/json",
      }),
    );
    s3.destroy();
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
    // One after the other, in the workflow's order: RecordLot sets the lot PROCESSING again, so
    // PublishReport must come after it, and FailLot last, on a lot that has its final report.
    // In this process through main(): a `waferflow` start is 1-2 s of CPU, and the wiring from
    // bin/waferflow.js to the command's exit code and stderr is proven by the real start below.
    const runs: Array<{ file: string; logicalId: string; run: CliRun }> = [];
    for (const [file, logicalId] of Object.entries(EVENT_FUNCTIONS)) {
      const run = await inProcess([
        "invoke",
        logicalId,
        "-e",
        join(EVENTS_DIR, file),
        "--data-dir",
        dataDir,
      ]);
      runs.push({ file, logicalId, run });
    }
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
    assert.equal((results["record-lot.json"] as { imageCount: number }).imageCount, 6);
    assert.equal((results["publish-report.json"] as { status: string }).status, "defects_found");
    // The lot already has its final report: ending it again says nothing twice.
    assert.equal((results["fail-lot.json"] as { status: string }).status, "already_final");
  });

  // A real `waferflow` process: what the in-process runs above stand for reaches a shell this way.
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

  // In-process through main() (a Node start each is 1-2 s of CPU); cli.test.ts checks real starts.
  it("exits 2 on usage errors and 0 for --help", async () => {
    const help = await inProcess(["invoke", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: waferflow invoke <LogicalId> -e <event.json>/);
    const noEvent = await inProcess(["invoke", "StartLotFunction"]);
    assert.equal(noEvent.code, 2);
    assert.match(noEvent.stderr, /-e <event.json>/);
    const unknown = await inProcess([
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
      const run = await inProcess([
        "invoke",
        "FailLotFunction",
        "-e",
        join(EVENTS_DIR, "fail-lot.json"),
        "--data-dir",
        join(dir, "nobody-runs-here"),
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /no running stack holds .*starting one on a temporary dir/);
      // An empty stack: no manifest to name the images, yet the lot is ended and said so.
      assert.equal((JSON.parse(run.stdout) as { status: string }).status, "failed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
