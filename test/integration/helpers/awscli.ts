// Runs the Debian aws CLI against the local stack: an independent client, isolated from any user config.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import type { LocalStack } from "../../../local/stack.ts";

export const AWS_CLI = "/usr/bin/aws";
const RESIDENT = join(import.meta.dirname, "awscli-resident.py");
const run = promisify(execFile);

export function assertAwsCliInstalled(): void {
  assert.ok(
    existsSync(AWS_CLI),
    `${AWS_CLI} is missing: install the Debian aws CLI with 'apt-get update && apt-get install -y awscli' (npm test does it as root)`,
  );
}

/** A failed command: its exit code and what it wrote to stderr, as execFile reports them. */
export class AwsCliError extends Error {
  override name = "AwsCliError";
  readonly args: string[];
  readonly code: number;
  readonly stderr: string;
  constructor(args: string[], code: number, stderr: string) {
    super(`aws ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
    this.args = args;
    this.code = code;
    this.stderr = stderr;
  }
}

type Command = (service: string, endpoint: string, ...args: string[]) => Promise<unknown>;

/**
 * `aws(service, endpoint, ...args)` runs the CLI's own entry point (`AWSCLIEntryPoint().main`,
 * all /usr/bin/aws does) in one resident interpreter per file (helpers/awscli-resident.py):
 * every command gets a new driver and session, as a new process would, without Python's start
 * and the CLI's imports (about 0.6 s of CPU a command) and with the CLI's data files (its JSON
 * service models) parsed once per interpreter, not per command. `aws.started(...)` is a real `aws`
 * process, for what only a process shows (its exit status); `aws.close()` ends the interpreter.
 */
export type AwsCli = Command & { started: Command; close(): Promise<void> };

/** `aws s3 ...` speaks to people; the other services answer JSON, parsed here. */
const parsed = (service: string, stdout: string): unknown =>
  service !== "s3" && stdout.trim() ? JSON.parse(stdout) : undefined;

export function awsCli(stack: LocalStack): AwsCli {
  const home = mkdtempSync(join(tmpdir(), "waferflow-awscli-home-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    AWS_CONFIG_FILE: join(home, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
    AWS_ACCESS_KEY_ID: stack.env.AWS_ACCESS_KEY_ID ?? "",
    AWS_SECRET_ACCESS_KEY: stack.env.AWS_SECRET_ACCESS_KEY ?? "",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_PAGER: "",
  };
  const argv = (service: string, endpoint: string, args: string[]) => [
    service,
    "--endpoint-url",
    endpoint,
    "--output",
    "json",
    ...args,
  ];

  let resident: ChildProcess | undefined;
  const waiting: Array<(answer: { rc: number; stdout: string; stderr: string }) => void> = [];
  let stderr = "";
  /** The interpreter /usr/bin/aws names on its first line, so both run the same installation. */
  const start = (): ChildProcess => {
    const shebang = readFileSync(AWS_CLI, "utf8").split("\n")[0] ?? "";
    const interpreter = shebang.replace(/^#!\s*/, "");
    assert.ok(interpreter.startsWith("/"), `${AWS_CLI} names no interpreter`);
    const child: ChildProcess = spawn(interpreter, [RESIDENT], {
      env,
      stdio: ["pipe", "ignore", "pipe", "pipe"],
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const answers = child.stdio[3];
    assert.ok(answers && "on" in answers);
    createInterface({ input: answers as NodeJS.ReadableStream }).on("line", (line) => {
      waiting.shift()?.(JSON.parse(line));
    });
    child.once("exit", (code, signal) => {
      resident = undefined;
      const failure = {
        rc: -1,
        stdout: "",
        stderr: `the resident aws CLI exited (${signal ?? code}): ${stderr}`,
      };
      for (const answer of waiting.splice(0)) answer(failure);
    });
    return child;
  };

  const aws = (async (service: string, endpoint: string, ...args: string[]) => {
    resident ??= start();
    const full = argv(service, endpoint, args);
    const answer = await new Promise<{ rc: number; stdout: string; stderr: string }>((done) => {
      waiting.push(done);
      resident?.stdin?.write(`${JSON.stringify(full)}\n`);
    });
    if (answer.rc !== 0) throw new AwsCliError(full, answer.rc, answer.stderr);
    return parsed(service, answer.stdout);
  }) as AwsCli;

  aws.started = async (service, endpoint, ...args) => {
    const { stdout } = await run(AWS_CLI, argv(service, endpoint, args), {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    return parsed(service, stdout);
  };

  aws.close = async () => {
    const child = resident;
    if (!child) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.stdin?.end();
    await exited;
  };
  return aws;
}
