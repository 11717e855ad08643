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

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

describe("waferflow local --ports", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "waferflow-cli-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("listens on the ports given and writes aws.env with them and the key pair", async () => {
    const ports = { s3: await freePort(), dynamodb: await freePort(), sns: await freePort() };
    let stderr = "";
    child = spawn(
      join(ROOT, "node_modules/.bin/node"),
      [
        join(ROOT, "bin/waferflow.js"),
        "local",
        "--data-dir",
        join(dataDir, "data"),
        "--inbox",
        join(dataDir, "inbox"),
        "--ports",
        `s3=${ports.s3},dynamodb=${ports.dynamodb},sns=${ports.sns}`,
      ],
      { cwd: dataDir, stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const envFile = join(dataDir, "data", "aws.env");
    const deadline = Date.now() + 120_000;
    while (!(existsSync(envFile) && stderr.includes("Drop lot folders"))) {
      assert.ok(Date.now() < deadline, `no aws.env after 120 s; stderr: ${stderr.slice(-2000)}`);
      assert.equal(child.exitCode, null, `waferflow local exited: ${stderr.slice(-2000)}`);
      await new Promise((done) => setTimeout(done, 200));
    }
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
    const exited = new Promise<number | null>((done) => child?.once("exit", (code) => done(code)));
    child.kill("SIGINT");
    assert.equal(await exited, 0);
  });
});
