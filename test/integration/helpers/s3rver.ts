// Starts a real S3 server (s3rver) on 127.0.0.1 for integration tests, with a client wired to it.
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

const require = createRequire(import.meta.url);
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverInstance;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: "event", listener: (event: S3rverNotification) => void): void;
}

interface S3rverNotification {
  Records: Array<{ eventName: string; s3: { object: { key: string } } }>;
}

export const TEST_BUCKET = "waferflow-test";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Every object created or removed, in the order the server finished storing them. */
  events: Array<{ eventName: string; key: string }>;
  /** A client for this server; pass overrides to point it elsewhere (a proxy) or change retries. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "waferflow-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: TEST_BUCKET }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const events: TestS3["events"] = [];
  server.on("event", (notification) => {
    for (const record of notification.Records) {
      events.push({ eventName: record.eventName, key: record.s3.object.key });
    }
  });
  const clients: S3Client[] = [];
  return {
    endpoint,
    bucket: TEST_BUCKET,
    events,
    client(overrides = {}) {
      const client = new S3Client({
        endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
        forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
