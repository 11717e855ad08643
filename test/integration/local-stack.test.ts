// The local stack through the real AWS SDK v3 clients: S3, DynamoDB, SNS, Step Functions and the S3 trigger.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { join, resolve } from "node:path";
import { GetItemCommand, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
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
  GetTopicAttributesCommand,
  ListTopicsCommand,
  NotFoundException,
  PublishCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";

/** The directory called `name` somewhere under `root` (s3rver's upload directory). */
function findDirectory(root: string, name: string): string {
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`no directory ${name} under ${root}`);
}

const TEMPLATE = resolve(import.meta.dirname, "local-fixture/template.yaml");

describe("local stack through the AWS SDK", () => {
  let stack: LocalStack;
  let s3: S3Client;
  let sfn: SFNClient;
  let sns: SNSClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    stack = await startLocalStack({
      ephemeral: true,
      templatePath: TEMPLATE,
      startEndpoint: false,
      log: (line) => logLines.push(line),
    });
    s3 = createS3Client();
    sfn = new SFNClient({});
    sns = new SNSClient({});
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const startLot = (name: string, input: Record<string, unknown>) =>
    sfn.send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );

  it("derives names, endpoints and handler configuration from the template", () => {
    assert.equal(stack.names.bucket, "fixture-lots-000000000000-us-east-1");
    assert.equal(stack.names.table, "fixture-lots-local");
    assert.equal(
      stack.names.reportTopicArn,
      "arn:aws:sns:us-east-1:000000000000:fixture-reports-local",
    );
    assert.equal(
      stack.names.stateMachineArn,
      "arn:aws:states:us-east-1:000000000000:stateMachine:fixture-lot-local",
    );
    assert.equal(stack.names.endpointName, "fixture-detector");
    assert.equal(stack.env.BUCKET_NAME, stack.names.bucket);
    assert.equal(stack.env.STATE_MACHINE_ARN, stack.names.stateMachineArn);
    assert.equal(stack.env.REPORT_TOPIC_ARN, stack.names.reportTopicArn);
    assert.equal(process.env.AWS_ENDPOINT_URL_S3, stack.endpoints.s3);
    assert.equal(process.env.AWS_ENDPOINT_URL_SFN, stack.endpoints.sfn);
    assert.equal(process.env.WAFERFLOW_LOCAL, "1");
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
      forcePathStyle: true,
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

  it("puts, gets and queries items in the template's table, including its GSI", async () => {
    const documents = createDocumentClient();
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    const dynamodb = new DynamoDBClient({});
    await dynamodb.send(
      new PutItemCommand({
        TableName: stack.names.table,
        Item: { pk: { S: "LOT#Q1" }, sk: { S: "IMAGE#1" }, gsi1pk: { S: "OPEN" } },
      }),
    );
    await dynamodb.send(
      new PutItemCommand({
        TableName: stack.names.table,
        Item: { pk: { S: "LOT#Q1" }, sk: { S: "IMAGE#2" }, gsi1pk: { S: "OPEN" } },
      }),
    );
    const item = await dynamodb.send(
      new GetItemCommand({
        TableName: stack.names.table,
        Key: { pk: { S: "LOT#Q1" }, sk: { S: "IMAGE#2" } },
      }),
    );
    assert.equal(item.Item?.gsi1pk?.S, "OPEN");
    const byKey = await dynamodb.send(
      new QueryCommand({
        TableName: stack.names.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :image)",
        ExpressionAttributeValues: { ":pk": { S: "LOT#Q1" }, ":image": { S: "IMAGE#" } },
      }),
    );
    assert.equal(byKey.Count, 2);
    const byIndex = await dynamodb.send(
      new QueryCommand({
        TableName: stack.names.table,
        IndexName: "byStatus",
        KeyConditionExpression: "gsi1pk = :open",
        ExpressionAttributeValues: { ":open": { S: "OPEN" } },
      }),
    );
    assert.equal(byIndex.Count, 2);
    documents.destroy();
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
    const lines = readFileSync(join(stack.dataDir, "sns", "fixture-alerts-local.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { messageId: string; subject: string });
    assert.ok(lines.some((line) => line.messageId === published.MessageId));
  });

  it("lists the template's topics, describes one and rejects an unknown one by name", async () => {
    const topics = await sns.send(new ListTopicsCommand({}));
    const arns = (topics.Topics ?? []).map((topic) => topic.TopicArn).sort();
    assert.deepEqual(arns, [stack.names.alertTopicArn, stack.names.reportTopicArn].sort());
    const attributes = await sns.send(
      new GetTopicAttributesCommand({ TopicArn: stack.names.reportTopicArn }),
    );
    assert.equal(attributes.Attributes?.TopicArn, stack.names.reportTopicArn);
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

  it("runs an execution through the handlers: task, Map over lambda:invoke, report on SNS", async () => {
    const reports: string[] = [];
    const unsubscribe = stack.onMessage("reports", (message) => reports.push(message.message));
    const started = await startLot("SDK-LOT-1", { lotId: "SDK-LOT-1", items: [5, 7] });
    assert.equal(
      started.executionArn,
      "arn:aws:states:us-east-1:000000000000:execution:fixture-lot-local:SDK-LOT-1",
    );
    const outcome = await stack.waitForExecution("SDK-LOT-1");
    unsubscribe();
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    assert.deepEqual(JSON.parse(reports[0] ?? "{}"), {
      lotId: "SDK-LOT-1",
      doubled: [10, 14],
      attempts: 1,
    });
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    assert.equal(described.status, "SUCCEEDED");
    assert.equal(described.name, "SDK-LOT-1");
    assert.ok(described.startDate instanceof Date && described.stopDate instanceof Date);
    assert.deepEqual(JSON.parse(described.input ?? "{}"), { lotId: "SDK-LOT-1", items: [5, 7] });
    assert.ok(JSON.parse(described.output ?? "{}").messageId);

    const recorded = await createDocumentClient().send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: stack.names.table,
        Key: { pk: "LOT#SDK-LOT-1", sk: "META" },
      }),
    );
    assert.equal(recorded.Item?.lotId, "SDK-LOT-1", "the task handler wrote through DynamoDB");

    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 1000 }),
    );
    const types = (history.events ?? []).map((event) => event.type);
    assert.equal(types[0], "ExecutionStarted");
    assert.equal(types.at(-1), "ExecutionSucceeded");
    assert.ok(types.includes("MapIterationSucceeded"));
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: stack.names.stateMachineArn }),
    );
    assert.ok(listed.executions?.some((execution) => execution.name === "SDK-LOT-1"));
  });

  it("rejects a second execution with the same name, as AWS does", async () => {
    await startLot("DUP-LOT", { lotId: "DUP-LOT", items: [] });
    await stack.waitForExecution("DUP-LOT");
    await assert.rejects(
      startLot("DUP-LOT", { lotId: "DUP-LOT", items: [] }),
      ExecutionAlreadyExists,
    );
  });

  it("answers bad requests with the AWS error a caller can catch by class", async () => {
    await assert.rejects(startLot("has space", { lotId: "x", items: [] }), InvalidName);
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
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: "arn:aws:states:us-east-1:000000000000:execution:fixture-lot-local:nope",
        }),
      ),
      ExecutionDoesNotExist,
    );
  });

  it("routes an error a handler throws to the Catch naming it, with Lambda's error payload as Cause", async () => {
    const reports: Array<Record<string, string>> = [];
    const unsubscribe = stack.onMessage("reports", (message) =>
      reports.push(JSON.parse(message.message)),
    );
    await startLot("REJECTED-LOT", { lotId: "REJECTED-LOT", reject: true, items: [] });
    const outcome = await stack.waitForExecution("REJECTED-LOT");
    unsubscribe();
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "LotRejected");
    const caught = reports.find((report) => report.lotId === "REJECTED-LOT");
    assert.equal(caught?.rejectedWith, "LotRejectedError");
    const cause = JSON.parse(caught?.cause ?? "{}") as { errorType: string; errorMessage: string };
    assert.equal(cause.errorType, "LotRejectedError");
    assert.equal(cause.errorMessage, "lot REJECTED-LOT is rejected");
  });

  it("retries a task whose error a Retry names", async () => {
    await startLot("FLAKY-LOT", { lotId: "FLAKY-LOT", failOnce: true, items: [1] });
    const outcome = await stack.waitForExecution("FLAKY-LOT");
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    const history = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:FLAKY-LOT`,
      }),
    );
    assert.ok(history.events?.some((event) => event.type === "TaskFailed"));
  });

  const reportsOf = (lotId: string) => {
    const file = join(stack.dataDir, "sns", "fixture-reports-local.jsonl");
    return readFileSync(file, { encoding: "utf8", flag: "a+" })
      .split("\n")
      .filter((line) => line.includes(`"Lot ${lotId}"`));
  };
  const enteredStates = async (name: string) => {
    const history = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`,
      }),
    );
    return (history.events ?? []).map((event) => event.stateEnteredEventDetails?.name);
  };

  it("fails an execution whose task result exceeds 256 KiB before any later state runs, as AWS does", async () => {
    await startLot("OVERSIZED-LOT", { lotId: "OVERSIZED-LOT", items: [-300] });
    const outcome = await stack.waitForExecution("OVERSIZED-LOT");
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "States.DataLimitExceeded");
    assert.match(outcome.cause ?? "", /'Double'/);
    assert.ok(!(await enteredStates("OVERSIZED-LOT")).includes("Report"));
    assert.deepEqual(reportsOf("OVERSIZED-LOT"), [], "no report from that data");
  });

  it("fails an execution whose Map output exceeds 256 KiB (each result under it) before the report runs", async () => {
    await startLot("BIG-MAP-LOT", { lotId: "BIG-MAP-LOT", items: [-100, -100, -100] });
    const outcome = await stack.waitForExecution("BIG-MAP-LOT");
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "States.DataLimitExceeded");
    assert.match(outcome.cause ?? "", /'EachItem'/);
    assert.ok(!(await enteredStates("BIG-MAP-LOT")).includes("Report"));
    assert.deepEqual(reportsOf("BIG-MAP-LOT"), []);
  });

  it("refuses an execution input over 256 KiB at StartExecution, starting nothing", async () => {
    const input = { lotId: "HUGE-INPUT", items: [], padding: "x".repeat(256 * 1024) };
    await assert.rejects(startLot("HUGE-INPUT", input), (error: Error) => {
      assert.equal(error.name, "ValidationException");
      assert.match(error.message, /262144/);
      return true;
    });
    await assert.rejects(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:HUGE-INPUT`,
        }),
      ),
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
    const input = { lotId: "PAUSED-LOT", pauseSeconds: 600, items: [] };
    const started = await startLot("PAUSED-LOT", input);
    const again = await startLot("PAUSED-LOT", input);
    assert.equal(again.executionArn, started.executionArn);
    await assert.rejects(startLot("PAUSED-LOT", { ...input, items: [1] }), ExecutionAlreadyExists);
    await sfn.send(
      new StopExecutionCommand({ executionArn: started.executionArn, error: "Operator" }),
    );
    const outcome = await stack.waitForExecution("PAUSED-LOT");
    assert.equal(outcome.status, "ABORTED");
    assert.equal(outcome.error, "Operator");
  });

  it("starts the rule's function when a manifest lands in S3, and not for other keys", async () => {
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
    const outcome = await stack.waitForExecution("TRIGGERED-LOT");
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    const described = await sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:TRIGGERED-LOT`,
      }),
    );
    const input = JSON.parse(described.input ?? "{}") as { event: Record<string, unknown> };
    const event = input.event as {
      source: string;
      "detail-type": string;
      resources: string[];
      detail: { bucket: { name: string }; object: { key: string; size: number }; reason: string };
    };
    assert.equal(event.source, "aws.s3");
    assert.equal(event["detail-type"], "Object Created");
    assert.deepEqual(event.resources, [`arn:aws:s3:::${stack.names.bucket}`]);
    assert.equal(event.detail.bucket.name, stack.names.bucket);
    assert.equal(event.detail.object.key, "lots/TRIGGERED-LOT/manifest.json");
    assert.equal(event.detail.object.size, 2);
    assert.equal(event.detail.reason, "PutObject");
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: stack.names.stateMachineArn }),
    );
    assert.ok(!listed.executions?.some((execution) => execution.name === "IGNORED-LOT"));
    assert.ok(!logLines.some((line) => line.includes("IGNORED-LOT")), "the rule did not match");
  });

  it("sends events only from buckets with EventBridge notifications enabled, as S3 does", async () => {
    const seen: string[] = [];
    let delivered: () => void = () => {};
    const lotBucketEvent = new Promise<void>((done) => {
      delivered = done;
    });
    const unsubscribe = stack.onMessage("alerts", (message) => {
      seen.push(message.message);
      if (message.message.startsWith(stack.names.bucket)) delivered();
    });
    const quietBucket = "fixture-quiet-000000000000";
    await s3.send(new PutObjectCommand({ Bucket: quietBucket, Key: "any-bucket/x", Body: "q" }));
    await s3.send(
      new PutObjectCommand({ Bucket: stack.names.bucket, Key: "any-bucket/x", Body: "l" }),
    );
    // S3 events reach the trigger in order: the quiet bucket's was matched (or not) before this one.
    await lotBucketEvent;
    unsubscribe();
    assert.deepEqual(seen, [`${stack.names.bucket}/any-bucket/x`]);
    assert.ok(!logLines.some((line) => line.includes(`s3://${quietBucket}/`)));
  });

  it("logs a delivery whose function fails, naming the object, rule and error", async () => {
    // A colon is fine in an S3 key but not in an execution name, so the start function fails.
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: "lots/BAD:NAME/manifest.json",
        Body: "{}",
      }),
    );
    const failure = () =>
      logLines.find(
        (line) => line.includes("lots/BAD:NAME/manifest.json") && line.includes("failed"),
      );
    for (let waited = 0; !failure() && waited < 10_000; waited += 50) {
      await new Promise((done) => setTimeout(done, 50));
    }
    assert.match(
      failure() ?? "(no such log line)",
      /StartFunction \(rule StartFunction\.ManifestCreated\) failed \(attempt 1 of 3\): InvalidName.*retrying in 60 s$/,
    );
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
    const outcome = await stack.waitForExecution("MULTIPART-LOT");
    assert.equal(outcome.status, "SUCCEEDED", outcome.cause);
    const described = await sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${stack.names.stateMachineArn.replace(":stateMachine:", ":execution:")}:MULTIPART-LOT`,
      }),
    );
    const input = JSON.parse(described.input ?? "{}") as {
      event: { detail: { reason: string; object: { size: number } } };
    };
    assert.equal(input.event.detail.reason, "CompleteMultipartUpload");
    assert.equal(input.event.detail.object.size, body.length);
  });
});
