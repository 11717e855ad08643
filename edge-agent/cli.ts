// `waferflow agent upload|watch`: the edge agent on its own, configured from the environment once.
import { resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { parseCommandLine, UsageError, usageErrorLine, wantsHelp } from "../lib/cli.ts";
import { readConfig } from "../lib/config.ts";
import { MIN_PART_SIZE_BYTES } from "./part-size.ts";

const USAGE = `Usage:
  waferflow agent upload <lotDir...> [--force] [--concurrency n] [--part-size-mib n]
      Upload each lot folder (images, then the manifest); prints one JSON line per lot.
  waferflow agent watch <inbox> [--quiet-ms 5000] [--poll-ms 1000] [--concurrency n]
      Upload every lot folder that appears in <inbox>; completed ones move to <inbox>/.done.

Environment:
  WAFERFLOW_BUCKET (or BUCKET_NAME)   bucket lots go to (required)
  WAFERFLOW_STATE_DIR                 journals, kept across restarts (default .waferflow/agent)
  AWS_ENDPOINT_URL_S3, AWS_REGION, AWS credentials as for any AWS SDK client`;

const AgentEnvSchema = z
  .object({
    WAFERFLOW_BUCKET: z.string().min(1).optional(),
    BUCKET_NAME: z.string().min(1).optional(),
    WAFERFLOW_STATE_DIR: z.string().min(1).default(".waferflow/agent"),
  })
  .transform((env, context) => {
    const bucket = env.WAFERFLOW_BUCKET ?? env.BUCKET_NAME;
    if (!bucket) {
      context.addIssue({
        code: "custom",
        path: ["WAFERFLOW_BUCKET"],
        message: "set WAFERFLOW_BUCKET (or BUCKET_NAME) to the bucket lots are uploaded to",
      });
      return z.NEVER;
    }
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      context.addIssue({
        code: "custom",
        path: [env.WAFERFLOW_BUCKET ? "WAFERFLOW_BUCKET" : "BUCKET_NAME"],
        message: `'${bucket}' is not a valid S3 bucket name`,
      });
      return z.NEVER;
    }
    return { bucket, stateDir: resolve(env.WAFERFLOW_STATE_DIR) };
  });
export type AgentConfig = z.infer<typeof AgentEnvSchema>;

export function readAgentConfig(
  env: Record<string, string | undefined> = process.env,
): AgentConfig {
  return readConfig(AgentEnvSchema, env);
}

export interface AgentCommandDeps {
  env?: Record<string, string | undefined>;
  /** Tests pass a client for their own server; otherwise lib/aws.ts builds one from the environment. */
  s3?: S3Client;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Stops `watch` (and interrupts uploads); SIGINT/SIGTERM when not given. */
  signal?: AbortSignal;
}

function numberOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min) {
    throw new UsageError(`--${name} must be a number of at least ${min}, got '${value}'`);
  }
  return parsed;
}

function integerOption(name: string, value: string | undefined, min: number): number | undefined {
  const parsed = numberOption(name, value, min);
  if (parsed !== undefined && !Number.isInteger(parsed)) {
    throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  }
  return parsed;
}

/** An AbortSignal for Ctrl-C / SIGTERM: the journal keeps progress, so stopping mid-lot is safe. */
function shutdownSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("stopped by signal"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

export async function runAgentCommand(
  argv: string[],
  deps: AgentCommandDeps = {},
): Promise<number> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = deps.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === "help" || (sub && wantsHelp(rest))) {
    out(USAGE);
    return 0;
  }
  if (!sub) {
    err(usageErrorLine("waferflow agent", "give a sub-command: upload or watch"));
    return 2;
  }
  if (sub !== "upload" && sub !== "watch") {
    err(usageErrorLine("waferflow agent", `unknown sub-command '${sub}'`));
    return 2;
  }

  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand(sub, rest);
  } catch (error) {
    err(usageErrorLine(`waferflow agent ${sub}`, (error as Error).message));
    return 2;
  }
  const config = readAgentConfig(deps.env);
  // Loaded once the command line is good, in the order the file's imports had: --help and usage
  // errors load neither the AWS SDK nor the uploader (about 0.7 s of CPU per start).
  const { createAgentS3Client } = await import("../lib/aws.ts");
  const { watchInbox } = await import("./inbox.ts");
  const { uploadLot } = await import("./upload.ts");
  const s3 = deps.s3 ?? createAgentS3Client();
  const shutdown = deps.signal ? undefined : shutdownSignal();
  const signal = deps.signal ?? (shutdown as { signal: AbortSignal }).signal;
  const log = (line: string) => err(line);
  const common = { s3, bucket: config.bucket, stateDir: config.stateDir, signal, log };

  try {
    if (parsed.kind === "upload") {
      let failed = 0;
      for (const dir of parsed.dirs) {
        try {
          const result = await uploadLot({ ...common, ...parsed.options, dir: resolve(dir) });
          out(
            JSON.stringify({
              lotDir: dir,
              lotId: result.lotId,
              manifestKey: result.manifestKey,
              uploaded: result.uploaded,
              skipped: result.skipped,
              rejected: result.rejected,
              manifestWritten: result.manifestWritten,
            }),
          );
        } catch (error) {
          if (signal.aborted) throw error;
          failed++;
          err(`waferflow agent upload: ${dir}: ${(error as Error).message}`);
        }
      }
      return failed === 0 ? 0 : 1;
    }
    await watchInbox({
      inbox: resolve(parsed.inbox),
      quietMs: parsed.quietMs,
      pollMs: parsed.pollMs,
      signal,
      log,
      onLotReady: async (dir, context) => {
        const result = await uploadLot({
          ...common,
          ...parsed.options,
          dir,
          signal: context.signal,
        });
        log(
          `lot ${result.lotId}: ${result.uploaded} images uploaded, manifest ${result.manifestKey}`,
        );
      },
    });
    return 0;
  } finally {
    shutdown?.dispose();
  }
}

function parseCommand(sub: "upload" | "watch", args: string[]) {
  const { values, positionals } = parseCommandLine(
    args,
    {
      force: { type: "boolean", default: false },
      concurrency: { type: "string" },
      "part-size-mib": { type: "string" },
      "quiet-ms": { type: "string", default: "5000" },
      "poll-ms": { type: "string", default: "1000" },
    },
    { allowPositionals: true },
  );
  const partSizeMib = numberOption(
    "part-size-mib",
    values["part-size-mib"],
    MIN_PART_SIZE_BYTES / 1024 / 1024,
  );
  const options = {
    force: values.force,
    concurrency: integerOption("concurrency", values.concurrency, 1),
    partSizeBytes: partSizeMib === undefined ? undefined : Math.round(partSizeMib * 1024 * 1024),
  };
  if (sub === "upload") {
    if (positionals.length === 0) throw new UsageError("give at least one lot directory");
    return { kind: "upload" as const, dirs: positionals, options };
  }
  const [inbox, ...extra] = positionals;
  if (!inbox || extra.length > 0) throw new UsageError("give exactly one inbox directory");
  return {
    kind: "watch" as const,
    inbox,
    options,
    quietMs: numberOption("quiet-ms", values["quiet-ms"], 0) ?? 5000,
    pollMs: numberOption("poll-ms", values["poll-ms"], 10) ?? 1000,
  };
}
