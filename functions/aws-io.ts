// The S3 and SNS calls the workflow functions share, each failure translated by dependencyFailure.
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";

import { dependencyFailure } from "./errors.ts";
export async function getObjectBytes(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Uint8Array> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!response.Body) throw new Error("empty body");
    return await response.Body.transformToByteArray();
  } catch (error) {
    throw dependencyFailure(`reading s3://${bucket}/${key}`, error);
  }
}

export async function putJson(
  s3: S3Client,
  bucket: string,
  key: string,
  value: unknown,
): Promise<void> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(value),
        ContentType: "application/json",
      }),
    );
  } catch (error) {
    throw dependencyFailure(`writing s3://${bucket}/${key}`, error);
  }
}

/**
 * Publishes JSON with attributes that subscribers can filter on (status, kind, classes). With an
 * `email` text the message is `MessageStructure: json`: e-mail subscribers get the text, every
 * other protocol the JSON (`default`). A list attribute goes as `String.Array`.
 */
export async function publish(
  sns: SNSClient,
  topicArn: string,
  message: {
    subject: string;
    body: unknown;
    email?: string;
    attributes?: Record<string, string | string[]>;
  },
): Promise<void> {
  const attributes = Object.fromEntries(
    Object.entries(message.attributes ?? {})
      .filter(([, value]) => (Array.isArray(value) ? true : value !== ""))
      .map(([name, value]) => [
        name,
        Array.isArray(value)
          ? { DataType: "String.Array", StringValue: JSON.stringify(value) }
          : { DataType: "String", StringValue: value },
      ]),
  );
  const json = typeof message.body === "string" ? message.body : JSON.stringify(message.body);
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: message.subject.slice(0, 100),
        ...(message.email === undefined
          ? { Message: json }
          : {
              Message: JSON.stringify({ default: json, email: message.email }),
              MessageStructure: "json",
            }),
        MessageAttributes: attributes,
      }),
    );
  } catch (error) {
    throw dependencyFailure(`publishing to ${topicArn}`, error);
  }
}
