// What the local stack keeps across a restart (objects, items, executions, messages) and what it cleans up.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, it } from "vitest";
import { uploadLot } from "../../edge-agent/upload.ts";
import { createAgentS3Client, createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { LocalStackError } from "../../local/errors.ts";
import { startLocalStack } from "../../local/stack.ts";
import { fixtureLot, published, topicName } from "./helpers/fixture-lot.ts";

/**
 * How long a wait for something the stack does in the background (an execution reaching a state,
 * an event's retry) may take: far more than a quiet machine needs, so that a loaded 2-core CI
 * machine never fails it; a hang still fails well within testTimeout.
 */
const BACKGROUND_WAIT_MS = 120_000;

describe("local stack across restarts", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-restart-"));
  /** A SageMaker runtime that takes every request and never answers: a lot's execution stays RUNNING. */
  const silentEndpoint = createServer(() => {});
  let sagemakerUrl = "";
  beforeAll(async () => {
    await new Promise<void>((listening) => silentEndpoint.listen(0, "127.0.0.1", listening));
    sagemakerUrl = `http://127.0.0.1:${(silentEndpoint.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    silentEndpoint.closeAllConnections();
    silentEndpoint.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = (log: (line: string) => void = () => {}) =>
    startLocalStack({ dataDir, sagemakerUrl, log });
  const executionArn = (stateMachineArn: string, name: string) =>
    `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
  /** A lot whose manifest was never uploaded: RecordLot fails, the Catch runs FailLot, which reports. */
  const startLotWithoutManifest = (stateMachineArn: string, lotId: string) =>
    new SFNClient({}).send(
      new StartExecutionCommand({
        stateMachineArn,
        name: lotId,
        input: JSON.stringify({ lotId, manifestKey: `lots/${lotId}/accepted-manifest.json` }),
      }),
    );

  it("keeps S3 objects, DynamoDB items, executions and messages, resumes a cut-off execution and runs new ones", async () => {
    const endpointBefore = process.env.AWS_ENDPOINT_URL_S3;
    const first = await start();
    await assert.rejects(start(), LocalStackError, "one stack per process");
    await createS3Client().send(
      new PutObjectCommand({ Bucket: first.names.bucket, Key: "kept/object.txt", Body: "kept" }),
    );
    await createDocumentClient().send(
      new PutCommand({ TableName: first.names.table, Item: { pk: "KEPT", sk: "ITEM", n: 1 } }),
    );
    await startLotWithoutManifest(first.names.stateMachineArn, "BEFORE-RESTART");
    assert.equal((await first.waitForExecution("BEFORE-RESTART")).status, "FAILED");
    // StartLot starts CUT-OFF's execution; DetectDefects then waits on the silent endpoint.
    await uploadLot({
      dir: fixtureLot("CUT-OFF", 1),
      s3: createAgentS3Client(),
      bucket: first.names.bucket,
      stateDir: join(dataDir, "agent"),
    });
    const sfn = new SFNClient({});
    const cutOffArn = executionArn(first.names.stateMachineArn, "CUT-OFF");
    let entered: string[] = [];
    for (
      let waited = 0;
      !entered.includes("InspectImages") && waited < BACKGROUND_WAIT_MS;
      waited += 100
    ) {
      const history = await sfn
        .send(new GetExecutionHistoryCommand({ executionArn: cutOffArn, maxResults: 1000 }))
        .catch(() => ({ events: [] }));
      entered = (history.events ?? []).map((event) => event.stateEnteredEventDetails?.name ?? "");
      await new Promise((done) => setTimeout(done, 100));
    }
    assert.ok(entered.includes("InspectImages"), "CUT-OFF is inspecting its images");
    await first.stop();
    assert.equal(process.env.AWS_ENDPOINT_URL_S3, endpointBefore, "process.env is restored");
    assert.equal(existsSync(join(dataDir, "stack.lock")), false, "the stop released the data dir");

    // The next start finds the lock a process that died left behind (a pid that ran and is gone):
    // it takes the data dir over.
    const dead = spawn("true", { stdio: "ignore" });
    await new Promise((exited) => dead.once("exit", exited));
    writeFileSync(join(dataDir, "stack.lock"), String(dead.pid));
    const second = await start();
    assert.equal(JSON.parse(readFileSync(join(dataDir, "stack.lock"), "utf8")).pid, process.pid);
    try {
      assert.notEqual(second.endpoints.s3, first.endpoints.s3);
      const object = await createS3Client().send(
        new GetObjectCommand({ Bucket: second.names.bucket, Key: "kept/object.txt" }),
      );
      assert.equal(await object.Body?.transformToString(), "kept");
      const item = await createDocumentClient().send(
        new GetCommand({ TableName: second.names.table, Key: { pk: "KEPT", sk: "ITEM" } }),
      );
      assert.equal(item.Item?.n, 1);

      const sfnAgain = new SFNClient({});
      const kept = await sfnAgain.send(
        new DescribeExecutionCommand({
          executionArn: executionArn(second.names.stateMachineArn, "BEFORE-RESTART"),
        }),
      );
      assert.equal(kept.status, "FAILED");
      assert.equal(kept.error, "LotFailed");
      // The stop cut CUT-OFF off while it inspected its images: the new stack re-drives it from there.
      const resumed = await sfnAgain.send(
        new DescribeExecutionCommand({ executionArn: cutOffArn }),
      );
      assert.equal(resumed.status, "RUNNING");
      assert.equal(resumed.redriveCount, 1);
      await sfnAgain.send(new StopExecutionCommand({ executionArn: cutOffArn }));
      const cutOff = await second.waitForExecution("CUT-OFF");
      assert.equal(cutOff.status, "ABORTED");
      await assert.rejects(
        startLotWithoutManifest(second.names.stateMachineArn, "BEFORE-RESTART"),
        ExecutionAlreadyExists,
      );

      // Handlers loaded by the first stack pointed at its ports; these must use the new ones.
      await startLotWithoutManifest(second.names.stateMachineArn, "AFTER-RESTART");
      const after = await second.waitForExecution("AFTER-RESTART");
      assert.equal(after.status, "FAILED");
      assert.equal(after.error, "LotFailed");
      const reported = published(dataDir, topicName(second.names.reportTopicArn)).map(
        (message) => message.attributes.lotId,
      );
      assert.deepEqual(
        reported.filter((lotId) => lotId !== "CUT-OFF"),
        ["BEFORE-RESTART", "AFTER-RESTART"],
      );
    } finally {
      await second.stop();
    }
  });

  it("delivers at the next start an event the stop left undelivered, keeping its attempt count", async () => {
    const lines: string[] = [];
    const attemptLogged = (attempt: number) =>
      lines.some(
        (line) =>
          line.includes("execution _LATE FAILED") && line.includes(`attempt ${attempt} of 3`),
      );
    const waitFor = async (done: () => boolean) => {
      for (let waited = 0; !done() && waited < BACKGROUND_WAIT_MS; waited += 50) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 50));
      }
    };
    const first = await start((line) => lines.push(line));
    // No lot at all: the execution fails at once, and ExecutionEnded cannot tell which lot it
    // was; its retry (60 s later) is still pending when the stack stops.
    await new SFNClient({}).send(
      new StartExecutionCommand({ stateMachineArn: first.names.stateMachineArn, name: "_LATE" }),
    );
    await waitFor(() => attemptLogged(1));
    assert.ok(attemptLogged(1), lines.join("\n"));
    await first.stop();

    const second = await start((line) => lines.push(line));
    try {
      await waitFor(() => attemptLogged(2));
      assert.ok(lines.some((line) => line.includes("delivering again execution _LATE FAILED")));
      assert.ok(attemptLogged(2), "the retry goes on where it stopped");
    } finally {
      await second.stop();
    }
  });

  it("refuses bad options and a missing template, naming what is wrong", async () => {
    await assert.rejects(
      startLocalStack({ ephemeral: true, ports: { sns: 70000 } }),
      /ports\.sns must be an integer from 0/,
    );
    await assert.rejects(
      startLocalStack({ ephemeral: true, templatePath: join(dataDir, "missing.yaml") }),
      /cannot read the template .*missing\.yaml/,
    );
  });

  // Taking over a lock a dead process left is the first test's second start.
  it("refuses a data dir another live process holds", async () => {
    const lockedDir = mkdtempSync(join(tmpdir(), "waferflow-locked-"));
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      writeFileSync(join(lockedDir, "stack.lock"), String(holder.pid));
      await assert.rejects(
        startLocalStack({ dataDir: lockedDir, startEndpoint: false }),
        new RegExp(`in use by another local stack \\(process ${holder.pid}\\)`),
      );
      assert.equal(readFileSync(join(lockedDir, "stack.lock"), "utf8"), String(holder.pid));
    } finally {
      holder.kill();
      rmSync(lockedDir, { recursive: true, force: true });
    }
  });
});
