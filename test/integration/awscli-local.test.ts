// The Debian aws CLI, an independent client, against every local service: the wire protocols, not just our SDK use.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { LocalStack } from "../../local/stack.ts";
import { type AwsCli, assertAwsCliInstalled, awsCli } from "./helpers/awscli.ts";
import { sharedStack, sharedStackLog } from "./helpers/shared-stack.ts";

describe("local stack through the aws CLI", () => {
  let stack: LocalStack;
  let workDir: string;

  /** Runs the CLI with only the stack's credentials: no user profile or config can leak in. */
  let aws: AwsCli;

  // The shared stack: every name below (keys, items, executions) is this file's own. The commands
  // run in one resident interpreter (helpers/awscli.ts); the refused duplicate execution is a real
  // `aws` process, whose exit status and stderr are checked. Objects and items go in one command
  // where the CLI has one.
  beforeAll(() => {
    assertAwsCliInstalled();
    workDir = mkdtempSync(join(tmpdir(), "waferflow-awscli-local-"));
    stack = sharedStack();
    aws = awsCli(stack);
  });

  afterAll(async () => {
    await aws?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("puts and gets an object byte for byte", async () => {
    const source = join(workDir, "bytes.bin");
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    writeFileSync(source, bytes);
    await aws(
      "s3api",
      stack.endpoints.s3,
      "put-object",
      "--bucket",
      stack.names.bucket,
      "--key",
      "cli/bytes.bin",
      "--body",
      source,
    );
    const target = join(workDir, "bytes.out");
    await aws(
      "s3api",
      stack.endpoints.s3,
      "get-object",
      "--bucket",
      stack.names.bucket,
      "--key",
      "cli/bytes.bin",
      target,
    );
    assert.deepEqual(readFileSync(target), bytes);
  });

  it("pages through a listing one key per request, following continuation tokens", async () => {
    // Three PutObjects from one `aws s3 cp --recursive`.
    const folder = join(workDir, "paging");
    mkdirSync(folder);
    for (const name of ["p1", "p2", "p3"]) writeFileSync(join(folder, name), name);
    await aws(
      "s3",
      stack.endpoints.s3,
      "cp",
      "--recursive",
      "--only-show-errors",
      folder,
      `s3://${stack.names.bucket}/cli-paging/`,
    );
    const everything = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      "cli-paging/",
      "--page-size",
      "1",
    )) as { Contents: Array<{ Key: string }> };
    assert.deepEqual(
      everything.Contents.map((object) => object.Key),
      ["cli-paging/p1", "cli-paging/p2", "cli-paging/p3"],
    );
    const first = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      "cli-paging/",
      "--max-items",
      "1",
      "--page-size",
      "1",
    )) as { Contents: Array<{ Key: string }>; NextToken: string };
    assert.deepEqual(
      first.Contents.map((object) => object.Key),
      ["cli-paging/p1"],
    );
    const second = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      "cli-paging/",
      "--max-items",
      "1",
      "--page-size",
      "1",
      "--starting-token",
      first.NextToken,
    )) as { Contents: Array<{ Key: string }> };
    assert.deepEqual(
      second.Contents.map((object) => object.Key),
      ["cli-paging/p2"],
    );
  });

  it("triggers StartLot when 'aws s3 cp' uploads a manifest in parts", async () => {
    const alerts: string[] = [];
    // The stack is shared: only this lot's alerts count.
    const unsubscribe = stack.onMessage("alerts", (message) => {
      if ((JSON.parse(message.message) as { lotId?: string }).lotId === "CLI-MULTIPART") {
        alerts.push(message.message);
      }
    });
    const manifest = join(workDir, "manifest.json");
    // Over the CLI's 8 MiB multipart threshold, so the object is completed from parts.
    writeFileSync(manifest, Buffer.alloc(9 * 1024 * 1024, 0x20));
    await aws(
      "s3",
      stack.endpoints.s3,
      "cp",
      "--only-show-errors",
      manifest,
      `s3://${stack.names.bucket}/lots/CLI-MULTIPART/manifest.json`,
    );
    // Nine MiB of spaces is no manifest: StartLot quarantines it and alerts. Up to two minutes: the
    // shared stack runs other files' lots at the same time, and a loaded machine slows them all.
    for (let waited = 0; alerts.length === 0 && waited < 120_000; waited += 50) {
      await new Promise((done) => setTimeout(done, 50));
    }
    unsubscribe();
    const alert = JSON.parse(alerts[0] ?? "{}") as { kind?: string; lotId?: string };
    assert.equal(alert.kind, "manifest_quarantined");
    assert.equal(alert.lotId, "CLI-MULTIPART");
    assert.ok(
      sharedStackLog().some((line) =>
        line.endsWith(
          `matched s3://${stack.names.bucket}/lots/CLI-MULTIPART/manifest.json (CompleteMultipartUpload) -> StartLotFunction`,
        ),
      ),
    );
  });

  it("puts, gets and queries DynamoDB items", async () => {
    // Three PutRequests in one BatchWriteItem.
    const item = (sk: string) => ({
      PutRequest: { Item: { pk: { S: "LOT#AWSCLI-ITEMS" }, sk: { S: sk }, status: { S: "CLI" } } },
    });
    const written = (await aws(
      "dynamodb",
      stack.endpoints.dynamodb,
      "batch-write-item",
      "--request-items",
      JSON.stringify({ [stack.names.table]: ["IMAGE#1", "IMAGE#2", "META"].map(item) }),
    )) as { UnprocessedItems: Record<string, unknown> };
    assert.deepEqual(written.UnprocessedItems, {});
    const got = (await aws(
      "dynamodb",
      stack.endpoints.dynamodb,
      "get-item",
      "--table-name",
      stack.names.table,
      "--key",
      JSON.stringify({ pk: { S: "LOT#AWSCLI-ITEMS" }, sk: { S: "META" } }),
    )) as { Item: { status: { S: string } } };
    assert.equal(got.Item.status.S, "CLI");
    const images = (await aws(
      "dynamodb",
      stack.endpoints.dynamodb,
      "query",
      "--table-name",
      stack.names.table,
      "--key-condition-expression",
      "pk = :pk AND begins_with(sk, :image)",
      "--expression-attribute-values",
      JSON.stringify({ ":pk": { S: "LOT#AWSCLI-ITEMS" }, ":image": { S: "IMAGE#" } }),
    )) as { Count: number };
    assert.equal(images.Count, 2);
  });

  it("publishes to SNS with a subject and attributes, delivered to onMessage", async () => {
    const received: Array<{
      subject?: string;
      message: string;
      attributes: Record<string, string>;
    }> = [];
    // The stack is shared: only this file's message counts.
    const unsubscribe = stack.onMessage("reports", (message) => {
      if (message.attributes.lotId === "AWSCLI-SNS") received.push(message);
    });
    const published = (await aws(
      "sns",
      stack.endpoints.sns,
      "publish",
      "--topic-arn",
      stack.names.reportTopicArn,
      "--subject",
      "Lot AWSCLI-SNS report",
      "--message",
      '{"lotId":"AWSCLI-SNS"}',
      "--message-attributes",
      JSON.stringify({ lotId: { DataType: "String", StringValue: "AWSCLI-SNS" } }),
    )) as { MessageId: string };
    unsubscribe();
    assert.ok(published.MessageId);
    assert.deepEqual(received, [
      {
        subject: "Lot AWSCLI-SNS report",
        message: '{"lotId":"AWSCLI-SNS"}',
        attributes: { lotId: "AWSCLI-SNS" },
      },
    ]);
    const topics = (await aws("sns", stack.endpoints.sns, "list-topics")) as {
      Topics: Array<{ TopicArn: string }>;
    };
    assert.ok(topics.Topics.some((topic) => topic.TopicArn === stack.names.alertTopicArn));
  });

  it("starts, describes and lists executions, and refuses a duplicate name", async () => {
    // Its manifest was never uploaded: RecordLot fails and the Catch ends the lot FAILED.
    const input = JSON.stringify({
      lotId: "AWSCLI-EXEC",
      manifestKey: "lots/AWSCLI-EXEC/accepted-manifest.json",
    });
    const started = (await aws(
      "stepfunctions",
      stack.endpoints.sfn,
      "start-execution",
      "--state-machine-arn",
      stack.names.stateMachineArn,
      "--name",
      "AWSCLI-EXEC",
      "--input",
      input,
    )) as { executionArn: string };
    const outcome = await stack.waitForExecution("AWSCLI-EXEC");
    assert.equal(outcome.status, "FAILED");
    const described = (await aws(
      "stepfunctions",
      stack.endpoints.sfn,
      "describe-execution",
      "--execution-arn",
      started.executionArn,
    )) as { status: string; input: string; error: string };
    assert.equal(described.status, "FAILED");
    assert.equal(described.error, "LotFailed");
    assert.equal(described.input, input);
    const listed = (await aws(
      "stepfunctions",
      stack.endpoints.sfn,
      "list-executions",
      "--state-machine-arn",
      stack.names.stateMachineArn,
    )) as { executions: Array<{ name: string; status: string }> };
    assert.ok(listed.executions.some((e) => e.name === "AWSCLI-EXEC" && e.status === "FAILED"));
    const history = (await aws(
      "stepfunctions",
      stack.endpoints.sfn,
      "get-execution-history",
      "--execution-arn",
      started.executionArn,
    )) as { events: Array<{ type: string }> };
    assert.equal(history.events.at(-1)?.type, "ExecutionFailed");
    assert.ok(history.events.some((event) => event.type === "TaskFailed"));
    await assert.rejects(
      aws.started(
        "stepfunctions",
        stack.endpoints.sfn,
        "start-execution",
        "--state-machine-arn",
        stack.names.stateMachineArn,
        "--name",
        "AWSCLI-EXEC",
        "--input",
        "{}",
      ),
      (error: Error & { code?: number; stderr?: string }) => {
        assert.notEqual(error.code, 0, "the aws process exits non-zero");
        assert.match(error.stderr ?? "", /ExecutionAlreadyExists/);
        return true;
      },
    );
  });
});
