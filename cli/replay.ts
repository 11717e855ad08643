// `waferflow replay`: pushes lot folders through an ephemeral embedded stack and prints their reports.
import { join, resolve } from "node:path";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import type { LocalStack } from "../local/stack.ts";
import { quietHandlerLogs } from "./quiet-logs.ts";
import type { LotEnding } from "./reports.ts";

export interface ReplayOutcome {
  lotDir: string;
  lotId?: string;
  ending?: LotEnding;
  problem?: string;
}

export interface ReplayOptions {
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Reuse a running stack (tests, benchmarks); otherwise an ephemeral one is started and stopped. */
  stack?: LocalStack;
}

export async function replayLots(
  lotDirs: string[],
  options: ReplayOptions = {},
): Promise<ReplayOutcome[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Loaded here, in the order the file's imports had: `waferflow replay --help` and its usage
  // errors load none of it (about 1 s of CPU per start).
  const { uploadLot } = await import("../edge-agent/upload.ts");
  const { createAgentS3Client, createS3Client } = await import("../lib/aws.ts");
  const { startLocalStack } = await import("../local/stack.ts");
  const { LotEndings } = await import("./reports.ts");
  quietHandlerLogs();
  const stack = options.stack ?? (await startLocalStack({ ephemeral: true, log }));
  const s3 = createS3Client();
  const agentS3 = createAgentS3Client();
  const endings = new LotEndings(stack, s3, undefined, (problem) => log(problem));
  try {
    const uploads: ReplayOutcome[] = [];
    for (const lotDir of lotDirs) {
      try {
        const uploaded = await uploadLot({
          dir: resolve(lotDir),
          s3: agentS3,
          bucket: stack.names.bucket,
          stateDir: join(stack.dataDir, "agent"),
          log,
        });
        log(`uploaded lot ${uploaded.lotId} from ${lotDir} (${uploaded.uploaded} images)`);
        uploads.push({ lotDir, lotId: uploaded.lotId });
      } catch (error) {
        uploads.push({ lotDir, problem: `upload failed: ${(error as Error).message}` });
      }
    }
    const timeoutMs = options.timeoutMs ?? 600_000;
    return await Promise.all(
      uploads.map(async (outcome) => {
        if (!outcome.lotId) return outcome;
        const ending = await endings.wait(outcome.lotId, timeoutMs);
        // The report is the execution's last task: let it close before the stack may stop.
        if (ending?.kind === "report")
          await stack.waitForExecution(outcome.lotId, 30_000).catch(() => {});
        return ending
          ? { ...outcome, ending }
          : { ...outcome, problem: `no report within ${Math.round(timeoutMs / 1000)} s` };
      }),
    );
  } finally {
    endings.close();
    if (!options.stack) await stack.stop();
  }
}

export const REPLAY_USAGE = `Usage: waferflow replay <lotDir...> [--timeout-s 600]
  Pushes each lot folder through an ephemeral embedded stack and prints one JSON report line
  per lot on stdout (logs on stderr). Exit 0 when every lot got a report, 1 otherwise.
  --timeout-s  how long to wait for each lot's report (default 600)`;

export async function runReplayCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(REPLAY_USAGE);
    return 0;
  }
  const { values, positionals } = parseCommandLine(
    argv,
    { "timeout-s": { type: "string", default: "600" } },
    { allowPositionals: true },
  );
  if (positionals.length === 0) throw new UsageError("give at least one lot directory");
  const timeoutS = Number(values["timeout-s"]);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new UsageError(`--timeout-s must be a positive number, got '${values["timeout-s"]}'`);
  }
  const outcomes = await replayLots(positionals, { timeoutMs: timeoutS * 1000 });
  let allFinal = true;
  for (const outcome of outcomes) {
    if (outcome.ending?.kind === "report") {
      process.stdout.write(`${JSON.stringify(outcome.ending.report)}\n`);
    } else {
      allFinal = false;
      const problem =
        outcome.ending?.kind === "quarantined"
          ? `manifest quarantined: ${(outcome.ending.alert.problems ?? []).join("; ")}`
          : outcome.problem;
      process.stderr.write(`lot ${outcome.lotId ?? outcome.lotDir}: ${problem}\n`);
    }
  }
  return allFinal ? 0 : 1;
}
