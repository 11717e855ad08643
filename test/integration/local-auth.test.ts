// The embedded stack takes only calls signed (SigV4) with its local key pair, on every service, and says why it refuses the rest.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { ListStateMachinesCommand, SFNClient } from "@aws-sdk/client-sfn";
import { ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { beforeAll, describe, it } from "vitest";
import { createS3Client } from "../../lib/aws.ts";
import { LOCAL_CREDENTIALS, type LocalStack } from "../../local/stack.ts";
import { AWS_CLI, assertAwsCliInstalled } from "./helpers/awscli.ts";
import { published, topicName } from "./helpers/fixture-lot.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

describe("the embedded stack checks signatures", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = sharedStack();
  });

  const signedWith = (credentials: { accessKeyId: string; secretAccessKey: string }) => {
    const common = { region: "us-east-1", credentials, maxAttempts: 1 };
    return {
      s3: new S3Client({ ...common, endpoint: stack.endpoints.s3, forcePathStyle: true }),
      dynamodb: new DynamoDBClient({ ...common, endpoint: stack.endpoints.dynamodb }),
      sfn: new SFNClient({ ...common, endpoint: stack.endpoints.sfn }),
      sns: new SNSClient({ ...common, endpoint: stack.endpoints.sns }),
      sagemaker: new SageMakerRuntimeClient({ ...common, endpoint: stack.endpoints.sagemaker }),
    };
  };
  const errorName = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (error) {
      return (error as Error).name;
    }
    return "accepted";
  };

  it("accepts signed calls whose keys and queries need percent-encoding", async () => {
    const s3 = createS3Client();
    const Key = "odd keys/wafer #1 (ä+b)=~*'!.png";
    await s3.send(new PutObjectCommand({ Bucket: stack.names.bucket, Key, Body: "odd" }));
    const object = await s3.send(new GetObjectCommand({ Bucket: stack.names.bucket, Key }));
    assert.equal(await object.Body?.transformToString(), "odd");
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.names.bucket, Prefix: "odd keys/wafer #1 (ä+" }),
    );
    assert.deepEqual(
      listed.Contents?.map((entry) => entry.Key),
      [Key],
    );
  });

  it("refuses an unsigned SNS Publish form POST and publishes nothing", async () => {
    const form = new URLSearchParams({
      Action: "Publish",
      TopicArn: stack.names.reportTopicArn,
      Message: JSON.stringify({ lotId: "FORGED", status: "clean" }),
    });
    const response = await fetch(stack.endpoints.sns, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /<Code>MissingAuthenticationToken<\/Code>/);
    // The stack is shared: other files' lots publish here too, but never this message.
    const forged = published(stack.dataDir, topicName(stack.names.reportTopicArn)).filter(
      (message) => message.message.includes("FORGED"),
    );
    assert.deepEqual(forged, []);
  });

  it("answers 413 to a body over a service's limit, before reading the rest of it", async () => {
    // Step Functions' API takes at most 1 MiB per request.
    const response = await fetch(stack.endpoints.sfn as string, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0" },
      body: "x".repeat(1024 * 1024 + 1),
    });
    assert.equal(response.status, 413);
    assert.match(await response.text(), /RequestEntityTooLarge/);
  });

  it("refuses an anonymous S3 PUT, so it stores nothing and starts no lot", async () => {
    const key = "lots/ANON-1/manifest.json";
    const response = await fetch(`${stack.endpoints.s3}/${stack.names.bucket}/${key}`, {
      method: "PUT",
      body: JSON.stringify({ lotId: "ANON-1", images: [] }),
    });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /<Code>AccessDenied<\/Code>/);
    const read = await errorName(
      createS3Client().send(new GetObjectCommand({ Bucket: stack.names.bucket, Key: key })),
    );
    assert.equal(read, "NoSuchKey");
  });

  it("refuses calls signed with another secret, in each service's own words", async () => {
    const wrong = signedWith({ accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: "x" });
    assert.equal(
      await errorName(wrong.s3.send(new ListObjectsV2Command({ Bucket: stack.names.bucket }))),
      "SignatureDoesNotMatch",
    );
    assert.equal(
      await errorName(
        wrong.s3.send(
          new PutObjectCommand({ Bucket: stack.names.bucket, Key: "forged.txt", Body: "x" }),
        ),
      ),
      "SignatureDoesNotMatch",
    );
    assert.equal(
      await errorName(wrong.dynamodb.send(new ListTablesCommand({}))),
      "InvalidSignatureException",
    );
    assert.equal(
      await errorName(wrong.sfn.send(new ListStateMachinesCommand({}))),
      "InvalidSignatureException",
    );
    assert.equal(
      await errorName(wrong.sns.send(new ListTopicsCommand({}))),
      "SignatureDoesNotMatch",
    );
    assert.equal(
      await errorName(
        wrong.sagemaker.send(
          new InvokeEndpointCommand({
            EndpointName: stack.names.endpointName,
            Body: new Uint8Array(1),
          }),
        ),
      ),
      "InvalidSignatureException",
    );
    const stranger = signedWith({ accessKeyId: "AKIDSTRANGER", secretAccessKey: "x" });
    assert.equal(
      await errorName(stranger.s3.send(new ListObjectsV2Command({ Bucket: stack.names.bucket }))),
      "InvalidAccessKeyId",
    );
    assert.equal(
      await errorName(stranger.dynamodb.send(new ListTablesCommand({}))),
      "UnrecognizedClientException",
    );
    assert.equal(
      await errorName(stranger.sns.send(new ListTopicsCommand({}))),
      "InvalidClientTokenId",
    );
  });

  it("refuses a signature made on a clock more than 15 minutes off", async () => {
    const skewed = new DynamoDBClient({
      region: "us-east-1",
      endpoint: stack.endpoints.dynamodb,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
      systemClockOffset: -20 * 60 * 1000,
    });
    try {
      await skewed.send(new ListTablesCommand({}));
      assert.fail("a signature 20 minutes old was accepted");
    } catch (error) {
      assert.equal((error as Error).name, "InvalidSignatureException");
      assert.match((error as Error).message, /Signature expired/);
    }
  });

  it("serves a presigned S3 URL and refuses it once tampered with", async () => {
    assertAwsCliInstalled();
    await createS3Client().send(
      new PutObjectCommand({ Bucket: stack.names.bucket, Key: "shared/a.txt", Body: "shared" }),
    );
    const url = await new Promise<string>((resolveUrl, reject) =>
      execFile(
        AWS_CLI,
        [
          "s3",
          "presign",
          `s3://${stack.names.bucket}/shared/a.txt`,
          "--endpoint-url",
          stack.endpoints.s3,
          "--expires-in",
          "300",
        ],
        {
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
          },
        },
        (error, stdout) => (error ? reject(error) : resolveUrl(stdout.trim())),
      ),
    );
    const good = await fetch(url);
    assert.equal(good.status, 200, await good.clone().text());
    assert.equal(await good.text(), "shared");
    const tampered = await fetch(url.replace("shared/a.txt", "shared/b.txt"));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /SignatureDoesNotMatch/);
  });

  it("keeps the container contract (/ping) unsigned and the runtime API path signed", async () => {
    assert.equal((await fetch(`${stack.endpoints.sagemaker}/ping`)).status, 200);
    const unsigned = await fetch(
      `${stack.endpoints.sagemaker}/endpoints/${stack.names.endpointName}/invocations`,
      { method: "POST", body: "x" },
    );
    assert.equal(unsigned.status, 400);
    assert.equal(unsigned.headers.get("x-amzn-errortype"), "MissingAuthenticationTokenException");
  });
});
