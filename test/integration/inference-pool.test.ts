// The endpoint's inference threads: each warms up before it is ready; an image in shared memory is shared, any other copied and left intact; threads take waiting requests oldest first; a thread's heap is not mark-compacted per wafer.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type InferencePool, startInferencePool } from "../../endpoint/inference-pool.ts";

const LOT = resolve(import.meta.dirname, "../fixtures/lot-e2e");
const WAFER = join(LOT, "wafer-001.png");
const lotImages = () => readdirSync(LOT).filter((name) => /\.(png|tif)$/.test(name));
/** Out-of-spec images (noise, checkerboard, overexposed, underexposed): the gate refuses each. */
const QUALITY_LOT = resolve(import.meta.dirname, "../fixtures/lot-quality");
const OUT_OF_SPEC = ["wafer-005.png", "wafer-006.png", "wafer-008.png", "wafer-009.png"];

describe("inference pool", () => {
  let pool: InferencePool;
  const logLines: string[] = [];
  beforeAll(async () => {
    pool = startInferencePool({
      modelSpec: "classical",
      threads: 1,
      warmupWafers: 2,
      log: (line) => logLines.push(line),
    });
    await pool.ready;
  });
  afterAll(async () => {
    await pool?.close();
  });

  it("is ready only once its worker has inspected its warm-up wafers", () => {
    const warm = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.event === "inference-worker-warm");
    assert.equal(warm.length, 1, logLines.join("\n"));
    assert.equal(warm[0]?.wafers, 2);
    assert.equal(warm[0]?.sidePx, 768);
    assert.ok(Number(warm[0]?.cpuMs) > 0, "the warm-up ran inferences in the worker");
  });

  it("refuses a warm-up count that is not a non-negative integer", () => {
    assert.throws(
      () =>
        startInferencePool({ modelSpec: "classical", threads: 1, warmupWafers: -1, log: () => {} }),
      /warm-up wafers must be a non-negative integer, got -1/,
    );
  });

  /**
   * The lot, sent at once, once for the three tests below: its first image (WAFER) lies in shared
   * memory, its second is a view at an offset into a larger buffer of this thread's own, the rest
   * are plain Buffers. Each of those is what a request's image can be, and one run of the lot
   * shows what happens to each (the sharing tests used to run WAFER twice more on their own).
   */
  interface LotRun {
    files: string[];
    /** The bytes each request was given, and what each file holds. */
    sent: Uint8Array[];
    onDisk: Buffer[];
    started: number[];
    runs: Awaited<ReturnType<InferencePool["run"]>>[];
  }
  let lot: Promise<LotRun> | undefined;
  const lotRun = (): Promise<LotRun> => {
    lot ??= (async () => {
      const files = lotImages();
      assert.equal(join(LOT, files[0] ?? ""), WAFER);
      const onDisk = files.map((file) => readFileSync(join(LOT, file)));
      const sent = onDisk.map((bytes, index) => {
        if (index === 0) {
          const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
          shared.set(bytes);
          return shared;
        }
        if (index === 1) {
          const larger = new Uint8Array(bytes.byteLength + 16);
          larger.set(bytes, 16);
          return larger.subarray(16);
        }
        return bytes;
      });
      const started: number[] = [];
      const runs = await Promise.all(
        sent.map((image, index) =>
          pool.run(
            { image, hints: {}, qualityGate: true, overlayMaxSide: 1024 },
            { onStart: () => started.push(index) },
          ),
        ),
      );
      return { files, sent, onDisk, started, runs };
    })();
    return lot;
  };

  it("shares an image that lies in shared memory with the threads and leaves it as it is", async () => {
    const { sent, onDisk, runs } = await lotRun();
    assert.ok(sent[0]?.buffer instanceof SharedArrayBuffer);
    assert.equal(runs[0]?.result.status, "inspected");
    // equals(), not deepEqual: a failing deepEqual of two 400 KB buffers diffs them, and that
    // diff took the test's process to 23 GB (killed by the kernel) when a thread wrote to them.
    assert.ok(
      Buffer.from(sent[0] as Uint8Array).equals(onDisk[0] as Buffer),
      "the shared bytes are untouched",
    );
  });

  it("copies any other image into shared memory, leaving the caller's bytes readable, and answers the same", async () => {
    const { sent, onDisk, runs } = await lotRun();
    const view = sent[1] as Uint8Array;
    assert.ok(!(view.buffer instanceof SharedArrayBuffer) && view.byteOffset === 16);
    assert.equal(runs[1]?.result.status, "inspected");
    assert.equal(view.byteLength, onDisk[1]?.byteLength);
    assert.ok(Buffer.from(view).equals(onDisk[1] as Buffer), "the caller's bytes are untouched");
  });

  it("takes the requests waiting for it oldest first, and mark-compacts its heap every few wafers, not one per wafer", async () => {
    // The lot sent at once: the thread takes one and must come back for the others, oldest first
    // (a thread taking the newest waiting task starts them 0, 5, 4, 3, 2, 1). Its heap: with V8's
    // default old-generation limit for this small heap, each of these wafers (about 1024 px, with
    // the pipeline's overlay) set one off: 18 in 18, measured, and 12 in 12 over the lot twice
    // (testfast6, the flag taken out). With the pool's INFERENCE_OLD_SPACE_MB, 4 in 18, and 2 in
    // 12 (external memory sets those off). The lot once: 6 inferences, 3 allowed. Waiting in the
    // pool leaves the thread's heap as it is (the images lie in shared memory until taken).
    const { files, started, runs } = await lotRun();
    assert.deepEqual(
      started,
      files.map((_, index) => index),
    );
    const counts: number[] = [];
    for (const [index, run] of runs.entries()) {
      assert.equal(run.result.status, "inspected", files[index]);
      counts.push(run.majorGcs);
    }
    const total = counts.reduce((sum, count) => sum + count, 0);
    assert.ok(
      total <= counts.length / 2,
      `${total} mark-compacts in ${counts.length} inferences (${counts.join(", ")})`,
    );
  });

  describe("with two threads", () => {
    let pair: InferencePool;
    beforeAll(async () => {
      pair = startInferencePool({
        modelSpec: "classical",
        threads: 2,
        warmupWafers: 0,
        log: () => {},
      });
      await pair.ready;
    });
    afterAll(async () => {
      await pair?.close();
    });

    it("answers every request sent at once, each told as a thread takes it", async () => {
      // Four: each thread takes one at once, and each must come back for one still waiting. Four
      // images the quality gate refuses (answered `unusable` in the thread, before the detector):
      // what is checked here is how the threads share the requests, and a fresh thread's first
      // detection would compile the detector in each (about 2.5 s of CPU for the two, measured).
      const files = OUT_OF_SPEC;
      const events: string[] = [];
      const runs = await Promise.all(
        files.map((file, index) =>
          pair
            .run(
              { image: readFileSync(join(QUALITY_LOT, file)), hints: {}, qualityGate: true },
              { onStart: () => events.push(`start ${index}`) },
            )
            .then((run) => {
              events.push(`answer ${index}`);
              return run;
            }),
        ),
      );
      for (const [index, run] of runs.entries()) {
        assert.equal(run.result.status, "unusable", files[index]);
        assert.ok(run.waitedMs >= 0 && run.thread.busyMs > 0, JSON.stringify(run.thread));
        const start = events.indexOf(`start ${index}`);
        assert.ok(start >= 0 && start < events.indexOf(`answer ${index}`), events.join(", "));
      }
    });

    it("rejects what is still waiting when it is closed", async () => {
      const doomed = startInferencePool({
        modelSpec: "classical",
        threads: 1,
        warmupWafers: 0,
        log: () => {},
      });
      // Offered before the thread is ready: it waits in the pool.
      const waiting = doomed.run({ image: readFileSync(WAFER), hints: {}, qualityGate: true });
      await doomed.close();
      await assert.rejects(waiting, /inference (pool is closed|worker stopped)/);
    });
  });
});
