// `npm run bench:pipeline`: one seeded 25-wafer 2048 px lot through the embedded stack, timed per lot, wafer and stage.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import { LotEndings, quietHandlerLogs } from "../cli/reports.ts";
import { uploadLot } from "../edge-agent/upload.ts";
import { createS3Client, createSfnClient } from "../lib/aws.ts";
import { startLocalStack } from "../local/stack.ts";
import { generateLots } from "../synth/generate.ts";
import { machineDescription, stats, writeSection } from "./report.ts";

const { values } = parseArgs({
  options: {
    wafers: { type: "string", default: "25" },
    size: { type: "string", default: "2048" },
    seed: { type: "string", default: "20261126" },
  },
});
const wafers = Number(values.wafers);
const size = Number(values.size);
const seed = Number(values.seed);
const command = `npm run bench:pipeline -- --wafers ${wafers} --size ${size} --seed ${seed}`;
const log = (line: string) => process.stderr.write(`${line}\n`);

quietHandlerLogs();
const work = mkdtempSync(join(tmpdir(), "waferflow-bench-"));
try {
  log(`generating ${wafers} wafers of ${size} px (seed ${seed})...`);
  const [lotDir] = await generateLots({ outDir: work, lots: 1, wafers, seed, size });
  if (!lotDir) throw new Error("the generator wrote no lot");

  const stackStarted = performance.now();
  const stack = await startLocalStack({ ephemeral: true, log: () => {} });
  const stackStartMs = performance.now() - stackStarted;
  const s3 = createS3Client();
  const endings = new LotEndings(stack, s3, undefined, log);
  try {
    const t0 = performance.now();
    const uploaded = await uploadLot({
      dir: lotDir,
      s3,
      bucket: stack.names.bucket,
      stateDir: join(stack.dataDir, "agent"),
    });
    const uploadMs = performance.now() - t0;
    const ending = await endings.wait(uploaded.lotId, 3_600_000);
    const wallMs = performance.now() - t0;
    if (ending?.kind !== "report") throw new Error(`lot ${uploaded.lotId} ended without a report`);
    const report = ending.report;

    const history = await executionHistory(stack.names.stateMachineArn, uploaded.lotId);
    const stages = stageDurations(history);
    const times = history.map((event) => event.timestamp?.getTime() ?? 0);
    const executionMs = times.length ? Math.max(...times) - Math.min(...times) : Number.NaN;

    const row = (name: string, durations: number[]) => {
      const s = stats(durations);
      return `| ${name} | ${durations.length} | ${s.mean.toFixed(0)} | ${s.p50.toFixed(0)} | ${s.max.toFixed(0)} | ${s.total.toFixed(0)} |`;
    };
    const body = [
      "## Pipeline (embedded stack)",
      "",
      `Machine: ${machineDescription()}. Command: \`${command}\`. Measured ${new Date().toISOString()}.`,
      "",
      `One lot of ${wafers} seeded synthetic wafers, ${size} x ${size} px, replayed through the whole pipeline: edge-agent upload, S3 trigger, start function, Step Functions (local runner, Map concurrency 8), sharp preprocessing, the SageMaker-contract endpoint, report.`,
      "",
      "| measure | value |",
      "| --- | --- |",
      `| stack start | ${stackStartMs.toFixed(0)} ms |`,
      `| upload (agent, ${wafers} images + manifest) | ${uploadMs.toFixed(0)} ms |`,
      `| wall time per lot (upload start to report) | ${(wallMs / 1000).toFixed(1)} s |`,
      `| wall time per wafer | ${(wallMs / wafers).toFixed(0)} ms |`,
      `| execution (first to last history event) | ${(executionMs / 1000).toFixed(1)} s |`,
      `| report status / defects | ${report.status} / ${report.counts.defects} (${report.counts.failed} failed images) |`,
      "",
      "| stage | runs | mean ms | p50 ms | max ms | sum ms |",
      "| --- | --- | --- | --- | --- | --- |",
      ...Object.entries(stages).map(([name, durations]) => row(name, durations)),
      "",
      "Stage times come from the execution history (state entered to state exited). Per-image stages overlap: the Map runs up to 8 images at once on 2 cores, so their sum exceeds the wall time, and the endpoint queues inferences one at a time.",
    ].join("\n");
    writeSection("pipeline", body);
    log(body);
  } finally {
    endings.close();
    await stack.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function executionHistory(stateMachineArn: string, name: string): Promise<HistoryEvent[]> {
  const sfn = createSfnClient();
  const executionArn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Pairs each state's entered and exited events; Map iterations are told apart by their image. */
function stageDurations(events: HistoryEvent[]): Record<string, number[]> {
  const open = new Map<string, number>();
  const durations: Record<string, number[]> = {};
  const imageOf = (text: string | undefined) => {
    try {
      const value = JSON.parse(text ?? "null") as {
        image?: { fileName?: string };
        fileName?: string;
      } | null;
      return value?.image?.fileName ?? value?.fileName ?? "";
    } catch {
      return "";
    }
  };
  for (const event of events) {
    const at = new Date(event.timestamp ?? 0).getTime();
    const entered = event.stateEnteredEventDetails;
    const exited = event.stateExitedEventDetails;
    if (entered?.name) open.set(`${entered.name}|${imageOf(entered.input)}`, at);
    if (exited?.name) {
      const key = `${exited.name}|${imageOf(exited.output)}`;
      const began = open.get(key);
      if (began !== undefined) {
        const list = durations[exited.name] ?? [];
        list.push(at - began);
        durations[exited.name] = list;
        open.delete(key);
      }
    }
  }
  return durations;
}
