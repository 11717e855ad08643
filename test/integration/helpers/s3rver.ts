// Starts the local stack's S3 (s3rver behind local/s3.ts, which fixes its wire quirks) on 127.0.0.1 for the agent's tests, with a client wired to it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { LOCAL_CREDENTIALS, S3RVER_CLIENT_CONFIG, startS3 } from "../../../local/s3.ts";

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
  const events: TestS3["events"] = [];
  const server = await startS3({
    port: 0,
    directory,
    buckets: [TEST_BUCKET],
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
    client(overrides = {}) {
      const client = new S3Client({
        endpoint,
        region: "us-east-1",
        credentials: LOCAL_CREDENTIALS,
        ...S3RVER_CLIENT_CONFIG,
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
