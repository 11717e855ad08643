// What the local stack keeps across a restart (objects, items, executions, messages) and what it cleans up.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, describe, it } from "vitest";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { LocalStackError } from "../../local/errors.ts";
import { startLocalStack } from "../../local/stack.ts";

const TEMPLATE = resolve(import.meta.dirname, "local-fixture/template.yaml");

describe("local stack across restarts", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-restart-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const start = () =>
    startLocalStack({ dataDir, templatePath: TEMPLATE, startEndpoint: false, log: () => {} });
  const executionArn = (stateMachineArn: string, name: string) =>
    `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;

  it("keeps S3 objects, DynamoDB items, executions and messages, and runs new executions", async () => {
    const endpointBefore = process.env.AWS_ENDPOINT_URL_S3;
    const first = await start();
    await assert.rejects(start(), LocalStackError, "one stack per process");
    await createS3Client().send(
      new PutObjectCommand({ Bucket: first.names.bucket, Key: "kept/object.txt", Body: "kept" }),
    );
    await createDocumentClient().send(
      new PutCommand({ TableName: first.names.table, Item: { pk: "KEPT", sk: "ITEM", n: 1 } }),
    );
    await new SFNClient({}).send(
      new StartExecutionCommand({
        stateMachineArn: first.names.stateMachineArn,
        name: "BEFORE-RESTART",
        input: JSON.stringify({ lotId: "BEFORE-RESTART", items: [1] }),
      }),
    );
    assert.equal((await first.waitForExecution("BEFORE-RESTART")).status, "SUCCEEDED");
    await new SFNClient({}).send(
      new StartExecutionCommand({
        stateMachineArn: first.names.stateMachineArn,
        name: "CUT-OFF",
        input: JSON.stringify({ lotId: "CUT-OFF", pauseSeconds: 600, items: [] }),
      }),
    );
    await first.stop();
    assert.equal(process.env.AWS_ENDPOINT_URL_S3, endpointBefore, "process.env is restored");

    const second = await start();
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

      const sfn = new SFNClient({});
      const kept = await sfn.send(
        new DescribeExecutionCommand({
          executionArn: executionArn(second.names.stateMachineArn, "BEFORE-RESTART"),
        }),
      );
      assert.equal(kept.status, "SUCCEEDED");
      assert.ok(JSON.parse(kept.output ?? "{}").messageId);
      // The stop cut CUT-OFF off in its Wait state: the new stack re-drives it from there.
      const cutOffArn = executionArn(second.names.stateMachineArn, "CUT-OFF");
      const resumed = await sfn.send(new DescribeExecutionCommand({ executionArn: cutOffArn }));
      assert.equal(resumed.status, "RUNNING");
      assert.equal(resumed.redriveCount, 1);
      await sfn.send(new StopExecutionCommand({ executionArn: cutOffArn }));
      const cutOff = await second.waitForExecution("CUT-OFF");
      assert.equal(cutOff.status, "ABORTED");
      await assert.rejects(
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: second.names.stateMachineArn,
            name: "BEFORE-RESTART",
            input: JSON.stringify({ lotId: "BEFORE-RESTART", items: [1] }),
          }),
        ),
        ExecutionAlreadyExists,
      );

      // Handlers loaded by the first stack pointed at its ports; these must use the new ones.
      await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: second.names.stateMachineArn,
          name: "AFTER-RESTART",
          input: JSON.stringify({ lotId: "AFTER-RESTART", items: [2] }),
        }),
      );
      const after = await second.waitForExecution("AFTER-RESTART");
      assert.equal(after.status, "SUCCEEDED", after.cause);
      const messages = readFileSync(join(dataDir, "sns", "fixture-reports-local.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { subject: string }).subject);
      assert.deepEqual(messages, ["Lot BEFORE-RESTART", "Lot AFTER-RESTART"]);
    } finally {
      await second.stop();
    }
  });

  it("delivers at the next start an S3 event the stop left undelivered, keeping its attempt count", async () => {
    const lines: string[] = [];
    const startLogged = () =>
      startLocalStack({
        dataDir,
        templatePath: TEMPLATE,
        startEndpoint: false,
        log: (line) => lines.push(line),
      });
    const first = await startLogged();
    // A colon is fine in an S3 key but not in an execution name: the start function fails, and
    // its retry (60 s later) is still pending when the stack stops.
    await createS3Client().send(
      new PutObjectCommand({
        Bucket: first.names.bucket,
        Key: "lots/LATE:ONE/manifest.json",
        Body: "{}",
      }),
    );
    const attemptLogged = (attempt: number) =>
      lines.some(
        (line) =>
          line.includes("lots/LATE:ONE/manifest.json") && line.includes(`attempt ${attempt} of 3`),
      );
    for (let waited = 0; !attemptLogged(1) && waited < 10_000; waited += 50) {
      await new Promise((done) => setTimeout(done, 50));
    }
    assert.ok(attemptLogged(1), lines.join("\n"));
    await first.stop();

    const second = await startLogged();
    try {
      for (let waited = 0; !attemptLogged(2) && waited < 10_000; waited += 50) {
        await new Promise((done) => setTimeout(done, 50));
      }
      assert.ok(
        lines.some((line) => line.includes("delivering again s3://") && line.includes("LATE:ONE")),
      );
      assert.ok(attemptLogged(2), "the retry goes on where it stopped");
    } finally {
      await second.stop();
    }
  });

  it("refuses bad options and a missing template, naming what is wrong", async () => {
    await assert.rejects(
      startLocalStack({ ephemeral: true, templatePath: TEMPLATE, ports: { sns: 70000 } }),
      /ports\.sns must be an integer from 0/,
    );
    await assert.rejects(
      startLocalStack({ ephemeral: true, templatePath: join(dataDir, "missing.yaml") }),
      /cannot read the template .*missing\.yaml/,
    );
  });

  it("refuses a data dir another live process holds, and takes over one a dead process left", async () => {
    const lockedDir = mkdtempSync(join(tmpdir(), "waferflow-locked-"));
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      writeFileSync(join(lockedDir, "stack.lock"), String(holder.pid));
      await assert.rejects(
        startLocalStack({ dataDir: lockedDir, templatePath: TEMPLATE, startEndpoint: false }),
        new RegExp(`in use by another local stack \\(process ${holder.pid}\\)`),
      );
      const exited = new Promise((done) => holder.once("exit", done));
      holder.kill();
      await exited;
      const stack = await startLocalStack({
        dataDir: lockedDir,
        templatePath: TEMPLATE,
        startEndpoint: false,
        log: () => {},
      });
      assert.equal(readFileSync(join(lockedDir, "stack.lock"), "utf8"), String(process.pid));
      await stack.stop();
      assert.equal(existsSync(join(lockedDir, "stack.lock")), false);
    } finally {
      holder.kill();
      rmSync(lockedDir, { recursive: true, force: true });
    }
  });

  it("deletes an ephemeral stack's data dir when it stops", async () => {
    const stack = await startLocalStack({
      ephemeral: true,
      templatePath: TEMPLATE,
      startEndpoint: false,
      log: () => {},
    });
    assert.ok(existsSync(stack.dataDir));
    await stack.stop();
    assert.equal(existsSync(stack.dataDir), false);
  });
});
