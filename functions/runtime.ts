// What every workflow handler shares: its logger, its input parsing, and S3/JSON helpers.

import { Logger } from "@aws-lambda-powertools/logger";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { z } from "zod";
import { dependencyFailure, InvalidInputError } from "./errors.ts";

export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

/** The slice of a logger the core functions use, so unit tests can pass a plain recorder. */
export type CoreLog = Pick<Logger, "info" | "warn" | "error">;

export function parseInput<S extends z.ZodType>(
  schema: S,
  what: string,
  input: unknown,
): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw InvalidInputError.fromZod(what, parsed.error);
  return parsed.data;
}

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

/** Step Functions hands a Lambda error's cause over as JSON text; people want its message. */
export function errorMessageFromCause(cause: string | undefined): string {
  if (!cause) return "no cause given";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // not JSON: the cause is already the message
  }
  return cause;
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

/** Longest error message a handler lets through to Step Functions (its Cause); the rest is in the logs. */
export const MAX_ERROR_MESSAGE_LENGTH = 300;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The error a handler lets out to Step Functions: same name (Retry and Catch match on it), a
 * message cut to MAX_ERROR_MESSAGE_LENGTH and no stack, so the Cause stays a few hundred bytes.
 * The whole error, stack and causes included, goes to the log first.
 */
export function shortError(
  error: unknown,
  log?: CoreLog,
  context?: Record<string, unknown>,
): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  // A transient failure is retried by the state machine: worth a warning, not yet an error.
  if (original.name === "TransientDependencyError") {
    log?.warn("task failed, may be retried", { ...context, error: original });
  } else {
    log?.error("task failed", { ...context, error: original });
  }
  const short = new Error(truncate(original.message, MAX_ERROR_MESSAGE_LENGTH));
  short.name = truncate(original.name || "Error", 64);
  short.stack = "";
  return short;
}
