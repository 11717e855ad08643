// The pieces every handler core leans on, with mocked SDK clients: retry classification, batch writes, S3/SNS helpers.

import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { BatchWriteCommand, DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, it } from "vitest";
import { isRetryable } from "../../edge-agent/retry.ts";
import { getObjectBytes, publish } from "../../functions/aws-io.ts";
import {
  DependencyError,
  dependencyFailure,
  TransientDependencyError,
} from "../../functions/errors.ts";
import { batchPut, updateItem } from "../../functions/lot-table.ts";
import { createAgentS3Client, createS3Client } from "../../lib/aws.ts";
import { serviceError } from "../helpers/aws-fakes.ts";

describe("dependencyFailure: what drives every Retry in the state machine", () => {
  it("calls throttling, 5xx, 429 and socket failures transient", () => {
    for (const error of [
      serviceError("ThrottlingException", 400),
      serviceError("SlowDown", 503),
      serviceError("Whatever", 500),
      serviceError("TooMany", 429),
      Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" }),
      new Error("outer", { cause: Object.assign(new Error("inner"), { code: "ECONNRESET" }) }),
    ]) {
      const wrapped = dependencyFailure("reading s3://b/k", error);
      assert.ok(wrapped instanceof TransientDependencyError, String(error));
      assert.equal(wrapped.name, "TransientDependencyError");
      assert.equal(wrapped.cause, error);
    }
  });

  it("calls other 4xx answers final, and names what failed", () => {
    const wrapped = dependencyFailure("reading s3://b/k", serviceError("AccessDenied", 403));
    assert.ok(wrapped instanceof DependencyError);
    assert.equal(wrapped.name, "DependencyError");
    assert.match(
      wrapped.message,
      /^reading s3:\/\/b\/k failed: AccessDenied: AccessDenied happened$/,
    );
  });

  it("agrees with the edge agent's retry decision (one table for both)", () => {
    for (const error of [serviceError("SlowDown", 503), serviceError("AccessDenied", 403)]) {
      assert.equal(
        isRetryable(error),
        dependencyFailure("x", error) instanceof TransientDependencyError,
      );
    }
  });
});

describe("dependencyFailure's table, entry by entry", () => {
  const transient = (error: unknown) =>
    dependencyFailure("calling", error) instanceof TransientDependencyError;

  it("retries every throttling, overload and time-out name AWS uses, whatever the status", () => {
    for (const name of [
      "Throttling",
      "ThrottlingException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "RequestLimitExceeded",
      "SlowDown",
      "ServiceUnavailable",
      "ServiceUnavailableException",
      "InternalServerError",
      "InternalFailure",
      "InternalServerException",
      "InternalError",
      "TimeoutError",
      "RequestTimeout",
      "RequestTimeoutException",
      "RequestTimeoutError",
    ]) {
      assert.ok(transient(Object.assign(new Error(name), { name })), name);
    }
  });

  it("retries every socket failure code", () => {
    for (const code of [
      "ECONNRESET",
      "ECONNREFUSED",
      "ECONNABORTED",
      "EPIPE",
      "ETIMEDOUT",
      "EAI_AGAIN",
      "ENETUNREACH",
      "EHOSTUNREACH",
      "ENOTFOUND",
      "UND_ERR_SOCKET",
    ]) {
      assert.ok(transient(Object.assign(new Error("socket"), { code })), code);
    }
  });

  it("retries by status: every 5xx and 429; and what the SDK itself calls retryable", () => {
    for (const status of [500, 502, 503, 504, 599, 429]) {
      assert.ok(transient(serviceError("Whatever", status)), String(status));
    }
    assert.ok(transient(Object.assign(new Error("x"), { $retryable: {} })));
  });

  it("retries a connection cut mid-answer, which shows only in the message", () => {
    for (const message of [
      "socket hang up",
      "read ECONNRESET",
      "write EPIPE",
      "Premature close",
      "The operation was aborted",
      "terminated",
    ]) {
      assert.ok(transient(new Error(message)), message);
    }
  });

  it("follows causes, so a wrapped throttling is still retried", () => {
    const inner = serviceError("SlowDown", 503);
    assert.ok(transient(new Error("outer", { cause: new Error("middle", { cause: inner }) })));
  });

  it("never retries other 4xx answers, plain errors or non-errors", () => {
    for (const [name, status] of [
      ["ValidationException", 400],
      ["AccessDenied", 403],
      ["NoSuchKey", 404],
      ["ConditionalCheckFailedException", 400],
      ["ResourceNotFoundException", 400],
      ["PreconditionFailed", 412],
    ] as const) {
      const wrapped = dependencyFailure("calling", serviceError(name, status));
      assert.ok(wrapped instanceof DependencyError, name);
      assert.equal(wrapped.name, "DependencyError");
    }
    assert.ok(!transient(new TypeError("x is undefined")));
    for (const odd of [undefined, null, "a string", 42]) {
      const wrapped = dependencyFailure("calling", odd);
      assert.ok(wrapped instanceof DependencyError, String(odd));
      assert.match(wrapped.message, /^calling failed: Error: /);
    }
  });
});

const ddb = mockClient(DynamoDBDocumentClient);
const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
afterEach(() => ddb.reset());

describe("batchPut", () => {
  it("writes in batches of 25 and sends back only what DynamoDB left unprocessed", async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ pk: "LOT#A", sk: `IMAGE#${i}` }));
    let calls = 0;
    ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => {
      calls++;
      const requests = input.RequestItems.t ?? [];
      // The first call of the first batch leaves its last two items unprocessed.
      return calls === 1 ? { UnprocessedItems: { t: requests.slice(-2) } } : {};
    });
    await batchPut(db, "t", items);
    const sent = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.t?.length);
    assert.deepEqual(sent, [25, 2, 5]);
  });

  it("wraps a refused write as a final dependency error", async () => {
    ddb.on(BatchWriteCommand).rejects(serviceError("ValidationException", 400));
    await assert.rejects(batchPut(db, "t", [{ pk: "a", sk: "b" }]), DependencyError);
  });
});

describe("updateItem", () => {
  it("sets only the defined attributes, through placeholders", async () => {
    ddb.on(UpdateCommand).resolves({});
    await updateItem(db, "t", { pk: "LOT#A", sk: "LOT" }, { status: "CLEAN", note: undefined });
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    assert.equal(input?.UpdateExpression, "SET #a0 = :v0");
    assert.deepEqual(input?.ExpressionAttributeNames, { "#a0": "status" });
    assert.deepEqual(input?.ExpressionAttributeValues, { ":v0": "CLEAN" });
  });

  it("turns throttling into a transient failure naming the item", async () => {
    ddb.on(UpdateCommand).rejects(serviceError("ProvisionedThroughputExceededException", 400));
    await assert.rejects(
      updateItem(db, "t", { pk: "LOT#A", sk: "LOT" }, { status: "CLEAN" }),
      (error: Error) =>
        error instanceof TransientDependencyError && /LOT#A\/LOT in t/.test(error.message),
    );
  });
});

describe("S3 and SNS helpers", () => {
  const s3Mock = mockClient(S3Client);
  const snsMock = mockClient(SNSClient);
  afterEach(() => {
    s3Mock.reset();
    snsMock.reset();
  });

  it("getObjectBytes returns the body and wraps a missing key as final", async () => {
    s3Mock
      .on(GetObjectCommand, { Key: "there" })
      // The SDK's stream body, as far as getObjectBytes uses it.
      .resolves({ Body: { transformToByteArray: async () => Buffer.from("wafer") } as never });
    s3Mock.on(GetObjectCommand, { Key: "gone" }).rejects(serviceError("NoSuchKey", 404));
    const s3 = new S3Client({ region: "us-east-1" });
    assert.equal(Buffer.from(await getObjectBytes(s3, "b", "there")).toString(), "wafer");
    await assert.rejects(getObjectBytes(s3, "b", "gone"), (error: Error) => {
      return error instanceof DependencyError && /s3:\/\/b\/gone/.test(error.message);
    });
  });

  it("publish sends string attributes and cuts the subject to SNS's 100 characters", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "1" });
    const sns = new SNSClient({ region: "us-east-1" });
    await publish(sns, "arn:topic", {
      subject: "x".repeat(150),
      body: { a: 1 },
      attributes: { status: "clean" },
    });
    const input = snsMock.commandCalls(PublishCommand)[0]?.args[0].input;
    assert.equal(input?.Subject?.length, 100);
    assert.equal(input?.Message, '{"a":1}');
    assert.deepEqual(input?.MessageAttributes, {
      status: { DataType: "String", StringValue: "clean" },
    });
  });
});

describe("clients", () => {
  it("the edge agent's S3 client leaves retries to the agent; the workflow's retries 3 times", async () => {
    assert.equal(await createAgentS3Client().config.maxAttempts(), 1);
    assert.equal(await createS3Client().config.maxAttempts(), 3);
  });

  it("are configured as on AWS: no forced path style, the SDK's own checksum defaults", async () => {
    for (const client of [createS3Client(), createAgentS3Client()]) {
      assert.notEqual(client.config.forcePathStyle, true);
      assert.equal(await client.config.requestChecksumCalculation(), "WHEN_SUPPORTED");
      assert.equal(await client.config.responseChecksumValidation(), "WHEN_SUPPORTED");
    }
  });
});
