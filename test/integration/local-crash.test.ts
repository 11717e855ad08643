// SIGKILL of the stack's process mid-Map, then a restart on the same data dir: the lot ends with exactly one report.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, it } from "vitest";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { startLocalStack } from "../../local/stack.ts";
import { fixtureLot, lotItem, published, storedReport, topicName } from "./helpers/fixture-lot.ts";

const CHILD = resolve(import.meta.dirname, "helpers/local-stack-child.ts");
const NODE = resolve(import.meta.dirname, "../../node_modules/.bin/node");

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

describe("a stack killed with SIGKILL in the middle of a lot", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-crash-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("resumes the lot when it starts again and publishes exactly one report", async () => {
    const lotId = "CRASH-LOT-1";
    let stdout = "";
    let stderr = "";
    child = spawn(NODE, [CHILD, dataDir, fixtureLot(lotId, 3)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const executionFile = join(dataDir, "sfn", "executions", `waferflow-lot-local~${lotId}.json`);
    // Under way: the agent is done (it prints "uploaded" only after its journal is saved, an fsync
    // a loaded disk may make slower than the stack's way to the endpoint in the same process), the
    // Map state was entered (saved as it happened) and DetectDefects is waiting on the endpoint,
    // which never answers in the child.
    await until(
      "the upload to end and the Map to be under way",
      () =>
        stdout.includes("uploaded") &&
        existsSync(executionFile) &&
        readFileSync(executionFile, "utf8").includes("MapStateEntered") &&
        stderr.includes("endpoint called"),
      120_000,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}\nchild stdout: ${stdout}\nchild stderr: ${stderr.slice(-3000)}`,
      );
    });
    const exited = new Promise((done) => child?.once("exit", done));
    child.kill("SIGKILL");
    await exited;
    const cutOff = JSON.parse(readFileSync(executionFile, "utf8")) as { status: string };
    assert.equal(cutOff.status, "RUNNING", "the kill left the execution running on disk");
    const reportTopic = (arn: string) => topicName(arn);

    const stack = await startLocalStack({ dataDir, retryIntervalMs: 50, log: () => {} });
    try {
      const outcome = await stack.waitForExecution(lotId, 180_000);
      assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
      const reports = published(dataDir, reportTopic(stack.names.reportTopicArn)).filter(
        (message) => message.attributes.lotId === lotId,
      );
      assert.equal(reports.length, 1, "exactly one report on SNS");
      const report = JSON.parse(reports[0]?.message ?? "{}") as {
        status: string;
        counts: { images: number; failed: number };
      };
      assert.equal(report.counts.images, 3);
      assert.equal(report.counts.failed, 0);
      const stored = await storedReport(createS3Client(), stack.names.bucket, lotId);
      assert.equal(stored.status, report.status);
      const item = await lotItem(createDocumentClient(), stack.names.table, lotId);
      assert.notEqual(item?.status, "PROCESSING");
      assert.equal(item?.status, report.status.toUpperCase());
    } finally {
      await stack.stop();
    }
  });
});
