// `waferflow local` (npm start) on fixed ports: it listens where told and writes the client settings to the data dir.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, describe, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Ports free at this moment, all different: each is held until all are chosen (closing one first
 * could see the next listen(0) given the same port back). Another process may still take one
 * before `waferflow local` binds it: the test then starts again on others (see startOnFreePorts).
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolvePort, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => {
              const address = server.address();
              resolvePort(typeof address === "object" && address ? address.port : 0);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((closed) => server.close(() => closed()))),
    );
  }
}

describe("waferflow local --ports", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-cli-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * Starts `waferflow local` on ports free a moment ago. If another process took one of them in
   * between (the machine runs other tests and clients that bind and connect all the time), the
   * stack says it cannot listen and exits: that start is tried again on other ports, up to three
   * times. Any other failure fails the test.
   */
  async function startOnFreePorts(): Promise<{
    started: ChildProcess;
    ports: { s3: number; dynamodb: number; sns: number };
    dataRoot: string;
    stderr: string;
  }> {
    for (let attempt = 1; ; attempt++) {
      const [s3, dynamodb, sns] = await freePorts(3);
      const ports = { s3: s3 ?? 0, dynamodb: dynamodb ?? 0, sns: sns ?? 0 };
      const dataRoot = join(dataDir, `data-${attempt}`);
      let stderr = "";
      const started = spawn(
        join(ROOT, "node_modules/.bin/node"),
        [
          join(ROOT, "bin/waferflow.js"),
          "local",
          "--data-dir",
          dataRoot,
          "--inbox",
          join(dataDir, "inbox"),
          "--ports",
          `s3=${ports.s3},dynamodb=${ports.dynamodb},sns=${ports.sns}`,
        ],
        { cwd: dataDir, stdio: ["ignore", "ignore", "pipe"] },
      );
      child = started;
      started.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const envFile = join(dataRoot, "aws.env");
      const deadline = Date.now() + 120_000;
      while (!(existsSync(envFile) && stderr.includes("Drop lot folders"))) {
        assert.ok(Date.now() < deadline, `no aws.env after 120 s; stderr: ${stderr.slice(-2000)}`);
        if (started.exitCode !== null) break;
        await new Promise((done) => setTimeout(done, 200));
      }
      if (started.exitCode === null) return { started, ports, dataRoot, stderr };
      const taken = /cannot listen on 127\.0\.0\.1:\d+|EADDRINUSE/.test(stderr);
      assert.ok(taken && attempt < 3, `waferflow local exited: ${stderr.slice(-2000)}`);
    }
  }

  it("listens on the ports given and writes aws.env with them and the key pair", async () => {
    const { started, ports, dataRoot, stderr } = await startOnFreePorts();
    const envFile = join(dataRoot, "aws.env");
    const env = Object.fromEntries(
      readFileSync(envFile, "utf8")
        .split("\n")
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    ) as Record<string, string>;
    assert.equal(env.AWS_ENDPOINT_URL_S3, `http://127.0.0.1:${ports.s3}`);
    assert.equal(env.AWS_ENDPOINT_URL_SNS, `http://127.0.0.1:${ports.sns}`);
    assert.equal(env.AWS_ENDPOINT_URL_DYNAMODB, `http://127.0.0.1:${ports.dynamodb}`);
    assert.match(stderr, /signed \(SigV4\) with access key S3RVER/);
    // A client configured from the file alone reaches the stack.
    const dynamodb = new DynamoDBClient({
      endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
      region: env.AWS_REGION,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
      },
    });
    const tables = await dynamodb.send(new ListTablesCommand({}));
    assert.ok((tables.TableNames ?? []).length > 0);
    const exited = new Promise<number | null>((done) => started.once("exit", (code) => done(code)));
    started.kill("SIGINT");
    assert.equal(await exited, 0);
  });
});
