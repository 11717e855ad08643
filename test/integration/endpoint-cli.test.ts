// Integration tests of `waferflow endpoint`: as a real process it serves, names its model, and stops cleanly on SIGTERM; it refuses a missing model file and a bad port.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "vitest";
import { inProcess } from "./helpers/cli-in-process.ts";

const NODE = "node_modules/.bin/node";

function startCli(args: string[]) {
  const child = spawn(NODE, ["bin/waferflow.js", "endpoint", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WAFERFLOW_MODEL: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(([code]) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  // Tests that expect a failed start never await `listening`.
  listening.catch(() => {});
  return { child, listening, exited, output: () => ({ stdout, stderr }) };
}

describe("waferflow endpoint", () => {
  it("serves the chosen model on 127.0.0.1 and exits 0 on SIGTERM", async () => {
    const cli = startCli([
      "--port",
      "0",
      "--model",
      "classical+onnx:endpoint/models/wafer-classifier.onnx",
    ]);
    const url = await cli.listening;
    const ping = await fetch(`${url}/ping`);
    assert.equal(ping.status, 200);
    const body = (await ping.json()) as { model: { name: string } };
    assert.equal(body.model.name, "waferflow-classical+onnx-wafer-classifier");
    assert.match(cli.output().stdout, /model waferflow-classical\+onnx-wafer-classifier/);
    cli.child.kill("SIGTERM");
    const [code] = await cli.exited;
    assert.equal(code, 0);
    assert.match(cli.output().stdout, /stopped on SIGTERM/);
  });

  // The two refusals run cli/main.ts's main() in this process (helpers/cli-in-process.ts): what a
  // real start adds, its exit status and stderr, cli.test.ts checks on real `waferflow` processes
  // (a usage error, exit 2; a failing command, exit 1), and the test above starts this command.
  it("fails at start, naming the problem, when the model file is missing", async () => {
    const run = await inProcess(["endpoint", "--port", "0", "--model", "onnx:does/not/exist.onnx"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /waferflow endpoint: .*does\/not\/exist\.onnx does not exist/);
    assert.doesNotMatch(run.stderr, /ModelSpecError/, "no class names in messages");
  });

  it("refuses a bad port", async () => {
    const run = await inProcess(["endpoint", "--port", "70000"]);
    assert.equal(run.code, 2, "a usage error");
    assert.match(run.stderr, /--port must be an integer from 0 to 65535, got '70000'/);
  });
});
