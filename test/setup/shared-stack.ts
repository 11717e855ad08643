// vitest globalSetup: one embedded stack for every integration file that needs no stack of its own (no faults, no restarts, no special options); tests reach it through inject("sharedStack").
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";
import type { LocalStack } from "../../local/stack.ts";

/** What a test file gets: plain data, since the stack lives in another process. */
export interface SharedStackConnection {
  env: LocalStack["env"];
  endpoints: LocalStack["endpoints"];
  names: LocalStack["names"];
  dataDir: string;
  /** The stack's log, one line per entry. */
  logFile: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    sharedStack: SharedStackConnection;
  }
}

const ROOT = resolve(import.meta.dirname, "../..");
const NODE = join(ROOT, "node_modules/.bin/node");
const CHILD = join(ROOT, "test/setup/shared-stack-child.ts");
/** Node's stripped text remembered between starts, as `waferflow` does (lib/strip-types-cache.mjs). */
const STRIP_TYPES_CACHE = join(ROOT, "lib/strip-types-cache.mjs");
const START_TIMEOUT_MS = 180_000;

function started(child: ChildProcess): Promise<SharedStackConnection> {
  return new Promise((resolveStart, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      reject(new Error(`the shared stack did not start within ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line) {
        clearTimeout(timer);
        resolveStart(JSON.parse(line) as SharedStackConnection);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`the shared stack exited (${signal ?? code}) before it started:\n${stderr}`),
      );
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const work = mkdtempSync(join(tmpdir(), "waferflow-shared-stack-"));
  const child = spawn(
    NODE,
    // Node's own type stripping, not tsx's loader (tsconfig.json's erasableSyntaxOnly).
    ["--import", STRIP_TYPES_CACHE, CHILD, join(work, "data"), join(work, "stack.log")],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  try {
    project.provide("sharedStack", await started(child));
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(work, { recursive: true, force: true });
  };
}
