// Runs the Debian aws CLI against the local stack: an independent client, isolated from any user config.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { LocalStack } from "../../../local/stack.ts";

export const AWS_CLI = "/usr/bin/aws";
const run = promisify(execFile);

export function assertAwsCliInstalled(): void {
  assert.ok(
    existsSync(AWS_CLI),
    `${AWS_CLI} is missing: install the Debian aws CLI with 'apt-get update && apt-get install -y awscli' (npm test does it as root)`,
  );
}

export type AwsCli = (service: string, endpoint: string, ...args: string[]) => Promise<unknown>;

/** `aws s3 ...` speaks to people; the other services answer JSON, parsed here. */
export function awsCli(stack: LocalStack): AwsCli {
  const home = mkdtempSync(join(tmpdir(), "waferflow-awscli-home-"));
  return async (service, endpoint, ...args) => {
    const { stdout } = await run(
      AWS_CLI,
      [service, "--endpoint-url", endpoint, "--output", "json", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: home,
          AWS_CONFIG_FILE: join(home, "no-config"),
          AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
          AWS_ACCESS_KEY_ID: stack.env.AWS_ACCESS_KEY_ID ?? "",
          AWS_SECRET_ACCESS_KEY: stack.env.AWS_SECRET_ACCESS_KEY ?? "",
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_PAGER: "",
        },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return service !== "s3" && stdout.trim() ? JSON.parse(stdout) : undefined;
  };
}
