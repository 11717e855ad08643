// The local SNS takes MessageStructure json as SNS does: listeners get `default`, the JSONL keeps the e-mail text.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidParameterException, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type LocalSns, type PublishedMessage, startSns } from "../../local/sns.ts";
import { LOCAL_CREDENTIALS } from "../../local/stack.ts";

describe("local SNS with MessageStructure json", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-sns-"));
  let sns: LocalSns;
  let client: SNSClient;
  const topicArn = "arn:aws:sns:us-east-1:000000000000:reports";

  beforeAll(async () => {
    sns = await startSns({
      port: 0,
      dataDir,
      topics: [{ name: "reports", arn: topicArn }],
      log: () => {},
    });
    client = new SNSClient({
      endpoint: sns.url,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    });
  });
  afterAll(async () => {
    client?.destroy();
    await sns?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("delivers `default` to listeners and records the e-mail body and array attributes", async () => {
    const received: PublishedMessage[] = [];
    const stop = sns.subscribe(topicArn, (message) => received.push(message));
    await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: "Lot A1 on CMP-2: 1 wafer with defects",
        MessageStructure: "json",
        Message: JSON.stringify({ default: '{"lotId":"A1"}', email: "Lot A1: DEFECTS FOUND" }),
        MessageAttributes: {
          classes: { DataType: "String.Array", StringValue: '["particle","void"]' },
        },
      }),
    );
    stop();
    assert.deepEqual(received, [
      {
        subject: "Lot A1 on CMP-2: 1 wafer with defects",
        message: '{"lotId":"A1"}',
        attributes: { classes: '["particle","void"]' },
      },
    ]);
    const [line] = readFileSync(join(dataDir, "sns", "reports.jsonl"), "utf8")
      .trim()
      .split("\n");
    const record = JSON.parse(line ?? "{}") as { message: string; email: string };
    assert.equal(record.message, '{"lotId":"A1"}');
    assert.equal(record.email, "Lot A1: DEFECTS FOUND");
  });

  it("refuses a structured message without a default, as SNS does", async () => {
    await assert.rejects(
      client.send(
        new PublishCommand({
          TopicArn: topicArn,
          MessageStructure: "json",
          Message: JSON.stringify({ email: "only e-mail" }),
        }),
      ),
      (error: unknown) =>
        error instanceof InvalidParameterException && /No default entry/.test(error.message),
    );
  });
});
