// Starts the local stack's S3 (s3rver behind local/s3.ts, which fixes its wire quirks) on 127.0.0.1 for the agent's tests, with a client wired to it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { BucketKms } from "../../../local/resource-model.ts";
import { LOCAL_CREDENTIALS, startS3 } from "../../../local/s3.ts";

export const TEST_BUCKET = "waferflow-test";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /**
   * Every object created, in the order the server finished storing them. They come from the S3
   * process over IPC, beside its HTTP answers and not before them: an answer may be read first, so
   * an event is only sure to be here once `waitForCreated` has seen it.
   */
  events: Array<{ eventName: string; key: string }>;
  /**
   * Resolves with the index in `events` of the first creation of `key` at or after index `from`,
   * once it has arrived (the test's timeout is the limit). The S3 process reports in the order it
   * stored objects, so every object stored before it has arrived too.
   */
  waitForCreated(key: string, from?: number): Promise<number>;
  /** A client for this server; pass overrides to point it elsewhere (a proxy) or change retries. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  stop(): Promise<void>;
}

/** With `kms`, the test bucket's default encryption is SSE-KMS with that key (as the template's lot bucket's is). */
export async function startS3rver(options: { kms?: BucketKms } = {}): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "waferflow-s3rver-"));
  const events: TestS3["events"] = [];
  const server = await startS3({
    port: 0,
    directory,
    buckets: [TEST_BUCKET],
    ...(options.kms ? { kmsBuckets: { [TEST_BUCKET]: options.kms } } : {}),
    onObjectCreated: (object) =>
      events.push({ eventName: `ObjectCreated:${object.reason}`, key: object.key }),
    log: () => {},
  });
  const endpoint = server.url;
  const clients: S3Client[] = [];
  return {
    endpoint,
    bucket: TEST_BUCKET,
    events,
    async waitForCreated(key, from = 0) {
      for (;;) {
        const index = events.findIndex(
          (event, i) =>
            i >= from && event.key === key && event.eventName.startsWith("ObjectCreated"),
        );
        if (index >= 0) return index;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    client(overrides = {}) {
      const client = new S3Client({
        endpoint,
        region: "us-east-1",
        credentials: LOCAL_CREDENTIALS,
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The error a refused request ends with (its name and HTTP status); fails the test if it was accepted. */
export async function refusal(send: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await send;
  } catch (error) {
    const { name, $metadata } = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name, status: $metadata?.httpStatusCode };
  }
  throw new Error("the request was accepted");
}

/** Whether S3 holds `key` in `bucket` (HEAD: 404 is no, any other failure is thrown). */
export async function isStored(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
      return false;
    }
    throw error;
  }
}
