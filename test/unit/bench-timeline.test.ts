// Unit tests of the pipeline bench's timeline: endpoint log lines read back, phases and idle cores from a made-up lot.
import assert from "node:assert/strict";
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { describe, it } from "vitest";
import { describeTimeline, parseEndpointLine } from "../../bench/timeline.ts";

const T0 = Date.parse("2026-11-30T12:00:00.000Z");

function state(name: string, at: number, kind: "in" | "out", index: number): HistoryEvent {
  const text = JSON.stringify({ index, image: { key: `lots/L/images/w${index}.png` } });
  return {
    timestamp: new Date(T0 + at),
    type: kind === "in" ? "TaskStateEntered" : "TaskStateExited",
    id: 0,
    ...(kind === "in"
      ? { stateEnteredEventDetails: { name, input: text } }
      : { stateExitedEventDetails: { name, output: text } }),
  } as HistoryEvent;
}

describe("parseEndpointLine", () => {
  it("reads an /invocations entry of the stack's log and skips anything else", () => {
    const line = `endpoint: ${JSON.stringify({
      time: "2026-11-30T12:00:01.000Z",
      path: "/invocations",
      status: 200,
      ms: 500,
      source: "s3://b/lots/L/images/w0.png",
      readWaitMs: 5,
      fetchMs: 20,
      queueDepth: 1,
      queueMs: 100,
      runMs: 370,
      majorGcs: 1,
      threadBusyMs: 360,
      threadIdleMs: 2,
    })}`;
    assert.deepEqual(parseEndpointLine(line), {
      end: T0 + 1000,
      ms: 500,
      source: "s3://b/lots/L/images/w0.png",
      readWaitMs: 5,
      fetchMs: 20,
      queueMs: 100,
      runMs: 370,
      queueDepth: 1,
      majorGcs: 1,
      threadBusyMs: 360,
      threadIdleMs: 2,
    });
    assert.equal(parseEndpointLine('endpoint: {"event":"inference-worker-warm"}'), undefined);
    assert.equal(parseEndpointLine("s3: started"), undefined);
  });
});

describe("describeTimeline", () => {
  it("splits the lot into phases and counts the cores left idle in each", () => {
    // One core busy all along (this process), none in the S3 child: 1 of 2 cores idle.
    const cpu = Array.from({ length: 41 }, (_, i) => ({
      at: T0 + i * 100,
      processMs: i * 100,
      mainMs: i * 50,
      childMs: 0,
    }));
    const text = describeTimeline(
      {
        start: T0,
        scanned: T0 + 500,
        landed: T0 + 1000,
        end: T0 + 4000,
        imagesSent: [T0 + 700, T0 + 900],
        history: [
          state("PreprocessImage", 1100, "in", 0),
          state("PreprocessImage", 1200, "out", 0),
          state("DetectDefects", 1200, "in", 0),
          state("DetectDefects", 3000, "out", 0),
          state("PreprocessImage", 1100, "in", 1),
          state("PreprocessImage", 1200, "out", 1),
          state("DetectDefects", 1200, "in", 1),
          state("DetectDefects", 3500, "out", 1),
        ],
        requests: [
          // On a thread 1.5-2.5 s and 2.5-3.4 s: the first inference starts at 1.5 s.
          {
            end: T0 + 2500,
            ms: 1250,
            source: "s3://b/lots/L/images/w0.png",
            readWaitMs: 0,
            fetchMs: 50,
            queueMs: 200,
            runMs: 1000,
            queueDepth: 0,
            majorGcs: 0,
            // Its thread had been free 5 s (since the lot before): only the request's 200 ms of
            // waiting count as a thread free while work waited.
            threadIdleMs: 5000,
          },
          {
            end: T0 + 3400,
            ms: 2150,
            source: "s3://b/lots/L/images/w1.png",
            readWaitMs: 0,
            fetchMs: 50,
            queueMs: 1200,
            runMs: 900,
            queueDepth: 1,
            majorGcs: 1,
            // The thread's own clock: 880 of the 900 ms, and 30 ms waiting for it after w0's answer.
            threadBusyMs: 880,
            threadIdleMs: 30,
          },
        ],
        cpu,
        threads: 2,
        cores: 2,
      },
      4,
    );
    const row = (phase: string) =>
      text
        .split("\n")
        .find((line) => line.startsWith(`| ${phase} |`))
        ?.split("|")
        .map((cell) => cell.trim());
    // phase | from | wall | cores busy | idle core-s | threads busy
    assert.deepEqual(row("scan")?.slice(2, 6), ["0.00", "0.50", "1.00", "0.50"]);
    assert.deepEqual(row("start")?.slice(2, 7), ["1.00", "0.50", "1.00", "0.50", "0.00"]);
    // 1.5 s to 3.4 s: 1.9 s of inference over 1.9 s of wall.
    assert.deepEqual(row("inference")?.slice(2, 7), ["1.50", "1.90", "1.00", "1.90", "1.00"]);
    assert.deepEqual(row("tail")?.slice(2, 6), ["3.40", "0.60", "1.00", "0.60"]);
    assert.deepEqual(row("whole lot")?.slice(2, 6), ["0.00", "4.00", "1.00", "4.00"]);
    // Per wafer: DetectDefects 1.8 s and 2.3 s; after the answer 0.5 and 0.1 s.
    assert.match(text, /\| DetectDefects \(state\) \| 2 \| 2050 \|/);
    assert.match(
      text,
      /\| of it: after the answer \(overlay and result PUTs, the runner\) \| 2 \| 300 \|/,
    );
    assert.match(text, /\| of it: waiting for an inference thread \| 2 \| 700 \|/);
    assert.match(text, /mark-compacted 1 times during the lot's 2 inferences \(0\.50 per wafer/);
    // w1's thread: 20 ms of its 900 handing over, and free for 30 ms of the 1200 w1 waited.
    assert.match(text, /\| of that: the thread's own time on it \(its clock\) \| 1 \| 880 \|/);
    assert.match(
      text,
      /\| of that: handed to the thread and back \(the server's event loop\) \| 1 \| 20 \|/,
    );
    assert.match(text, /\| of it: a thread free while it waited \(the hand-over\) \| 2 \| 115 \|/);
    assert.match(
      text,
      /An inference thread sat free while a request waited for 0\.23 s in all over the lot's 2 requests/,
    );
    // The start step by step from the manifest landing at 1.0 s: w0's request came at 1.25 s,
    // had its image 50 ms later, and went on a thread at 1.5 s (no ExecutionStarted, no RecordLot).
    assert.match(
      text,
      /From the manifest landing: execution started -, RecordLot left -, first PreprocessImage entered \+100 ms, first DetectDefects entered \+200 ms, the endpoint took the first request \+250 ms, the endpoint had the first image \+300 ms, first inference on a thread \+500 ms\./,
    );
  });
});
