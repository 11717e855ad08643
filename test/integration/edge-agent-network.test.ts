// The edge agent over a link that drops connections mid-request: retries recover and objects arrive intact.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, test } from "vitest";
import { uploadLot } from "../../edge-agent/upload.ts";
import { lotKeys } from "../../lib/keys.ts";
import { startS3rver, type TestS3 } from "./helpers/s3rver.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PART = 64 * 1024;

/**
 * A TCP proxy on 127.0.0.1 that forwards to `upstreamPort` and, `cuts` times, resets both
 * sides of a connection once `cutEveryBytes` more request bytes have gone through: a network
 * cut in the middle of an upload, as a flaky factory uplink produces. The first
 * `silentConnections` connections are accepted and then ignored: a link that just goes quiet.
 */
class CuttingProxy {
  cutsDone = 0;
  silencedDone = 0;
  private forwarded = 0;
  private nextCutAt: number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private readonly upstreamPort: number;
  private readonly cutEveryBytes: number;
  private cutsLeft: number;
  private silentConnections: number;

  constructor(
    upstreamPort: number,
    cutEveryBytes: number,
    cutsLeft: number,
    silentConnections = 0,
  ) {
    this.upstreamPort = upstreamPort;
    this.cutEveryBytes = cutEveryBytes;
    this.cutsLeft = cutsLeft;
    this.silentConnections = silentConnections;
    this.nextCutAt = cutEveryBytes;
    this.server = createServer((client) => this.relay(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    assert.ok(address && typeof address === "object");
    return address.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    this.sockets.add(client);
    if (this.silentConnections > 0) {
      this.silentConnections--;
      this.silencedDone++;
      client.on("error", () => client.destroy());
      return;
    }
    const upstream = connect(this.upstreamPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      if (this.cutsLeft > 0 && this.forwarded + chunk.length >= this.nextCutAt) {
        const keep = this.nextCutAt - this.forwarded;
        upstream.write(chunk.subarray(0, keep));
        this.forwarded += keep;
        this.nextCutAt = this.forwarded + this.cutEveryBytes;
        this.cutsLeft--;
        this.cutsDone++;
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      this.forwarded += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("uploadLot through a link that drops connections", () => {
  let s3: TestS3;
  let work: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    work = await mkdtemp(join(tmpdir(), "waferflow-agent-net-"));
  });
  afterAll(async () => {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("retries every cut request and every object arrives intact", async () => {
    const images = {
      "big.png": Buffer.concat([PNG, randomBytes(10 * PART)]),
      "mid.png": Buffer.concat([PNG, randomBytes(PART + 5)]),
      "small.png": Buffer.concat([PNG, randomBytes(3000)]),
    };
    const dir = join(work, "lot");
    await mkdir(dir);
    for (const [name, content] of Object.entries(images)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, "lot.json"), JSON.stringify({ lotId: "LOT-IT-NET" }));

    // A cut every 100,000 bytes forwarded, five times: the images alone are over 720,000 bytes, so
    // the fifth cut comes however the requests interleave and whatever a cut request had sent.
    // (Every 150,000 needed 750,000 bytes forwarded, which only the resent bytes of cut requests
    // and the headers made up: a race on where the cuts fell.)
    const proxy = new CuttingProxy(Number(new URL(s3.endpoint).port), 100_000, 5);
    const port = await proxy.listen();
    // One attempt per SDK call: the recovery under test is the agent's own, not the SDK's.
    const throughProxy = s3.client({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    const retries: string[] = [];
    try {
      const result = await uploadLot({
        dir,
        s3: throughProxy,
        bucket: s3.bucket,
        stateDir: join(work, "state"),
        partSizeBytes: PART,
        multipartThresholdBytes: 2 * PART,
        allowSmallParts: true,
        concurrency: 2,
        retry: { attempts: 6, baseDelayMs: 5, maxDelayMs: 50 },
        log: (line) => {
          if (line.includes("; retry ")) retries.push(line);
        },
      });
      assert.equal(result.uploaded, 3);
      assert.equal(result.manifestWritten, true);
    } finally {
      await proxy.close();
    }

    assert.equal(proxy.cutsDone, 5, "the link was cut five times");
    assert.ok(retries.length >= 5, `each cut was retried:\n${retries.join("\n")}`);
    const direct = s3.client();
    for (const [name, content] of Object.entries(images)) {
      const object = await direct.send(
        new GetObjectCommand({ Bucket: s3.bucket, Key: lotKeys.image("LOT-IT-NET", name) }),
      );
      const stored = await object.Body?.transformToByteArray();
      assert.ok(stored);
      assert.equal(sha256(stored), sha256(content), `${name} is intact`);
    }
    // The S3 process reports creations over IPC beside its answers: wait for the manifest's.
    const manifestAt = await s3.waitForCreated("lots/LOT-IT-NET/manifest.json");
    assert.equal(manifestAt, s3.events.length - 1, "the manifest is the last object created");
  });

  test("gives up after the retry budget with an UploadError and no manifest", async () => {
    const dir = join(work, "lot-down");
    await mkdir(dir);
    await writeFile(join(dir, "a.png"), Buffer.concat([PNG, randomBytes(50_000)]));
    await writeFile(join(dir, "lot.json"), JSON.stringify({ lotId: "LOT-IT-DOWN" }));
    const proxy = new CuttingProxy(Number(new URL(s3.endpoint).port), 1000, 1000);
    const port = await proxy.listen();
    const throughProxy = s3.client({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    try {
      await assert.rejects(
        uploadLot({
          dir,
          s3: throughProxy,
          bucket: s3.bucket,
          stateDir: join(work, "state"),
          retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
        }),
        (error: Error) =>
          error.name === "UploadError" &&
          /a\.png/.test(error.message) &&
          /manifest not written/.test(error.message),
      );
    } finally {
      await proxy.close();
    }
    assert.equal(
      s3.events.some((e) => e.key === "lots/LOT-IT-DOWN/manifest.json"),
      false,
    );
  });

  test("a link that goes silent fails the request at its deadline, and the retry gets through", async () => {
    const dir = join(work, "lot-silent");
    await mkdir(dir);
    const content = Buffer.concat([PNG, randomBytes(20_000)]);
    await writeFile(join(dir, "a.png"), content);
    await writeFile(join(dir, "lot.json"), JSON.stringify({ lotId: "LOT-IT-SILENT" }));
    const proxy = new CuttingProxy(Number(new URL(s3.endpoint).port), 1, 0, 2);
    const port = await proxy.listen();
    const throughProxy = s3.client({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    const lines: string[] = [];
    try {
      const result = await uploadLot({
        dir,
        s3: throughProxy,
        bucket: s3.bucket,
        stateDir: join(work, "state"),
        // Long enough that a loaded machine's answers still come in time; only silence exceeds it.
        requestTimeoutMs: 2000,
        retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 },
        log: (line) => lines.push(line),
      });
      assert.equal(result.manifestWritten, true);
    } finally {
      await proxy.close();
    }
    assert.equal(proxy.silencedDone, 2);
    const timeouts = lines.filter((line) =>
      /RequestTimeoutError: .*no answer within 2000 ms/.test(line),
    );
    assert.ok(timeouts.length >= 2, `both silent connections timed out:\n${lines.join("\n")}`);
    const object = await s3
      .client()
      .send(
        new GetObjectCommand({ Bucket: s3.bucket, Key: lotKeys.image("LOT-IT-SILENT", "a.png") }),
      );
    const stored = await object.Body?.transformToByteArray();
    assert.ok(stored);
    assert.equal(sha256(stored), sha256(content));
  });
});
