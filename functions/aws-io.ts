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

/**
 * Up to `length` bytes of an object from `start` (a ranged GET), where they start and the
 * object's whole size (from Content-Range; a server that ignored the range sent the whole
 * object from 0). An empty object answers 416 to a range from 0 (it has no byte 0): that is
 * returned as no bytes of an object of size 0.
 */
export async function getObjectRange(
  s3: S3Client,
  bucket: string,
  key: string,
  start: number,
  length: number,
): Promise<{ bytes: Uint8Array; offset: number; size: number }> {
  try {
    const response = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        Range: `bytes=${start}-${start + length - 1}`,
      }),
    );
    if (!response.Body) throw new Error("empty body");
    const bytes = await response.Body.transformToByteArray();
    // "bytes 0-65535/7557075"
    const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(response.ContentRange ?? "");
    if (!range) return { bytes, offset: 0, size: bytes.length };
    return { bytes, offset: Number(range[1]), size: Number(range[2]) };
  } catch (error) {
    const name = (error as { name?: string }).name;
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (start === 0 && (name === "InvalidRange" || status === 416)) {
      return { bytes: new Uint8Array(0), offset: 0, size: 0 };
    }
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
