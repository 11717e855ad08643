// One lot's wall time laid out for bench/pipeline.ts: when the cores are busy, what each wafer waits for, and where the wall goes.
import { readdirSync, readFileSync } from "node:fs";
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { stats } from "./report.ts";

/** USER_HZ on Linux: /proc counts CPU time in ticks of 10 ms. */
const MS_PER_TICK = 10;

/** CPU used so far, sampled at `at` (epoch ms). */
interface CpuSample {
  at: number;
  /** This process, every thread. */
  processMs: number;
  /** This process's main thread (the stack, the functions, the agent, the endpoint's HTTP side). */
  mainMs: number;
  /** The child processes found when sampling began (the local S3). */
  childMs: number;
}

function ticksOf(statPath: string): number {
  const stat = readFileSync(statPath, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** The pids whose parent is this process (one scan of /proc: tens of ms on a busy machine, so once). */
function childPids(): string[] {
  const pids: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[1] === String(process.pid)) pids.push(pid);
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/**
 * Samples CPU every `intervalMs` from a timer on this thread. A busy event loop delays a sample,
 * which costs resolution, not accuracy: each sample carries its own time. Linux only; elsewhere
 * it records nothing and the timeline leaves the CPU columns out.
 */
export class CpuSampler {
  private readonly samples: CpuSample[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly children: string[];

  constructor(intervalMs = 100) {
    let children: string[] = [];
    try {
      children = childPids();
      this.sample(children);
    } catch {
      this.children = [];
      return;
    }
    this.children = children;
    this.timer = setInterval(() => this.sample(this.children), intervalMs);
  }

  private sample(children: string[]): void {
    try {
      const used = process.cpuUsage();
      let childMs = 0;
      for (const pid of children) {
        try {
          childMs += ticksOf(`/proc/${pid}/stat`);
        } catch {
          // the child ended; its last count stays in the earlier samples
        }
      }
      this.samples.push({
        at: Date.now(),
        processMs: (used.user + used.system) / 1000,
        mainMs: ticksOf(`/proc/self/task/${process.pid}/stat`),
        childMs,
      });
    } catch {
      // not Linux: no samples
    }
  }

  stop(): CpuSample[] {
    clearInterval(this.timer);
    this.sample(this.children);
    return this.samples;
  }
}

/** One /invocations request as the endpoint logged it (endpoint/server.ts RequestLog). */
export interface EndpointRequest {
  /** Epoch ms the answer was sent. */
  end: number;
  ms: number;
  source: string;
  /** Waiting for a read-ahead slot before the S3 read. */
  readWaitMs: number;
  fetchMs: number;
  queueMs: number;
  runMs: number;
  queueDepth: number;
  /** Mark-compacts of the inference thread's heap during the request. */
  majorGcs: number;
  /** Of runMs, the worker thread's own time on it (undefined from an endpoint that does not say). */
  threadBusyMs?: number;
  /** The worker thread's wait for this request since its previous answer. */
  threadIdleMs?: number;
}

/** An endpoint request from a line of the stack's log ("endpoint: {...}"), or undefined. */
export function parseEndpointLine(line: string): EndpointRequest | undefined {
  if (!line.startsWith("endpoint: {") || !line.includes('"runMs"')) return undefined;
  try {
    const entry = JSON.parse(line.slice("endpoint: ".length)) as Record<string, unknown>;
    const number = (key: string) => (typeof entry[key] === "number" ? (entry[key] as number) : 0);
    if (typeof entry.time !== "string" || typeof entry.source !== "string") return undefined;
    return {
      end: Date.parse(entry.time),
      ms: number("ms"),
      source: entry.source,
      readWaitMs: number("readWaitMs"),
      fetchMs: number("fetchMs"),
      queueMs: number("queueMs"),
      runMs: number("runMs"),
      queueDepth: number("queueDepth"),
      majorGcs: number("majorGcs"),
      ...(typeof entry.threadBusyMs === "number" ? { threadBusyMs: entry.threadBusyMs } : {}),
      ...(typeof entry.threadIdleMs === "number" ? { threadIdleMs: entry.threadIdleMs } : {}),
    };
  } catch {
    return undefined;
  }
}

export interface LotTrace {
  /** Epoch ms: upload start, lot scanned, manifest landed, report received. */
  start: number;
  scanned: number;
  landed: number;
  end: number;
  /** Epoch ms each image was settled in S3. */
  imagesSent: number[];
  history: HistoryEvent[];
  requests: EndpointRequest[];
  cpu: CpuSample[];
  /** Inference threads of the endpoint. */
  threads: number;
  /** Cores of the machine. */
  cores: number;
}

interface Span {
  from: number;
  to: number;
}

/** Per image index: when each per-image state was entered and left, and its image key. */
function imageSpans(history: HistoryEvent[]) {
  const open = new Map<string, number>();
  const spans = new Map<number, { key?: string; preprocess?: Span; detect?: Span }>();
  const parse = (text: string | undefined) => {
    try {
      return JSON.parse(text ?? "null") as { index?: number; image?: { key?: string } } | null;
    } catch {
      return null;
    }
  };
  for (const event of history) {
    const at = new Date(event.timestamp ?? 0).getTime();
    const entered = event.stateEnteredEventDetails;
    const exited = event.stateExitedEventDetails;
    const name = entered?.name ?? exited?.name;
    if (name !== "PreprocessImage" && name !== "DetectDefects") continue;
    const value = parse(entered?.input ?? exited?.output);
    if (value?.index === undefined) continue;
    const id = `${name}|${value.index}`;
    const image = spans.get(value.index) ?? {};
    spans.set(value.index, image);
    if (entered) {
      open.set(id, at);
      if (name === "DetectDefects" && value.image?.key) image.key = value.image.key;
    } else {
      const from = open.get(id);
      if (from === undefined) continue;
      image[name === "PreprocessImage" ? "preprocess" : "detect"] = { from, to: at };
    }
  }
  return spans;
}

/** First entry and last exit of a state in the history. */
function stateSpan(history: HistoryEvent[], state: string): Span | undefined {
  let from: number | undefined;
  let to: number | undefined;
  for (const event of history) {
    const at = new Date(event.timestamp ?? 0).getTime();
    if (event.stateEnteredEventDetails?.name === state) from ??= at;
    if (event.stateExitedEventDetails?.name === state) to = at;
  }
  return from !== undefined && to !== undefined ? { from, to } : undefined;
}

/** CPU used between two times, by linear interpolation between samples. */
function cpuAt(samples: CpuSample[], at: number, pick: (sample: CpuSample) => number): number {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last) return 0;
  if (at <= first.at) return pick(first);
  if (at >= last.at) return pick(last);
  let lo = 0;
  let hi = samples.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((samples[mid]?.at ?? 0) <= at) lo = mid;
    else hi = mid;
  }
  const a = samples[lo] as CpuSample;
  const b = samples[hi] as CpuSample;
  const share = b.at === a.at ? 0 : (at - a.at) / (b.at - a.at);
  return pick(a) + (pick(b) - pick(a)) * share;
}

/** Length of the part of `span` inside [from, to). */
function overlap(span: Span, from: number, to: number): number {
  return Math.max(0, Math.min(span.to, to) - Math.max(span.from, from));
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

/**
 * Markdown: the lot's phases with the cores' idle time in each, a timeline in equal slices,
 * and what a wafer's time in the two per-image states is made of.
 */
export function describeTimeline(trace: LotTrace, sliceCount = 16): string {
  const { start, cores, threads } = trace;
  const spans = imageSpans(trace.history);
  const keyToIndex = new Map<string, number>();
  for (const [index, span] of spans) if (span.key) keyToIndex.set(span.key, index);
  // The endpoint's requests of this lot, with their time on an inference thread.
  const requests = trace.requests.filter(
    (request) =>
      request.end >= start &&
      request.end <= trace.end + 1000 &&
      keyToIndex.has(request.source.replace(/^s3:\/\/[^/]+\//, "")),
  );
  const runs: Span[] = requests.map((r) => ({ from: r.end - r.runMs, to: r.end }));
  const waits: Span[] = requests.map((r) => ({
    from: r.end - r.runMs - r.queueMs,
    to: r.end - r.runMs,
  }));
  const firstRun = Math.min(...runs.map((r) => r.from));
  const lastRun = Math.max(...runs.map((r) => r.to));
  const haveCpu = trace.cpu.length > 1;
  const busy = (from: number, to: number, pick: (s: CpuSample) => number) =>
    to > from ? (cpuAt(trace.cpu, to, pick) - cpuAt(trace.cpu, from, pick)) / (to - from) : 0;
  const allCpu = (s: CpuSample) => s.processMs + s.childMs;
  const threadsBusy = (from: number, to: number) =>
    to > from ? runs.reduce((sum, run) => sum + overlap(run, from, to), 0) / (to - from) : 0;

  const phases: Array<[string, number, number, string]> = [
    [
      "scan",
      start,
      trace.scanned,
      "the agent reads and hashes every image (two at once, SHA-256 on its main thread; the PUT carries it as its checksum, no MD5); a new lot's images are sent as each is hashed, so its PUTs and the local S3 run here too",
    ],
    [
      "send",
      trace.scanned,
      trace.landed,
      "the agent's PUTs still in flight (4 at once) and the local S3 storing them; the manifest last",
    ],
    [
      "start",
      trace.landed,
      firstRun,
      "trigger, StartLot, RecordLot, the first PreprocessImage and endpoint reads: until the first inference starts",
    ],
    [
      "inference",
      firstRun,
      lastRun,
      "from the first inference's start to the last one's end; results and S3 reads run beside it",
    ],
    [
      "tail",
      lastRun,
      trace.end,
      "the last overlay and result PUTs, the Map's end, PublishReport, the report reaching the bench",
    ],
  ];
  const lines: string[] = [];
  lines.push(
    `| phase | from (s) | wall (s) | cores busy (of ${cores}) | idle core-s | inference threads busy (of ${threads}) | what runs |`,
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  let idleTotal = 0;
  for (const [name, from, to, what] of phases) {
    const wall = Math.max(0, to - from);
    const used = haveCpu ? busy(from, to, allCpu) : Number.NaN;
    const idle = haveCpu ? Math.max(0, cores - used) * wall : Number.NaN;
    idleTotal += Number.isNaN(idle) ? 0 : idle;
    lines.push(
      `| ${name} | ${seconds(from - start)} | ${seconds(wall)} | ${haveCpu ? used.toFixed(2) : "n/a"} | ${haveCpu ? seconds(idle) : "n/a"} | ${threadsBusy(from, to).toFixed(2)} | ${what} |`,
    );
  }
  const totalWall = trace.end - start;
  lines.push(
    `| whole lot | 0.00 | ${seconds(totalWall)} | ${haveCpu ? busy(start, trace.end, allCpu).toFixed(2) : "n/a"} | ${haveCpu ? seconds(idleTotal) : "n/a"} | ${threadsBusy(start, trace.end).toFixed(2)} | |`,
  );

  // The timeline in equal slices of the lot's wall time.
  const slice = totalWall / sliceCount;
  const detectSpans = [...spans.values()].flatMap((span) => (span.detect ? [span.detect] : []));
  const preprocessSpans = [...spans.values()].flatMap((span) =>
    span.preprocess ? [span.preprocess] : [],
  );
  const inState = (list: Span[], from: number, to: number) =>
    list.reduce((sum, span) => sum + overlap(span, from, to), 0) / (to - from);
  const countBy = (times: number[], at: number) => times.filter((time) => time <= at).length;
  lines.push(
    "",
    `The same lot in ${sliceCount} slices of ${seconds(slice)} s (means over each slice; "cores busy" counts this process and the local S3 process):`,
    "",
    "| from (s) | cores busy | main thread | local S3 | inferring | waiting for a thread | in PreprocessImage | in DetectDefects | images in S3 | results stored |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  const resultTimes = detectSpans.map((span) => span.to);
  for (let i = 0; i < sliceCount; i++) {
    const from = start + i * slice;
    const to = from + slice;
    const cpu = (pick: (s: CpuSample) => number) =>
      haveCpu ? busy(from, to, pick).toFixed(2) : "n/a";
    lines.push(
      `| ${seconds(from - start)} | ${cpu(allCpu)} | ${cpu((s) => s.mainMs)} | ${cpu((s) => s.childMs)} | ${threadsBusy(from, to).toFixed(2)} | ${inState(waits, from, to).toFixed(2)} | ${inState(preprocessSpans, from, to).toFixed(2)} | ${inState(detectSpans, from, to).toFixed(2)} | ${countBy(trace.imagesSent, to)} | ${countBy(resultTimes, to)} |`,
    );
  }

  // What a wafer's DetectDefects is made of.
  const byKey = new Map(requests.map((r) => [r.source.replace(/^s3:\/\/[^/]+\//, ""), r] as const));
  const parts: Record<string, number[]> = {
    "PreprocessImage (state)": [],
    "PreprocessImage left to DetectDefects entered": [],
    "DetectDefects (state)": [],
    "of it: to the endpoint and back, before its S3 read": [],
    "of it: waiting to read ahead (a few images per thread)": [],
    "of it: the endpoint's S3 read": [],
    "of it: waiting for an inference thread": [],
    "of it: on an inference thread": [],
    "of that: the thread's own time on it (its clock)": [],
    "of that: handed to the thread and back (the server's event loop)": [],
    "of it: a thread free while it waited (the hand-over)": [],
    "of it: after the answer (overlay and result PUTs, the runner)": [],
    "endpoint queue depth when the request came": [],
  };
  const push = (name: string, value: number) => parts[name]?.push(value);
  for (const span of spans.values()) {
    if (span.preprocess) push("PreprocessImage (state)", span.preprocess.to - span.preprocess.from);
    if (span.preprocess && span.detect)
      push("PreprocessImage left to DetectDefects entered", span.detect.from - span.preprocess.to);
    const request = span.key ? byKey.get(span.key) : undefined;
    if (!span.detect || !request) continue;
    const state = span.detect.to - span.detect.from;
    const requestStart = request.end - request.ms;
    push("DetectDefects (state)", state);
    push("of it: to the endpoint and back, before its S3 read", requestStart - span.detect.from);
    push("of it: waiting to read ahead (a few images per thread)", request.readWaitMs);
    push("of it: the endpoint's S3 read", request.fetchMs);
    push("of it: waiting for an inference thread", request.queueMs);
    push("of it: on an inference thread", request.runMs);
    if (request.threadBusyMs !== undefined) {
      push("of that: the thread's own time on it (its clock)", request.threadBusyMs);
      push(
        "of that: handed to the thread and back (the server's event loop)",
        request.runMs - request.threadBusyMs,
      );
    }
    // The thread that took it sat free for threadIdleMs and the request waited queueMs, both up
    // to the same moment: the shorter is the time a thread was free while this request waited,
    // the hand-over alone, a core the lot could have used.
    if (request.threadIdleMs !== undefined)
      push(
        "of it: a thread free while it waited (the hand-over)",
        Math.min(request.threadIdleMs, request.queueMs),
      );
    push(
      "of it: after the answer (overlay and result PUTs, the runner)",
      span.detect.to - request.end,
    );
    push("endpoint queue depth when the request came", request.queueDepth);
  }
  lines.push(
    "",
    "Per wafer (ms; the queue depth in requests), from the execution history and the endpoint's request log:",
    "",
    "| part | wafers | mean | p50 | max |",
    "| --- | --- | --- | --- | --- |",
    ...Object.entries(parts).map(([name, values]) => {
      const st = stats(values);
      return `| ${name} | ${values.length} | ${st.mean.toFixed(0)} | ${st.p50.toFixed(0)} | ${st.max.toFixed(0)} |`;
    }),
  );
  const inferred = [...spans.values()].flatMap((span) => {
    const request = span.key ? byKey.get(span.key) : undefined;
    return request ? [request] : [];
  });
  const majorGcs = inferred.reduce((sum, request) => sum + request.majorGcs, 0);
  lines.push(
    "",
    `The inference threads' heaps were mark-compacted ${majorGcs} times during the lot's ${inferred.length} inferences (${inferred.length ? (majorGcs / inferred.length).toFixed(2) : "-"} per wafer; the endpoint's request log).`,
  );
  const handOver = parts["of it: a thread free while it waited (the hand-over)"] ?? [];
  if (handOver.length) {
    lines.push(
      "",
      `An inference thread sat free while a request waited for ${seconds(stats(handOver).total)} s in all over the lot's ${handOver.length} requests (each thread's own clock against the request's wait): the hand-over.`,
    );
  }
  lines.push("", startSteps(trace, spans, requests, firstRun));
  const map = stateSpan(trace.history, "InspectImages");
  const report = stateSpan(trace.history, "PublishReport");
  if (map && report) {
    lines.push(
      "",
      `The Map (InspectImages) ran ${seconds(map.to - map.from)} s from ${seconds(map.from - start)} s; PublishReport ${seconds(report.to - report.from)} s; the report reached the bench ${seconds(trace.end - report.to)} s after PublishReport ended.`,
    );
  }
  return lines.join("\n");
}

/**
 * The start phase step by step, each from the manifest landing (the agent's last PUT answered):
 * the execution's start (the trigger and StartLot), RecordLot's end, the first per-image states,
 * the endpoint taking the first request and having its image, the first inference.
 */
function startSteps(
  trace: LotTrace,
  spans: ReturnType<typeof imageSpans>,
  requests: EndpointRequest[],
  firstRun: number,
): string {
  const at = (event: HistoryEvent | undefined) =>
    event?.timestamp === undefined ? undefined : new Date(event.timestamp).getTime();
  const started = at(trace.history.find((event) => event.type === "ExecutionStarted"));
  const recorded = stateSpan(trace.history, "RecordLot")?.to;
  const earliest = (values: Array<number | undefined>) => {
    const known = values.filter((value): value is number => value !== undefined);
    return known.length ? Math.min(...known) : undefined;
  };
  const list = [...spans.values()];
  const steps: Array<[string, number | undefined]> = [
    ["execution started", started],
    ["RecordLot left", recorded],
    ["first PreprocessImage entered", earliest(list.map((span) => span.preprocess?.from))],
    ["first DetectDefects entered", earliest(list.map((span) => span.detect?.from))],
    ["the endpoint took the first request", earliest(requests.map((r) => r.end - r.ms))],
    [
      "the endpoint had the first image",
      earliest(requests.map((r) => r.end - r.ms + r.readWaitMs + r.fetchMs)),
    ],
    ["first inference on a thread", Number.isFinite(firstRun) ? firstRun : undefined],
  ];
  const text = steps
    .map(([name, time]) =>
      time === undefined ? `${name} -` : `${name} +${Math.round(time - trace.landed)} ms`,
    )
    .join(", ");
  return `From the manifest landing: ${text}.`;
}
