// The local stack of template.yaml through the real AWS SDK v3 clients: S3, DynamoDB, SNS, Step Functions and the EventBridge rules, with the real handlers.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  NoSuchUpload,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidName,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import {
  ListTopicsCommand,
  NotFoundException,
  PublishCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, it } from "vitest";
import { uploadLot } from "../../edge-agent/upload.ts";
import { createAgentS3Client, createS3Client } from "../../lib/aws.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { fixtureLot, topicName } from "./helpers/fixture-lot.ts";

/** The directory called `name` somewhere under `root` (s3rver's upload directory). */
function findDirectory(root: string, name: string): string {
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`no directory ${name} under ${root}`);
}

/**
 * How long a wait for something the stack does in the background (an event's delivery, an
 * execution starting) may take: far more than it needs on a quiet machine (well under a second),
 * so that a loaded 2-core CI machine never fails it; a hang still fails well within testTimeout.
 */
const BACKGROUND_WAIT_MS = 120_000;

/** Waits for a line (log lines, messages) that passes `test`, up to `ms`. */
async function logged(lines: string[], test: (line: string) => boolean, ms = BACKGROUND_WAIT_MS) {
  for (let waited = 0; waited < ms; waited += 50) {
    const found = lines.find(test);
    if (found) return found;
    await new Promise((done) => setTimeout(done, 50));
  }
  return "(no such line)";
}

describe("local stack through the AWS SDK", () => {
  let stack: LocalStack;
  let s3: S3Client;
  let sfn: SFNClient;
  let sns: SNSClient;
  const logLines: string[] = [];

  /** A SageMaker runtime that takes every request and never answers: an execution stays RUNNING. */
  const silentEndpoint = createServer(() => {});

  beforeAll(async () => {
    await new Promise<void>((listening) => silentEndpoint.listen(0, "127.0.0.1", listening));
    const { port } = silentEndpoint.address() as AddressInfo;
    stack = await startLocalStack({
      ephemeral: true,
      sagemakerUrl: `http://127.0.0.1:${port}`,
      log: (line) => logLines.push(line),
    });
    s3 = createS3Client();
    sfn = new SFNClient({});
    sns = new SNSClient({});
  });

  afterAll(async () => {
    silentEndpoint.closeAllConnections();
    silentEndpoint.close();
    await stack?.stop();
  });

  it("derives names, endpoints and handler configuration from the template", () => {
    assert.deepEqual(stack.names, {
      bucket: "waferflow-lots-000000000000-us-east-1",
      table: "waferflow-lots-local",
      reportTopicArn: "arn:aws:sns:us-east-1:000000000000:waferflow-reports-local",
      alertTopicArn: "arn:aws:sns:us-east-1:000000000000:waferflow-alerts-local",
      stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:waferflow-lot-local",
      endpointName: "waferflow-detector",
    });
    assert.equal(stack.env.BUCKET_NAME, stack.names.bucket);
    assert.equal(stack.env.STATE_MACHINE_ARN, stack.names.stateMachineArn);
    assert.equal(stack.env.REPORT_TOPIC_ARN, stack.names.reportTopicArn);
    assert.equal(stack.env.ALERT_TOPIC_ARN, stack.names.alertTopicArn);
    assert.equal(stack.env.ENDPOINT_NAME, stack.names.endpointName);
    assert.equal(process.env.AWS_ENDPOINT_URL_S3, stack.endpoints.s3);
    assert.equal(process.env.AWS_ENDPOINT_URL_SFN, stack.endpoints.sfn);
    assert.equal(stack.env.NODE_OPTIONS, undefined, "Lambda runtime options stay out");
    for (const url of Object.values(stack.endpoints).filter(Boolean)) {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it("stores, pages through and returns S3 objects byte for byte", async () => {
    const body = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
    for (const name of ["a.bin", "b.bin", "c.bin"]) {
      await s3.send(
        new PutObjectCommand({ Bucket: stack.names.bucket, Key: `paging/${name}`, Body: body }),
      );
    }
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: stack.names.bucket,
          Prefix: "paging/",
          MaxKeys: 1,
          ContinuationToken: token,
        }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
      token = page.NextContinuationToken;
      pages++;
    } while (token);
    assert.deepEqual(keys, ["paging/a.bin", "paging/b.bin", "paging/c.bin"]);
    assert.equal(pages, 3);
    const got = await s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucket, Key: "paging/b.bin" }),
    );
    assert.deepEqual(Buffer.from(await (got.Body?.transformToByteArray() ?? [])), body);
  });

  it("stores the bytes, not the aws-chunked framing, for a client on the SDK's default checksums", async () => {
    const defaultChecksums = new S3Client({
      requestChecksumCalculation: "WHEN_SUPPORTED",
      responseChecksumValidation: "WHEN_SUPPORTED",
    });
    try {
      const body = Buffer.alloc(6 * 1024 * 1024, 0x41);
      body.write("first part starts here");
      await defaultChecksums.send(
        new PutObjectCommand({
          Bucket: stack.names.bucket,
          Key: "chunked/small.txt",
          Body: "plain",
        }),
      );
      await new Upload({
        client: defaultChecksums,
        params: { Bucket: stack.names.bucket, Key: "chunked/parts.bin", Body: body },
        partSize: 5 * 1024 * 1024,
      }).done();
      const small = await s3.send(
        new GetObjectCommand({ Bucket: stack.names.bucket, Key: "chunked/small.txt" }),
      );
      assert.equal(await small.Body?.transformToString(), "plain");
      assert.equal(small.ContentEncoding, undefined);
      const parts = await s3.send(
        new GetObjectCommand({ Bucket: stack.names.bucket, Key: "chunked/parts.bin" }),
      );
      assert.ok(Buffer.from(await (parts.Body?.transformToByteArray() ?? [])).equals(body));
    } finally {
      defaultChecksums.destroy();
    }
  });

  it("lists and aborts multipart uploads, which resumable uploads rely on", async () => {
    const Bucket = stack.names.bucket;
    const Key = "lots/RESUMED/images/big.png";
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const part = Buffer.alloc(5 * 1024 * 1024, 1);
    const etags: string[] = [];
    for (const PartNumber of [1, 2]) {
      const uploaded = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part }),
      );
      etags.push(uploaded.ETag ?? "");
    }
    const first = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 1 }));
    assert.deepEqual(
      first.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [[1, etags[0], part.length]],
    );
    assert.equal(first.IsTruncated, true);
    const rest = await s3.send(
      new ListPartsCommand({ Bucket, Key, UploadId, PartNumberMarker: first.NextPartNumberMarker }),
    );
    assert.deepEqual(
      rest.Parts?.map((p) => p.PartNumber),
      [2],
    );
    assert.equal(rest.IsTruncated, false);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    await assert.rejects(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })), NoSuchUpload);
    await assert.rejects(
      s3.send(new ListPartsCommand({ Bucket, Key: "another/key", UploadId: "0123abcd" })),
      NoSuchUpload,
    );
  });

  it("puts, gets and queries items in the template's table", async () => {
    const dynamodb = new DynamoDBClient({});
    for (const sk of ["IMAGE#1", "IMAGE#2"]) {
      await dynamodb.send(
        new PutItemCommand({
          TableName: stack.names.table,
          Item: { pk: { S: "LOT#Q1" }, sk: { S: sk }, status: { S: "OPEN" } },
        }),
      );
    }
    const item = await dynamodb.send(
      new GetItemCommand({
        TableName: stack.names.table,
        Key: { pk: { S: "LOT#Q1" }, sk: { S: "IMAGE#2" } },
      }),
    );
    assert.equal(item.Item?.status?.S, "OPEN");
    const byKey = await dynamodb.send(
      new QueryCommand({
        TableName: stack.names.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :image)",
        ExpressionAttributeValues: { ":pk": { S: "LOT#Q1" }, ":image": { S: "IMAGE#" } },
      }),
    );
    assert.equal(byKey.Count, 2);
    dynamodb.destroy();
  });

  it("delivers an SNS publish to onMessage and appends it to the topic's JSONL file", async () => {
    const received: Array<{
      subject?: string;
      message: string;
      attributes: Record<string, string>;
    }> = [];
    const unsubscribe = stack.onMessage("alerts", (message) => received.push(message));
    const published = await sns.send(
      new PublishCommand({
        TopicArn: stack.names.alertTopicArn,
        Subject: "Lot ALERT-1 failed",
        Message: '{"lotId":"ALERT-1"}',
        MessageAttributes: {
          lotId: { DataType: "String", StringValue: "ALERT-1" },
          severity: { DataType: "Number", StringValue: "3" },
        },
      }),
    );
    unsubscribe();
    assert.match(published.MessageId ?? "", /^[0-9a-f-]{36}$/);
    assert.deepEqual(received, [
      {
        subject: "Lot ALERT-1 failed",
        message: '{"lotId":"ALERT-1"}',
        attributes: { lotId: "ALERT-1", severity: "3" },
      },
    ]);
    const lines = readFileSync(
      join(stack.dataDir, "sns", `${topicName(stack.names.alertTopicArn)}.jsonl`),
      "utf8",
    )
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { messageId: string; subject: string });
    assert.ok(lines.some((line) => line.messageId === published.MessageId));
  });

  it("lists the template's topics and rejects an unknown one by name", async () => {
    const topics = await sns.send(new ListTopicsCommand({}));
    const arns = (topics.Topics ?? []).map((topic) => topic.TopicArn).sort();
    assert.deepEqual(arns, [stack.names.alertTopicArn, stack.names.reportTopicArn].sort());
    await assert.rejects(
      sns.send(
        new PublishCommand({
          TopicArn: "arn:aws:sns:us-east-1:000000000000:nope",
          Message: "x",
        }),
      ),
      NotFoundException,
    );
  });

  const startLot = (name: string, input: Record<string, unknown>) =>
    sfn.send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
  const arnOf = (name: string) =>
    `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
  /** A lot whose manifest was never uploaded: RecordLot fails, the Catch runs FailLot, which reports. */
  const lotWithoutManifest = (lotId: string) => ({
    lotId,
    manifestKey: `lots/${lotId}/accepted-manifest.json`,
  });

  it("runs an execution through the real handlers: a task's error to its Catch, FailLot's report on SNS", async () => {
    const reports: string[] = [];
    const unsubscribe = stack.onMessage("reports", (message) =>
      reports.push(JSON.stringify(message)),
    );
    const started = await startLot("SDK-LOT-1", lotWithoutManifest("SDK-LOT-1"));
    assert.equal(
      started.executionArn,
      "arn:aws:states:us-east-1:000000000000:execution:waferflow-lot-local:SDK-LOT-1",
    );
    const outcome = await stack.waitForExecution("SDK-LOT-1");
    unsubscribe();
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "LotFailed");
    assert.ok(
      reports.some((report) => report.includes("SDK-LOT-1")),
      "FailLot published the lot's report",
    );
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    assert.equal(described.status, "FAILED");
    assert.equal(described.name, "SDK-LOT-1");
    assert.ok(described.startDate instanceof Date && described.stopDate instanceof Date);
    assert.deepEqual(JSON.parse(described.input ?? "{}"), lotWithoutManifest("SDK-LOT-1"));

    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 1000 }),
    );
    const events = history.events ?? [];
    assert.equal(events[0]?.type, "ExecutionStarted");
    assert.equal(events.at(-1)?.type, "ExecutionFailed");
    const failed = events.find((event) => event.type === "TaskFailed");
    assert.equal(failed?.taskFailedEventDetails?.error, "ManifestMissingError");
    assert.ok(
      events.some((event) => event.stateEnteredEventDetails?.name === "MarkLotFailed"),
      "the Catch went to MarkLotFailed",
    );
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: stack.names.stateMachineArn }),
    );
    assert.ok(listed.executions?.some((execution) => execution.name === "SDK-LOT-1"));
  });

  it("rejects a second execution with the same name, as AWS does", async () => {
    await startLot("DUP-LOT", lotWithoutManifest("DUP-LOT"));
    await stack.waitForExecution("DUP-LOT");
    await assert.rejects(
      startLot("DUP-LOT", lotWithoutManifest("DUP-LOT")),
      ExecutionAlreadyExists,
    );
  });

  it("answers bad requests with the AWS error a caller can catch by class", async () => {
    await assert.rejects(startLot("has space", lotWithoutManifest("x")), InvalidName);
    await assert.rejects(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:nope",
          input: "{}",
        }),
      ),
      StateMachineDoesNotExist,
    );
    await assert.rejects(
      sfn.send(new DescribeExecutionCommand({ executionArn: arnOf("nope") })),
      ExecutionDoesNotExist,
    );
  });

  it("refuses an execution input over 256 KiB at StartExecution, starting nothing", async () => {
    const input = { ...lotWithoutManifest("HUGE-INPUT"), padding: "x".repeat(256 * 1024) };
    await assert.rejects(startLot("HUGE-INPUT", input), (error: Error) => {
      assert.equal(error.name, "ValidationException");
      assert.match(error.message, /262144/);
      return true;
    });
    await assert.rejects(
      sfn.send(new DescribeExecutionCommand({ executionArn: arnOf("HUGE-INPUT") })),
      ExecutionDoesNotExist,
    );
  });

  it("lists only whole parts after a process died mid-part, so the upload can resume", async () => {
    const Bucket = stack.names.bucket;
    const Key = "lots/TORN/images/big.png";
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const part = Buffer.alloc(5 * 1024 * 1024, 7);
    const etags: string[] = [];
    for (const PartNumber of [1, 2, 3]) {
      const uploaded = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part }),
      );
      etags.push(uploaded.ETag ?? "");
    }
    // What a kill -9 in s3rver's putPart leaves: a part cut short under an older .md5, and a
    // part whose .md5 was never written.
    const uploadDir = findDirectory(join(stack.dataDir, "s3"), UploadId ?? "");
    truncateSync(join(uploadDir, "2"), 1000);
    rmSync(join(uploadDir, "3.md5"));
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual(
      listed.Parts?.map((p) => p.PartNumber),
      [1],
    );
    for (const PartNumber of [2, 3]) {
      const uploaded = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part }),
      );
      etags[PartNumber - 1] = uploaded.ETag ?? "";
    }
    const again = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual(
      again.Parts?.map((p) => [p.PartNumber, p.ETag]),
      etags.map((etag, i) => [i + 1, etag]),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.equal((await object.Body?.transformToByteArray())?.length, 3 * part.length);
  });

  it("answers a repeated start of a running execution with it, and stops it when asked", async () => {
    const lotId = "RUNNING-LOT";
    // StartLot starts the lot's execution; DetectDefects then waits on the silent endpoint.
    await uploadLot({
      dir: fixtureLot(lotId, 1),
      s3: createAgentS3Client(),
      bucket: stack.names.bucket,
      stateDir: join(stack.dataDir, "agent"),
    });
    const executionArn = arnOf(lotId);
    let running: { status?: string; input?: string } = {};
    for (
      let waited = 0;
      running.status !== "RUNNING" && waited < BACKGROUND_WAIT_MS;
      waited += 100
    ) {
      running = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch(() => ({}));
      if (running.status !== "RUNNING") await new Promise((done) => setTimeout(done, 100));
    }
    assert.equal(running.status, "RUNNING");
    const input = JSON.parse(running.input ?? "{}") as Record<string, unknown>;
    const again = await startLot(lotId, input);
    assert.equal(again.executionArn, executionArn);
    await assert.rejects(startLot(lotId, { ...input, other: 1 }), ExecutionAlreadyExists);
    await sfn.send(new StopExecutionCommand({ executionArn, error: "Operator" }));
    const outcome = await stack.waitForExecution(lotId);
    assert.equal(outcome.status, "ABORTED");
    assert.equal(outcome.error, "Operator");
  });

  it("logs an end event its rule's function fails on, naming the execution, rule and error", async () => {
    // No lot at all: the execution fails at once, and ExecutionEnded cannot tell which lot it was.
    await startLot("_NOT-A-LOT", {});
    assert.equal((await stack.waitForExecution("_NOT-A-LOT")).status, "FAILED");
    assert.match(
      await logged(
        logLines,
        (line) => line.includes("execution _NOT-A-LOT FAILED") && line.includes("failed"),
      ),
      /ExecutionEndedFunction \(rule ExecutionEndedFunction\.ExecutionEnded\) failed \(attempt 1 of 3\): InvalidInputError.*retrying in 60 s$/,
    );
  });

  it("starts StartLot when a manifest lands in S3 (it quarantines a bad one), and nothing for other keys", async () => {
    const alerts: string[] = [];
    const unsubscribe = stack.onMessage("alerts", (message) => alerts.push(message.message));
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: "lots/IGNORED-LOT/images/a.png",
        Body: "not a manifest",
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: "lots/TRIGGERED-LOT/manifest.json",
        Body: "{}",
      }),
    );
    const matched = await logged(logLines, (line) => line.includes("lots/TRIGGERED-LOT/"));
    assert.equal(
      matched,
      `events: StartLotFunction.ManifestCreated matched s3://${stack.names.bucket}/lots/TRIGGERED-LOT/manifest.json (PutObject) -> StartLotFunction`,
    );
    await logged(alerts, (alert) => alert.includes("TRIGGERED-LOT"));
    unsubscribe();
    const alert = JSON.parse(alerts.find((text) => text.includes("TRIGGERED-LOT")) ?? "{}");
    assert.equal(alert.kind, "manifest_quarantined");
    const quarantined = await s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucket, Key: alert.key }),
    );
    assert.equal(await quarantined.Body?.transformToString(), "{}");
    assert.ok(!logLines.some((line) => line.includes("IGNORED-LOT")), "the rule did not match");
  });

  it("triggers on a manifest completed by a multipart upload", async () => {
    const partSize = 5 * 1024 * 1024;
    const body = Buffer.alloc(partSize + 1024, 0x7b);
    await new Upload({
      client: s3,
      params: { Bucket: stack.names.bucket, Key: "lots/MULTIPART-LOT/manifest.json", Body: body },
      partSize,
      queueSize: 1,
    }).done();
    assert.match(
      await logged(logLines, (line) => line.includes("lots/MULTIPART-LOT/manifest.json")),
      /matched s3:\/\/.*\/lots\/MULTIPART-LOT\/manifest\.json \(CompleteMultipartUpload\) -> StartLotFunction$/,
    );
  });

  // Last: it stops the stack (afterAll's stop() then returns the same stop). An ephemeral stack of
  // its own in local-restart.test.ts cost a stack start (an S3 process) for this alone.
  it("deletes an ephemeral stack's data dir when it stops", async () => {
    assert.ok(existsSync(stack.dataDir));
    await stack.stop();
    assert.equal(existsSync(stack.dataDir), false);
  });
});
