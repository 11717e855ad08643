// The model container's command, run exactly as endpoint/Dockerfile says, from a production-only install of what it copies.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { readImageHeader } from "../../lib/gray-image.ts";
import { InvocationResponseSchema, UnusableResponseSchema } from "../../schemas/detection.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCKERFILE = join(ROOT, "endpoint/Dockerfile");
const WAFER = join(ROOT, "test/fixtures/lot-e2e/wafer-001.png");
/** Out of spec (sensor noise, 512 px): the quality gate answers it `unusable` without a detection. */
const REFUSED = join(ROOT, "test/fixtures/lot-quality/wafer-005.png");

interface Dockerfile {
  workdir: string;
  env: Record<string, string>;
  copies: { sources: string[]; dest: string }[];
  runs: string[];
  exposes: string[];
  entrypoint: string[];
  cmd: string[];
}

/** The instructions this test needs, with continuation lines joined; ENTRYPOINT and CMD must be exec form. */
function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const file: Dockerfile = {
    workdir: "/",
    env: {},
    copies: [],
    runs: [],
    exposes: [],
    entrypoint: [],
    cmd: [],
  };
  const execForm = (instruction: string, rest: string): string[] => {
    const parsed: unknown = JSON.parse(rest);
    assert.ok(
      Array.isArray(parsed) && parsed.every((part) => typeof part === "string"),
      `${instruction} must be exec form (a JSON array of strings), got ${rest}`,
    );
    return parsed;
  };
  for (const line of lines) {
    const [instruction = "", ...words] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    switch (instruction.toUpperCase()) {
      case "WORKDIR":
        file.workdir = rest;
        break;
      case "ENV":
        for (const pair of words) {
          const [key, ...value] = pair.split("=");
          assert.ok(key && value.length > 0, `ENV in KEY=value form: ${line}`);
          file.env[key] = value.join("=");
        }
        break;
      case "COPY": {
        const args = words.filter((word) => !word.startsWith("--"));
        assert.ok(!words.some((w) => w.startsWith("--from")), "COPY --from is not emulated");
        file.copies.push({ sources: args.slice(0, -1), dest: args.at(-1) ?? "." });
        break;
      }
      case "RUN":
        file.runs.push(rest);
        break;
      case "EXPOSE":
        file.exposes.push(...words);
        break;
      case "ENTRYPOINT":
        file.entrypoint = execForm(instruction, rest);
        break;
      case "CMD":
        file.cmd = execForm(instruction, rest);
        break;
    }
  }
  return file;
}

/** Tracked and new (not ignored) files: what a commit of this working tree would hold. */
function projectFiles(): string[] {
  return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((file) => file && existsSync(join(ROOT, file)));
}

/** Copies what each COPY names (from the project's files only) to the image's WORKDIR, here `target`. */
function copyAsDockerfileSays(dockerfile: Dockerfile, target: string): void {
  const files = projectFiles();
  for (const { sources, dest } of dockerfile.copies) {
    const destDir = resolve(target, dest);
    for (const source of sources) {
      const prefix = source.replace(/^\.\//, "");
      const matched = files.filter(
        (file) => file === prefix || (prefix.endsWith("/") && file.startsWith(prefix)),
      );
      assert.ok(matched.length > 0, `COPY ${source}: no project file matches`);
      for (const file of matched) {
        // `COPY dir/ dest/` copies the directory's contents; `COPY a b c ./` keeps base names.
        const relative = prefix.endsWith("/")
          ? file.slice(prefix.length)
          : dest.endsWith("/")
            ? file.split("/").pop()
            : "";
        const to = relative ? join(destDir, relative) : destDir;
        mkdirSync(dirname(to), { recursive: true });
        cpSync(join(ROOT, file), to);
      }
    }
  }
}

/**
 * A folder tree hard-linked (copied where the file system cannot link): the files' real paths are
 * inside `to`, so Node resolves packages there and never in this checkout's node_modules. A
 * package's own node_modules is left out: the lock lists its packages one by one.
 */
function linkTree(from: string, to: string, isPackageRoot = true): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (isPackageRoot && entry.name === "node_modules") continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else if (entry.isDirectory()) linkTree(source, target, false);
    else {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

/**
 * What the Dockerfile's `npm ci --omit=dev` puts in node_modules: every package of
 * package-lock.json that npm has not marked `dev` (npm's own split, written into the lock), at the
 * lock's own path, with the files this checkout's `npm ci` installed for this platform (optional
 * packages of other platforms are absent here, as they are from the image). Measured against a
 * real `npm@10 ci --omit=dev`: the same packages, less two optional ones sharp never loads on
 * linux-x64 (@img/sharp-wasm32, @emnapi/runtime). A real install here cost about 10 s of CPU;
 * that npm 10 installs this lock with .npmrc, install scripts included, CI's own `npm ci` shows.
 */
function installProductionDependencies(image: string): string[] {
  // The lock as the Dockerfile copied it.
  const lock = JSON.parse(readFileSync(join(image, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const installed: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || entry.dev || !existsSync(join(ROOT, path))) continue;
    linkTree(join(ROOT, path), join(image, path));
    installed.push(path);
  }
  return installed;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once("error", () => resolvePort(false));
    probe.listen(port, "0.0.0.0", () => probe.close(() => resolvePort(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Local addresses in LISTEN state, from `ss -ltn` (or /proc/net/tcp where ss is missing). */
function listeningAddresses(): string[] {
  const ss = spawnSync("ss", ["-ltnH"], { encoding: "utf8" });
  if (ss.status === 0) {
    return ss.stdout
      .split("\n")
      .map((line) => line.trim().split(/\s+/)[3])
      .filter((address): address is string => Boolean(address));
  }
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns[3] === "0A")
    .map((columns) => {
      const [hexAddress = "", hexPort = ""] = (columns[1] ?? "").split(":");
      const octets = (hexAddress.match(/../g) ?? []).reverse().map((h) => Number.parseInt(h, 16));
      return `${octets.join(".")}:${Number.parseInt(hexPort, 16)}`;
    });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request over loopback. With `beforeBody`, the request asks `Expect: 100-continue`
 * and runs `beforeBody` once the server has taken the request in (its 100 Continue), before
 * sending the body: a request that is surely in flight, without guessing at timing.
 */
function send(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  beforeBody?: () => Promise<void>,
): Promise<Answer> {
  return new Promise((resolveAnswer, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        headers: {
          ...(body ? { "content-type": "image/png", "content-length": body.length } : {}),
          ...(beforeBody ? { expect: "100-continue" } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
      },
    );
    req.on("error", reject);
    if (!body) {
      req.end();
      return;
    }
    if (!beforeBody) {
      req.end(body);
      return;
    }
    req.once("continue", () => {
      void beforeBody().then(() => req.end(body), reject);
    });
  });
}

function waitFor(read: () => string, pattern: RegExp, what: string, exited: Promise<unknown>) {
  return new Promise<RegExpExecArray>((resolveMatch, reject) => {
    const timer = setInterval(() => {
      const match = pattern.exec(read());
      if (match) {
        clearInterval(timer);
        resolveMatch(match);
      }
    }, 50);
    void exited.then(() => {
      clearInterval(timer);
      reject(new Error(`the container command exited before ${what}:\n${read()}`));
    });
  });
}

const dockerfile = parseDockerfile(readFileSync(DOCKERFILE, "utf8"));

describe("the model container (endpoint/Dockerfile)", () => {
  let image: string;
  let output = "";
  let port = 8080;
  let child: ReturnType<typeof spawn>;
  let exited: Promise<[number | null, NodeJS.Signals | null]>;

  beforeAll(async () => {
    image = mkdtempSync(join(tmpdir(), "waferflow-container-"));
    copyAsDockerfileSays(dockerfile, image);
    assert.ok(existsSync(join(image, "package-lock.json")), "the Dockerfile copies the lock");
    // The image's own `npm ci` is not run here: without this line onnxruntime-node's install
    // script downloads CUDA from the internet (npm 10 runs it), so the build would hang or fail.
    assert.match(
      readFileSync(join(image, ".npmrc"), "utf8"),
      /^onnxruntime-node-install=skip$/m,
      "the Dockerfile copies the .npmrc that skips onnxruntime-node's CUDA download",
    );
    const installed = installProductionDependencies(image);
    assert.ok(installed.includes("node_modules/tsx"), "tsx, which runs the server, is installed");
    assert.ok(
      !existsSync(join(image, "node_modules/vitest")),
      "a production install has no dev dependencies",
    );

    if (!(await portIsFree(8080))) {
      port = await freePort();
      console.log(
        `container test: 8080 is taken on this machine; serving on ${port} via SAGEMAKER_BIND_TO_PORT`,
      );
    }
    const [command = "", ...args] = [...dockerfile.entrypoint, ...dockerfile.cmd];
    // The image's PATH finds Node 22 first; here that is the Node running this test.
    child = spawn(command, args, {
      cwd: image,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: image,
        ...dockerfile.env,
        // One warm-up wafer in one thread: proves the image's files can render and inspect it (the
        // default 12 would cost this test about 17 s of CPU more; a second thread would only
        // repeat the same start and warm-up, about 2 s).
        WAFERFLOW_WARMUP_WAFERS: "1",
        WAFERFLOW_INFERENCE_THREADS: "1",
        ...(port !== 8080 ? { SAGEMAKER_BIND_TO_PORT: String(port) } : {}),
      },
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    await waitFor(() => output, /listening on 0\.0\.0\.0:(\d+)/, "listening", exited);
  });

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (image) rmSync(image, { recursive: true, force: true });
  });

  it("is built the way SageMaker needs: exec-form serve on 8080, production install", () => {
    assert.deepEqual(dockerfile.cmd, ["serve"], "SageMaker starts the image with 'serve'");
    assert.ok(dockerfile.entrypoint.length > 0, "an exec-form ENTRYPOINT");
    assert.ok(dockerfile.exposes.includes("8080"), "EXPOSE 8080");
    assert.ok(
      dockerfile.runs.some((run) => /\bnpm ci\b/.test(run) && run.includes("--omit=dev")),
      "dependencies installed with npm ci --omit=dev",
    );
  });

  it("listens on all interfaces, on 8080 unless SAGEMAKER_BIND_TO_PORT says otherwise", () => {
    assert.match(output, new RegExp(`listening on 0\\.0\\.0\\.0:${port}\\b`));
    const addresses = listeningAddresses();
    assert.ok(
      addresses.includes(`0.0.0.0:${port}`) || addresses.includes(`*:${port}`),
      `0.0.0.0:${port} in LISTEN state (found ${addresses.join(", ")})`,
    );
  });

  it("answers /ping and /invocations through 127.0.0.1 with a fixture wafer", async () => {
    const ping = await send(port, "GET", "/ping");
    assert.equal(ping.status, 200, ping.body);
    // Healthy only after each inference thread warmed up, from what the Dockerfile copies.
    const warm = output.split("\n").filter((line) => line.includes('"inference-worker-warm"'));
    assert.ok(warm.length > 0, output);
    for (const line of warm) assert.equal(JSON.parse(line).wafers, 1, line);
    const answer = await send(port, "POST", "/invocations", readFileSync(WAFER));
    assert.equal(answer.status, 200, answer.body);
    const parsed = InvocationResponseSchema.parse(JSON.parse(answer.body));
    const header = await readImageHeader(readFileSync(WAFER));
    assert.equal(parsed.wafer.imageWidth, header.width);
  });

  it("on SIGTERM finishes the request in flight, then exits 0", async () => {
    // The body goes once the server is draining; an image the gate refuses still goes through an
    // inference thread and answers 200, one detection less than a wafer (the test above has one).
    const answer = await send(port, "POST", "/invocations", readFileSync(REFUSED), async () => {
      child.kill("SIGTERM");
      await waitFor(() => output, /finishing requests in flight/, "draining", exited);
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(UnusableResponseSchema.parse(JSON.parse(answer.body)).status, "unusable");
    assert.equal(answer.headers.connection, "close");
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0, output);
  });
});

describe("the model container image, where a container engine runs", () => {
  it("builds and serves /ping, and stops with exit code 0", async () => {
    const info = spawnSync("docker", ["info"], { encoding: "utf8" });
    if (info.status !== 0) {
      console.log(
        `container image test not run: no container engine here (docker info: ${
          info.error?.message ?? info.stderr.trim().split("\n").at(-1)
        })`,
      );
      return;
    }
    const tag = `waferflow-endpoint-test:${process.pid}`;
    const build = spawnSync("docker", ["build", "-f", DOCKERFILE, "-t", tag, ROOT], {
      encoding: "utf8",
    });
    assert.equal(build.status, 0, build.stderr);
    const hostPort = await freePort();
    const name = `waferflow-endpoint-test-${process.pid}`;
    const run = spawnSync(
      "docker",
      ["run", "-d", "--name", name, "-p", `127.0.0.1:${hostPort}:8080`, tag, "serve"],
      { encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    try {
      let ping: Answer | undefined;
      for (let attempt = 0; attempt < 120 && ping?.status !== 200; attempt++) {
        ping = await send(hostPort, "GET", "/ping").catch(() => undefined);
        if (ping?.status !== 200) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(ping?.status, 200);
      const answer = await send(hostPort, "POST", "/invocations", readFileSync(WAFER));
      assert.equal(answer.status, 200, answer.body);
      assert.equal(spawnSync("docker", ["stop", name]).status, 0);
      const code = spawnSync("docker", ["inspect", "-f", "{{.State.ExitCode}}", name], {
        encoding: "utf8",
      });
      assert.equal(code.stdout.trim(), "0");
    } finally {
      spawnSync("docker", ["rm", "-f", name]);
      spawnSync("docker", ["rmi", "-f", tag]);
    }
  });
});
