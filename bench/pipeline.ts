// `npm run bench:pipeline`: a seeded 2048 px lot through the embedded stack, cold then warm (then scaled up), against decoding and inferring its originals directly, in the same run.

import { execFileSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, getPriority, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { commandLineOrExit } from "../lib/cli.ts";
import type { LocalStack } from "../local/stack.ts";
import type { Report } from "../schemas/report.ts";
import type { EndpointRequest } from "./timeline.ts";

const PIPELINE_BENCH_USAGE = `Usage: npm run bench:pipeline -- [options]
  One seeded lot through the embedded stack (cold, warm, then scaled) against decoding and
  inferring the same wafers directly; rewrites the pipeline section of docs/benchmarks.md.
  --wafers <n>     wafers in the lot (default 25)
  --scale-to <n>   wafers of the scaled lot, the lot repeated (default 200)
  --size <px>      side of each wafer (default 2048)
  --seed <n>       generator seed (default 20261126)
  -h, --help       this text`;

const { values } = commandLineOrExit(
  "bench/pipeline.ts",
  PIPELINE_BENCH_USAGE,
  process.argv.slice(2),
  {
    wafers: { type: "string", default: "25" },
    "scale-to": { type: "string", default: "200" },
    size: { type: "string", default: "2048" },
    seed: { type: "string", default: "20261126" },
  },
);
// The stack, the SDK, the detector and the generator load once the command line is read: --help
// and usage errors stay cheap.
const { GetExecutionHistoryCommand } = await import("@aws-sdk/client-sfn");
const { LotEndings } = await import("../cli/reports.ts");
const { quietHandlerLogs } = await import("../cli/quiet-logs.ts");
const { uploadLot } = await import("../edge-agent/upload.ts");
const { defaultInferenceThreads, startInferencePool } = await import(
  "../endpoint/inference-pool.ts"
);
const { WARMUP_SIDE_PX, warmupWafersFromEnv } = await import("../endpoint/warmup.ts");
const { customAttributes } = await import("../functions/detect-defects/core.ts");
const { createAgentS3Client, createS3Client, createSfnClient } = await import("../lib/aws.ts");
const { parseInvocationAttributes } = await import("../lib/custom-attributes.ts");
const { decodeGray } = await import("../lib/gray-image.ts");
const { startLocalStack } = await import("../local/stack.ts");
const { LotFileSchema } = await import("../schemas/lot.ts");
const { generateLots } = await import("../synth/generate.ts");
const { BENCHMARKS_PATH, machineDescription, stats, writeSection } = await import("./report.ts");
const { CpuSampler, describeTimeline, parseEndpointLine } = await import("./timeline.ts");

const wafers = Number(values.wafers);
const scaleTo = Number(values["scale-to"]);
/** The scale-up issue 10 asks for: per-wafer time flat from 25 to 200 wafers. */
const ISSUE_SCALE_TO = 200;
const size = Number(values.size);
const seed = Number(values.seed);
const command = `npm run bench:pipeline -- --wafers ${wafers} --scale-to ${scaleTo} --size ${size} --seed ${seed}`;
const log = (line: string) => process.stderr.write(`${line}\n`);
/** The commit measured, marked when the tree has changes on top of it. */
function commitMeasured(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--", ".", ":!docs/benchmarks.md") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " plus uncommitted changes" : ""}`;
  } catch {
    return "unknown (no git)";
  }
}
/**
 * The V8 heap flags this process (the embedded stack's main thread) was started with: the main
 * isolate's heap can only be set on Node's command line (package.json's bench:pipeline and start
 * give --initial-old-space-size), so the report says which configuration it measured.
 */
function mainHeapFlags(): string {
  const flags = process.execArgv.filter((arg) =>
    /^--(initial|max)-(old|semi)-space-size/.test(arg),
  );
  return flags.length
    ? `The stack's process ran with ${flags.map((flag) => `\`${flag}\``).join(" ")}.`
    : "The stack's process ran with V8's default heap sizes.";
}

/** Read once, as the endpoint the stack starts reads it. */
const warmupWafers = warmupWafersFromEnv();
const isImage = (name: string) => /\.(png|tiff?)$/i.test(name);
/** Every /invocations request the stack's endpoint logged (its request log), for the timelines. */
const endpointRequests: EndpointRequest[] = [];

interface LotRun {
  wafers: number;
  /** CPU time of this process (stack, functions, endpoint; not the s3rver child), user + system. */
  cpuMs: number;
  uploadMs: number;
  /** Upload start to report. */
  wallMs: number;
  /** The manifest landing in S3 (the agent's last PUT answered: the trigger) to report. */
  landedMs: number;
  executionMs: number;
  /** The lot's CPU by thread kind (undefined off Linux). */
  threads: ThreadCpu | undefined;
  /** CPU of the child processes (the local S3) during the lot; not in cpuMs. */
  childCpuMs: number | undefined;
  loadBefore: number;
  loadAfter: number;
  report: Report;
  stages: Record<string, number[]>;
  /** Where the lot's wall time went (bench/timeline.ts), markdown. */
  timeline: string;
}

/** CPU milliseconds by thread kind, from /proc (Linux); empty elsewhere. */
type ThreadCpu = Record<"main" | "libvips" | "other", number>;

/**
 * CPU per kind of thread of this process: the main thread runs the whole stack (services,
 * functions, SDK calls, hashing, the endpoint's HTTP side); libvips' threads decode and encode
 * images (the endpoint's decode and overlay); "other" holds the inference worker
 * threads (named "node" like V8's helper threads, so not told apart from them) and libuv's pool.
 */
function threadCpu(): ThreadCpu | undefined {
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
  const sums: ThreadCpu = { main: 0, libvips: 0, other: 0 };
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ms = (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
      const kind =
        tid === String(process.pid) ? "main" : comm.startsWith("libvips") ? "libvips" : "other";
      sums[kind] += ms;
    }
  } catch {
    return undefined;
  }
  return sums;
}

/**
 * The CPU by thread kind since `start`. libvips' threads come and go (an idle one exits, taking
 * its count with it), so theirs is the process's CPU less the main and the other threads'.
 */
function threadCpuSince(start: ThreadCpu | undefined, processCpuMs: number): ThreadCpu | undefined {
  const now = threadCpu();
  if (!start || !now) return undefined;
  const main = now.main - start.main;
  const other = now.other - start.other;
  return { main, libvips: Math.max(0, processCpuMs - main - other), other };
}

/** CPU milliseconds of this process's child processes (the local S3, s3rver), from /proc (Linux). */
function childProcessCpu(): number | undefined {
  try {
    let sum = 0;
    for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // ended meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[1] === String(process.pid)) sum += (Number(fields[11]) + Number(fields[12])) * 10;
    }
    return sum;
  } catch {
    return undefined;
  }
}

/** Milliseconds of CPU this process has used (all its threads: libvips' too). */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Decodes every original once, one after another: the floor a pipeline that decodes each wafer once sits on. */
async function decodeOnce(
  lotDir: string,
): Promise<{ totalMs: number; cpuMs: number; bytes: number }> {
  const files = readdirSync(lotDir).filter(isImage).sort();
  const first = files[0];
  if (first) await decodeGray(readFileSync(join(lotDir, first))); // warm sharp up, as the stack's endpoint is
  let totalMs = 0;
  let bytes = 0;
  const cpuStart = process.cpuUsage();
  for (const file of files) {
    const data = readFileSync(join(lotDir, file));
    bytes += data.length;
    const started = performance.now();
    await decodeGray(data);
    totalMs += performance.now() - started;
  }
  return { totalMs, cpuMs: cpuMsSince(cpuStart), bytes };
}

/**
 * What the endpoint does per wafer (decode, quality gate, detection, overlay), one wafer after
 * another in one of the endpoint's own inference worker threads (startInferencePool, one thread:
 * its heap configured as the endpoint's are), with the hints and overlay size the pipeline asks
 * for: the work no pipeline can avoid, so lot time over this is what the pipeline itself costs.
 * Two passes: the first after the warm-up each endpoint thread runs at start (endpoint/warmup.ts,
 * as in a freshly started endpoint), the second after the first (as in an endpoint that has
 * served a lot).
 */
async function inferOnce(lotDir: string): Promise<{ first: Timing; warm: Timing }> {
  const { lotId: _lotId, ...metadata } = LotFileSchema.parse(
    JSON.parse(readFileSync(join(lotDir, "lot.json"), "utf8")),
  );
  const { hints, previewMaxSide, overlayMaxSide } = parseInvocationAttributes(
    customAttributes(metadata),
  );
  // The endpoint's own warm-up (WAFERFLOW_WARMUP_WAFERS) runs in the thread before it is ready.
  const pool = startInferencePool({ modelSpec: "classical", threads: 1, warmupWafers, log });
  try {
    await pool.ready;
    const files = readdirSync(lotDir).filter(isImage).sort();
    const infer = (file: string) =>
      pool.run({
        image: readShared(join(lotDir, file)),
        hints,
        qualityGate: true,
        ...(previewMaxSide !== undefined ? { previewMaxSide } : {}),
        ...(overlayMaxSide !== undefined ? { overlayMaxSide } : {}),
      });
    const pass = async (): Promise<Timing> => {
      const cpuStart = process.cpuUsage();
      const threadsStart = threadCpu();
      const started = performance.now();
      for (const file of files) await infer(file);
      const cpuMs = cpuMsSince(cpuStart);
      return {
        totalMs: performance.now() - started,
        cpuMs,
        threads: threadCpuSince(threadsStart, cpuMs),
      };
    };
    const first = files[0];
    // Without the endpoint's warm-up, one lot wafer, so the first pass does not time the compile.
    if (warmupWafers === 0 && first) await infer(first);
    const firstPass = await pass();
    return { first: firstPass, warm: await pass() };
  } finally {
    await pool.close();
  }
}

/**
 * A file read straight into shared memory, as the endpoint reads an image from S3
 * (endpoint/image-source.ts): the pool offers it to its threads without a copy, so inference
 * alone costs what it costs the endpoint, no copy more.
 */
function readShared(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const bytes = new Uint8Array(new SharedArrayBuffer(fstatSync(fd).size));
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(fd, bytes, filled, bytes.length - filled, filled);
      if (read === 0) throw new Error(`${path} ended after ${filled} of ${bytes.length} bytes`);
      filled += read;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

interface Timing {
  totalMs: number;
  cpuMs: number;
  threads: ThreadCpu | undefined;
}

/**
 * The same images repeated under new names up to `count`, as a new lot id: per-wafer cost at scale
 * (or, at the lot's own size, the lot again on a warm stack) without generating more.
 */
function repeatLot(lotDir: string, outDir: string, count: number, tag: string): string {
  const images = readdirSync(lotDir).filter(isImage).sort();
  const dir = join(outDir, `${tag}-${count}`);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const source = images[i % images.length] ?? "";
    const extension = source.slice(source.lastIndexOf("."));
    copyFileSync(
      join(lotDir, source),
      join(dir, `wafer-${String(i + 1).padStart(4, "0")}${extension}`),
    );
  }
  const lot = JSON.parse(readFileSync(join(lotDir, "lot.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(
    join(dir, "lot.json"),
    JSON.stringify({
      ...lot,
      lotId: `${String(lot.lotId ?? "BENCH")}-${tag.toUpperCase()}${count}`,
    }),
  );
  return dir;
}

async function runLot(stack: LocalStack, lotDir: string): Promise<LotRun> {
  const s3 = createS3Client();
  const endings = new LotEndings(stack, s3, undefined, log);
  try {
    const loadBefore = loadavg()[0] ?? 0;
    // Before the clocks start: it reads /proc/<pid>/stat of every process on the machine (about
    // 50 ms on a shared one), which counted in the lot's CPU and upload time.
    const childStart = childProcessCpu();
    const sampler = new CpuSampler(100);
    const startedAt = Date.now();
    let scannedAt = startedAt;
    let manifestAnswered: number | undefined;
    let manifestAt: number | undefined;
    const imagesSent: number[] = [];
    const t0 = performance.now();
    const cpuStart = process.cpuUsage();
    const threadsStart = threadCpu();
    const uploaded = await uploadLot({
      onProgress: (event) => {
        if (event.kind === "scanned") scannedAt = Date.now();
        else if (event.kind === "manifest") {
          manifestAnswered = performance.now();
          manifestAt = Date.now();
        } else imagesSent.push(Date.now());
      },
      dir: lotDir,
      // The agent's client: the agent retries itself, so the SDK must not retry underneath.
      s3: createAgentS3Client(),
      bucket: stack.names.bucket,
      stateDir: join(stack.dataDir, "agent"),
    });
    // The manifest's PUT answered: the object is in S3, the trigger fires. uploadLot returns after
    // the journal's record of it (an fsync), which the pipeline does not wait for.
    const landed = manifestAnswered ?? performance.now();
    const landedAt = manifestAt ?? Date.now();
    const uploadMs = landed - t0;
    const ending = await endings.wait(uploaded.lotId, 3_600_000);
    const end = performance.now();
    const endedAt = Date.now();
    const cpuSamples = sampler.stop();
    if (ending?.kind !== "report") throw new Error(`lot ${uploaded.lotId} ended without a report`);
    const cpuMs = cpuMsSince(cpuStart);
    const threads = threadCpuSince(threadsStart, cpuMs);
    const childEnd = childProcessCpu();
    const childCpuMs =
      childStart === undefined || childEnd === undefined ? undefined : childEnd - childStart;
    const loadAfter = loadavg()[0] ?? 0;
    await stack.waitForExecution(uploaded.lotId, 60_000).catch(() => {});
    const history = await executionHistory(stack.names.stateMachineArn, uploaded.lotId);
    const times = history.map((event) => event.timestamp?.getTime() ?? 0);
    const firstEvent = times.length ? Math.min(...times) : Number.NaN;
    return {
      wafers: uploaded.uploaded,
      cpuMs,
      uploadMs,
      wallMs: end - t0,
      threads,
      childCpuMs,
      landedMs: end - landed,
      loadBefore,
      loadAfter,
      executionMs: times.length ? Math.max(...times) - firstEvent : Number.NaN,
      report: ending.report,
      stages: stageDurations(history),
      timeline: describeTimeline({
        start: startedAt,
        scanned: scannedAt,
        landed: landedAt,
        end: endedAt,
        imagesSent,
        history,
        requests: endpointRequests,
        cpu: cpuSamples,
        threads: defaultInferenceThreads(),
        cores: availableParallelism(),
      }),
    };
  } finally {
    endings.close();
  }
}

quietHandlerLogs();
const work = mkdtempSync(join(tmpdir(), "waferflow-bench-"));
try {
  log(`generating ${wafers} wafers of ${size} px (seed ${seed})...`);
  const [lotDir] = await generateLots({ outDir: work, lots: 1, wafers, seed, size });
  if (!lotDir) throw new Error("the generator wrote no lot");
  // The same wafers again under a new lot id, on the stack the first lot warmed up.
  const warmDir = repeatLot(lotDir, work, wafers, "warm");
  const scaledDir = scaleTo > wafers ? repeatLot(lotDir, work, scaleTo, "x") : undefined;

  const stackStarted = performance.now();
  const stackCpuStart = process.cpuUsage();
  // The endpoint's inference threads report their warm-up (endpoint/warmup.ts) on the stack's log.
  const warmups: Array<{ ms: number; cpuMs: number }> = [];
  const stack = await startLocalStack({
    ephemeral: true,
    log: (line) => {
      const request = parseEndpointLine(line);
      if (request) endpointRequests.push(request);
      const json = line.indexOf("{");
      if (!line.includes('"inference-worker-warm"') || json < 0) return;
      warmups.push(JSON.parse(line.slice(json)) as { ms: number; cpuMs: number });
    },
  });
  const stackStartMs = performance.now() - stackStarted;
  const stackStartCpuMs = cpuMsSince(stackCpuStart);
  // The stack's endpoint runs one inference thread per core (endpoint/inference-pool.ts).
  const concurrency = defaultInferenceThreads();
  try {
    log("decoding the originals once...");
    const decodeBefore = await decodeOnce(lotDir);
    log(`running the ${wafers}-wafer lot on the fresh stack...`);
    const cold = await runLot(stack, lotDir);
    // Again after the lot: on a shared machine the load moves, so the reference is the mean of both.
    const decodeAfter = await decodeOnce(lotDir);
    const decode = {
      bytes: decodeBefore.bytes,
      totalMs: (decodeBefore.totalMs + decodeAfter.totalMs) / 2,
      cpuMs: (decodeBefore.cpuMs + decodeAfter.cpuMs) / 2,
    };
    log("running the endpoint's inference alone on the originals...");
    const inference = await inferOnce(lotDir);
    log(`running the same ${wafers} wafers again as a new lot on the warm stack...`);
    const warm = await runLot(stack, warmDir);

    const perWaferDecode = { wall: decode.totalMs / wafers, cpu: decode.cpuMs / wafers };
    // A fresh lot is set against the first pass, a lot on the warm stack against the warm pass.
    const inferenceCpuPerWafer = (warmCode: boolean) =>
      (warmCode ? inference.warm.cpuMs : inference.first.cpuMs) / wafers;
    const s = (value: number) => (value / 1000).toFixed(1);
    const x = (value: number) => `${value.toFixed(1)}x`;
    const lotRow = (name: string, run: LotRun, warmCode: boolean) => {
      const decodeWall = perWaferDecode.wall * run.wafers;
      const decodeCpu = perWaferDecode.cpu * run.wafers;
      const added = run.cpuMs - inferenceCpuPerWafer(warmCode) * run.wafers;
      return `| ${name} | ${run.wafers} | ${run.loadBefore.toFixed(1)} / ${run.loadAfter.toFixed(1)} | ${s(run.uploadMs)} s | **${s(run.wallMs)} s (${x(run.wallMs / decodeWall)})** | ${s(run.landedMs)} s (${x(run.landedMs / decodeWall)}) | ${s(run.cpuMs)} s (${x(run.cpuMs / decodeCpu)}) | ${s(added)} s (${x(added / decodeCpu)}) | ${(run.wallMs / run.wafers).toFixed(0)} ms | ${(run.cpuMs / run.wafers).toFixed(0)} ms |`;
    };
    const perWafer = (ms: number | undefined, count: number) =>
      ms === undefined ? "n/a" : `${(ms / count).toFixed(0)} ms`;
    const threadRow = (
      name: string,
      threads: ThreadCpu | undefined,
      count: number,
      childCpuMs?: number,
    ) =>
      `| ${name} | ${perWafer(threads?.main, count)} | ${perWafer(threads?.libvips, count)} | ${perWafer(threads?.other, count)} | ${childCpuMs === undefined ? "-" : perWafer(childCpuMs, count)} |`;
    const row = (name: string, durations: number[]) => {
      const st = stats(durations);
      return `| ${name} | ${durations.length} | ${st.mean.toFixed(0)} | ${st.p50.toFixed(0)} | ${st.max.toFixed(0)} | ${st.total.toFixed(0)} |`;
    };
    const section = (scaled: LotRun | undefined) =>
      [
        "## Pipeline (embedded stack)",
        "",
        `Machine: ${machineDescription()}. Command: \`${command}\`${getPriority() > 0 ? `, run at nice ${getPriority()}` : ""}. Commit ${commitMeasured()}. Measured ${new Date().toISOString()}. ${mainHeapFlags()}`,
        "",
        `One lot of ${wafers} seeded synthetic wafers, ${size} x ${size} px (${(decode.bytes / 2 ** 20).toFixed(1)} MiB of originals), through the whole pipeline: edge-agent upload, S3 trigger, start function, Step Functions (local runner, Map concurrency 8), PreprocessImage (size and header by ranged GET; the SHA-256 is checked by the endpoint), DetectDefects (an S3 reference the endpoint reads and checks, or the original bytes; stores the overlay the endpoint drew), the SageMaker-contract endpoint (${concurrency} inference worker threads: one decode, quality gate, detection, 1024 px overlay), report. The lot runs first on the freshly started stack (each inference thread warmed up at start on ${warmupWafers} seeded ${WARMUP_SIDE_PX} px wafers, WAFERFLOW_WARMUP_WAFERS; each handler's first load), then again under a new lot id on the same, now warm, stack${scaled ? `, then repeated to ${scaled.wafers} wafers under a third lot id` : ""}. In the same run, the same ${wafers} originals are decoded once each, one after another, with sharp (\`decodeGray\`), and run through the endpoint's inference alone (decode, gate, detection, 1024 px overlay, with the lot's hints, after the endpoint's warm-up), one after another in one of the endpoint's inference worker threads (\`startInferencePool\`, one thread).`,
        "",
        "| measure | value |",
        "| --- | --- |",
        `| stack start, the endpoint's warm-up included | ${stackStartMs.toFixed(0)} ms wall, ${(stackStartCpuMs / 1000).toFixed(2)} s CPU |`,
        `| endpoint warm-up (${warmupWafers} wafers of ${WARMUP_SIDE_PX} px per thread), per inference thread | ${warmups.map((w) => `${w.ms} ms wall, ${w.cpuMs} ms thread CPU`).join("; ") || "none reported"} |`,
        `| decode the ${wafers} originals once, before / after the cold lot | ${(decodeBefore.totalMs / 1000).toFixed(2)} s / ${(decodeAfter.totalMs / 1000).toFixed(2)} s wall (mean ${perWaferDecode.wall.toFixed(0)} ms per wafer), ${(decode.cpuMs / 1000).toFixed(2)} s CPU |`,
        ...(["first", "warm"] as const).map((which) => {
          const t = inference[which];
          return `| inference alone, the ${wafers} originals one after another (one thread), ${which === "first" ? "first pass (after the endpoint's warm-up)" : "second pass (code warm)"} | ${(t.totalMs / 1000).toFixed(2)} s wall (${x(t.totalMs / decode.totalMs)} decode), ${(t.cpuMs / 1000).toFixed(2)} s CPU (${x(t.cpuMs / decode.cpuMs)} decode) |`;
        }),
        `| floor on ${concurrency} cores: warm inference CPU / ${concurrency} | ${(inference.warm.cpuMs / concurrency / 1000).toFixed(2)} s (${x(inference.warm.cpuMs / concurrency / decode.cpuMs)} decode CPU) |`,
        "",
        "Each lot against the same work done directly (decode and inference per wafer above, times the lot's wafers). Wall times in brackets are over the decode's wall time, CPU over the decode's CPU time; CPU is this process's (stack, functions, endpoint threads, libvips), not the local S3 child process's (its share is in the next table). \"Pipeline CPU\" is lot CPU minus inference-alone CPU (its first pass for the cold lot, its warm pass for the others): what the pipeline adds.",
        "",
        "| lot | wafers | load (1 min) before / after | upload | upload start to report | manifest landed to report | lot CPU | pipeline CPU | wall per wafer | CPU per wafer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        lotRow("cold (fresh stack, warmed up)", cold, false),
        lotRow("warm (same wafers, new lot id)", warm, true),
        ...(scaled ? [lotRow(`scaled (the ${wafers} repeated)`, scaled, true)] : []),
        "",
        "CPU per wafer by thread (Linux /proc): the main thread runs the whole embedded stack, the functions and the endpoint's HTTP side, so in a lot it is what the pipeline adds; libvips' threads decode the original and draw and encode the overlay (in the endpoint's inference threads); the endpoint's inference worker threads run detection (counted with V8's helper threads, which share their name). Inference alone runs in one such worker thread, as the endpoint's do; its main thread only reads the files and passes them on.",
        "",
        "| run | main thread | libvips threads | inference threads and V8 helpers | local S3 process (not in lot CPU) |",
        "| --- | --- | --- | --- | --- |",
        threadRow("inference alone, warm pass", inference.warm.threads, wafers),
        threadRow("cold lot", cold.threads, cold.wafers, cold.childCpuMs),
        threadRow("warm lot", warm.threads, warm.wafers, warm.childCpuMs),
        ...(scaled
          ? [
              threadRow(
                `scaled lot (${scaled.wafers})`,
                scaled.threads,
                scaled.wafers,
                scaled.childCpuMs,
              ),
            ]
          : []),
        "",
        ...(scaled
          ? [
              `Per wafer, ${scaled.wafers} wafers against the warm ${wafers}: wall ${(scaled.wallMs / scaled.wafers / (warm.wallMs / warm.wafers)).toFixed(2)}x, CPU ${(scaled.cpuMs / scaled.wafers / (warm.cpuMs / warm.wafers)).toFixed(2)}x.`,
              "",
            ]
          : []),
        ...(scaleTo < ISSUE_SCALE_TO
          ? [
              `Issue 10 asks for per-wafer time flat from ${wafers} to ${ISSUE_SCALE_TO} wafers; this run scaled to ${scaleTo} only (\`--scale-to ${scaleTo}\`).`,
              "",
            ]
          : []),
        `Report of the cold lot: ${cold.report.status}, ${cold.report.counts.defects} defects, ${cold.report.counts.failed} failed images. Its stages:`,
        "",
        "| stage | runs | mean ms | p50 ms | max ms | sum ms |",
        "| --- | --- | --- | --- | --- | --- |",
        ...Object.entries(cold.stages).map(([name, durations]) => row(name, durations)),
        "",
        "On a machine shared with other jobs the wall-time ratio mostly measures the other jobs: the decode reference is a few seconds and the lot a few minutes, so they see different loads. CPU time is the steadier ratio: it counts only work this process does (the embedded stack, the functions and the endpoint run in it; the local S3's child process is shown apart).",
        "",
        `Stage times come from the execution history (state entered to state exited). Per-image stages overlap: the Map runs up to 8 images at once, so their sum exceeds the wall time; the endpoint runs ${concurrency} inferences at a time (one per worker thread), so DetectDefects includes waiting in its queue.`,
        "",
        "Reading it: the lot cannot take less than its inference (decode, gate, detection) spread over the cores, plus the upload. The ratio to inference alone is what the pipeline costs; the ratio of inference alone to decode is the detector's (`npm run bench:detector`).",
        "",
        "### Where the wall goes",
        "",
        "CPU sampled every 100 ms (this process and the local S3 process, /proc), the per-image states from the execution history, each inference's wait for a thread and time on it from the endpoint's request log, each image's arrival in S3 from the agent. \"Idle core-s\" is what the cores could still have done in a phase: cores x wall minus the CPU used (by anything of the lot; other jobs on the machine are not counted, so on a loaded machine it is an upper bound of what the lot could gain).",
        "",
        "The warm lot:",
        "",
        warm.timeline,
        "",
        "The cold lot:",
        "",
        cold.timeline,
      ].join("\n");
    // Written after each lot, so a long scaled run that is stopped still leaves the main result.
    writeSection("pipeline", section(undefined));
    if (scaledDir) {
      log(`running the ${scaleTo}-wafer lot...`);
      const scaled = await runLot(stack, scaledDir);
      writeSection("pipeline", section(scaled));
    }
    log(readFileSync(BENCHMARKS_PATH, "utf8"));
  } finally {
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

/** Pairs each state's entered and exited events; Map iterations are told apart by their image index. */
function stageDurations(events: HistoryEvent[]): Record<string, number[]> {
  const open = new Map<string, number>();
  const durations: Record<string, number[]> = {};
  const imageOf = (text: string | undefined) => {
    try {
      const value = JSON.parse(text ?? "null") as { index?: number } | null;
      return value?.index === undefined ? "" : String(value.index);
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
