// bin/waferflow.js under an older Node re-runs itself under the pinned Node 22: signals reach that child, and its exit status comes back.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A Node older than 22 on this machine, which makes the launcher re-run under the pinned one. */
function olderNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    const probe = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" });
    if (probe.status === 0 && Number(probe.stdout.split(".")[0]) < 22) return candidate;
  }
  return undefined;
}

const OLD_NODE = olderNode();
const groups: number[] = [];

function launch(args: string[]) {
  // Its own process group, so cleanup reaches the re-run child even if forwarding were broken.
  const child = spawn(OLD_NODE ?? "node", ["bin/waferflow.js", ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WAFERFLOW_MODEL: "" },
  });
  if (child.pid) groups.push(child.pid);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const output = () => ({ stdout, stderr });
  // Resolved in the very chunk that announces the server, not on a later poll: the tests signal at
  // once, as a supervisor may, so a command that announces itself before its signal handlers are in
  // fails here (it did: killed by the signal, nothing drained).
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => {
      if (/listening on http/.test(stdout)) resolve();
    });
    void exited.then(() => reject(new Error(`exited before listening: ${stderr}`)));
  });
  listening.catch(() => {});
  return { child, exited, output, listening };
}

afterAll(() => {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone, as it should be
    }
  }
});

describe("the waferflow launcher under an older Node", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`passes ${signal} on, so the command stops cleanly and its exit status 0 comes back`, async () => {
      if (!OLD_NODE) {
        console.log("launcher test not run: no Node older than 22 here, so nothing is re-run");
        return;
      }
      const run = launch(["endpoint", "--port", "0"]);
      await run.listening;
      run.child.kill(signal);
      const [code, received] = await run.exited;
      assert.equal(received, null, "the launcher itself was not killed by the signal");
      assert.equal(code, 0, run.output().stderr);
      assert.match(run.output().stdout, new RegExp(`stopped on ${signal}`));
    });
  }

  it("returns the re-run command's exit status", async () => {
    if (!OLD_NODE) {
      console.log("launcher test not run: no Node older than 22 here, so nothing is re-run");
      return;
    }
    const run = launch(["no-such-command"]);
    const [code] = await run.exited;
    assert.equal(code, 2);
    assert.match(run.output().stderr, /unknown command 'no-such-command'/);
  });
});
