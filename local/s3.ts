// The local S3: s3rver in a child process, and every s3rver quirk the stack works around, in one place (the child fixes the rest on the wire).
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ServiceStartError } from "./errors.ts";
import type { LocalService } from "./http.ts";
import type { BucketKms } from "./resource-model.ts";

export interface S3ChildConfig {
  port: number;
  directory: string;
  buckets: string[];
  /** The buckets whose default encryption is SSE-KMS (template.yaml), answered as S3 answers them. */
  kmsBuckets?: Record<string, BucketKms>;
}

/** An object that was created in S3, with what EventBridge's "Object Created" event needs. */
export interface S3ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  requestId: string;
  sourceIp: string;
  time: string;
  reason: string;
}

export type S3ChildMessage =
  | { type: "ready"; port: number }
  | { type: "failed"; message: string }
  | { type: "object-created"; object: S3ObjectCreated };

export interface LocalS3Options extends S3ChildConfig {
  onObjectCreated: (object: S3ObjectCreated) => void;
  log: (line: string) => void;
}

export { LOCAL_CREDENTIALS } from "./account.ts";

const CHILD_MODULE = fileURLToPath(new URL("./s3-child.ts", import.meta.url));
const STRIP_TYPES_CACHE = new URL("../lib/strip-types-cache.mjs", import.meta.url).href;
const STOP_GRACE_MS = 5_000;

/**
 * s3rver runs in its own Node process because its ListObjectsV2 continuation tokens use DES,
 * which Node 17+ only offers with the legacy OpenSSL provider; enabling that for the whole
 * user process (NODE_OPTIONS) would be intrusive and cannot be done after start anyway.
 */
export function startS3(options: LocalS3Options): Promise<LocalService> {
  const { onObjectCreated, log, ...config } = options;
  const child = fork(CHILD_MODULE, [JSON.stringify(config)], {
    // Node's own type stripping where it has it (22.18+: about 0.2 s of CPU less per start than
    // tsx's loader); s3-child.ts and what it imports use erasable syntax only. tsx otherwise.
    // Node's stripped text remembered between starts (lib/strip-types-cache.mjs).
    execArgv: [
      "--openssl-legacy-provider",
      ...(process.features.typescript && !CHILD_MODULE.includes("/node_modules/")
        ? ["--import", STRIP_TYPES_CACHE]
        : ["--import", import.meta.resolve("tsx")]),
    ],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim()) log(`s3: ${line}`);
    }
  };
  child.stdout?.on("data", relay);
  child.stderr?.on("data", relay);

  return new Promise<LocalService>((resolvePromise, reject) => {
    let ready = false;
    child.on("message", (message: S3ChildMessage) => {
      if (message.type === "object-created") {
        onObjectCreated(message.object);
      } else if (message.type === "failed" && !ready) {
        reject(new ServiceStartError(`local S3 failed to start: ${message.message}`));
      } else if (message.type === "ready") {
        ready = true;
        const url = `http://127.0.0.1:${message.port}`;
        // Asked over IPC while it can be, so it closes its server before it exits.
        const ask = () => (child.connected ? child.send({ type: "stop" }) : child.kill("SIGTERM"));
        resolvePromise({
          url,
          port: message.port,
          stop: () => stopChild(child, STOP_GRACE_MS, ask),
        });
      }
    });
    child.on("error", (cause) => {
      if (!ready) reject(new ServiceStartError("cannot start the local S3 process", { cause }));
      else log(`s3: child process error: ${cause.message}`);
    });
    child.on("exit", (code, signal) => {
      if (!ready) {
        reject(new ServiceStartError(`local S3 process exited early (code ${code}, ${signal})`));
      }
    });
  });
}

/**
 * Stops a child process of the stack (the S3 process, a Lambda sandbox): `ask` asks it to stop
 * (default SIGTERM); one still running after `graceMs` is killed.
 */
export function stopChild(
  child: ChildProcess,
  graceMs: number,
  ask = () => child.kill("SIGTERM"),
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const forceKill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(forceKill);
      resolvePromise();
    });
    ask();
  });
}
