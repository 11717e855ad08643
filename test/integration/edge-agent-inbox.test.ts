// The inbox watcher on real folders: hand-over once, .done/.failed filing, shutdown, and a full agent run.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, test } from "vitest";
import { watchInbox } from "../../edge-agent/inbox.ts";
import { uploadLot } from "../../edge-agent/upload.ts";
import { ManifestSchema } from "../../schemas/lot.ts";
import { startS3rver, type TestS3 } from "./helpers/s3rver.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function writeLot(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
}

/** A promise plus its resolver, to wait for the watcher without sleeping. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("watchInbox", () => {
  let work: string;
  let inboxCounter = 0;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "waferflow-inbox-it-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function newInbox(): Promise<string> {
    const inbox = join(work, `inbox-${++inboxCounter}`);
    await mkdir(inbox, { recursive: true });
    return inbox;
  }

  test("hands each complete lot over once and files it under .done", async () => {
    const inbox = await newInbox();
    await writeLot(join(inbox, "with-lot-json"), { "a.png": PNG, "lot.json": "{}" });
    await writeLot(join(inbox, "quiet"), { "b.png": PNG });
    await writeLot(join(inbox, ".hidden"), { "c.png": PNG, "lot.json": "{}" });
    await mkdir(join(inbox, "empty"));
    await writeFile(join(inbox, "stray.png"), PNG);

    const handed: string[] = [];
    const bothDone = deferred();
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 50,
      pollMs: 10,
      signal: stop.signal,
      onLotReady: async (dir, { dirName }) => {
        assert.equal(dir, join(inbox, dirName));
        handed.push(dirName);
        if (handed.length === 2) bothDone.resolve();
      },
    });
    await bothDone.promise;
    // Stopping waits for the hand-overs in flight, filing included.
    stop.abort();
    await watching;

    assert.deepEqual(handed.sort(), ["quiet", "with-lot-json"]);
    assert.deepEqual((await readdir(join(inbox, ".done"))).sort(), ["quiet", "with-lot-json"]);
    assert.deepEqual((await readdir(join(inbox, ".done", "quiet"))).sort(), ["b.png"]);
    assert.deepEqual((await readdir(inbox)).sort(), [".done", ".hidden", "empty", "stray.png"]);
  });

  test("a failed lot goes to .failed with error.txt and is not handed over again", async () => {
    const inbox = await newInbox();
    await writeLot(join(inbox, "bad"), { "a.png": PNG, "lot.json": "{}" });
    const handed: string[] = [];
    const failedOnce = deferred();
    const laterDone = deferred();
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 10_000,
      pollMs: 10,
      signal: stop.signal,
      onLotReady: async (_dir, { dirName }) => {
        handed.push(dirName);
        if (dirName === "later") return laterDone.resolve();
        failedOnce.resolve();
        throw new Error("lot.json: field 'waferDiameterMm' is wrong", {
          cause: new RangeError("450"),
        });
      },
    });
    await failedOnce.promise;
    // A lot dropped after the failure needs two polls to be taken: by then "bad" had its chance to come back.
    await writeLot(join(inbox, "later"), { "a.png": PNG, "lot.json": "{}" });
    await laterDone.promise;
    stop.abort();
    await watching;

    assert.deepEqual(handed, ["bad", "later"]);
    const errorText = await readFile(join(inbox, ".failed", "bad", "error.txt"), "utf8");
    assert.match(errorText, /Error: lot.json: field 'waferDiameterMm' is wrong/);
    assert.match(errorText, /caused by: RangeError: 450/);
    assert.deepEqual(
      await readdir(join(inbox, ".failed", "bad")),
      ["a.png", "error.txt", "lot.json"].sort(),
    );
    assert.deepEqual((await readdir(inbox)).sort(), [".done", ".failed"]);
  });

  test("a lot whose failure may pass, or that shutdown interrupts, stays in the inbox", async () => {
    const inbox = await newInbox();
    await writeLot(join(inbox, "offline"), { "a.png": PNG, "lot.json": "{}" });
    await writeLot(join(inbox, "slow"), { "a.png": PNG, "lot.json": "{}" });
    const started = deferred();
    let seen = 0;
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 10_000,
      pollMs: 10,
      maxConcurrentLots: 2,
      signal: stop.signal,
      onLotReady: async (_dir, { dirName, signal }) => {
        if (++seen === 2) started.resolve();
        if (dirName === "offline") {
          throw Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), {
            code: "ECONNREFUSED",
          });
        }
        // Stands for an upload in progress: it ends only when the watcher shuts down.
        await new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason)),
        );
      },
    });
    await started.promise;
    stop.abort();
    await watching;
    assert.deepEqual((await readdir(inbox)).sort(), ["offline", "slow"]);
  });

  test("a lot that failed for a passing reason is tried again later, then filed under .done", async () => {
    const inbox = await newInbox();
    await writeLot(join(inbox, "flaky"), { "a.png": PNG, "lot.json": "{}" });
    let calls = 0;
    const succeeded = deferred();
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 10_000,
      pollMs: 10,
      retryLaterMs: 0,
      signal: stop.signal,
      onLotReady: async () => {
        if (++calls === 1) {
          throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
        }
        succeeded.resolve();
      },
    });
    await succeeded.promise;
    stop.abort();
    await watching;
    assert.equal(calls, 2);
    assert.deepEqual(await readdir(join(inbox, ".done")), ["flaky"]);
  });

  test("a missing inbox is refused at once, by name", async () => {
    const missing = join(work, "no-such-inbox");
    await assert.rejects(
      watchInbox({
        inbox: missing,
        quietMs: 0,
        signal: new AbortController().signal,
        onLotReady: async () => {},
      }),
      (error: Error) => error.name === "InboxError" && error.message.includes(missing),
    );
  });

  test("a restarted watcher does not redo lots already filed away", async () => {
    const inbox = await newInbox();
    await writeLot(join(inbox, ".done", "old"), { "a.png": PNG, "lot.json": "{}" });
    await writeLot(join(inbox, ".failed", "broken"), { "a.png": PNG, "lot.json": "{}" });
    await writeLot(join(inbox, "new"), { "a.png": PNG, "lot.json": "{}" });
    const handed: string[] = [];
    const newDone = deferred();
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 10_000,
      pollMs: 10,
      signal: stop.signal,
      onLotReady: async (_dir, { dirName }) => {
        handed.push(dirName);
        newDone.resolve();
      },
    });
    await newDone.promise;
    stop.abort();
    await watching;
    assert.deepEqual(handed, ["new"]);
  });
});

describe("watchInbox with uploadLot against s3rver", () => {
  let s3: TestS3;
  let work: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    work = await mkdtemp(join(tmpdir(), "waferflow-agent-e2e-"));
  });
  afterAll(async () => {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a lot dropped in the inbox ends up in S3 with its manifest, and in .done", async () => {
    const inbox = join(work, "inbox");
    const image = Buffer.concat([PNG, randomBytes(4000)]);
    await writeLot(join(inbox, "line-7"), {
      "w1.png": image,
      "lot.json": JSON.stringify({ lotId: "LOT-IT-INBOX", recipe: "R-12" }),
    });
    const client = s3.client();
    const uploaded = deferred<string>();
    const stop = new AbortController();
    const watching = watchInbox({
      inbox,
      quietMs: 10_000,
      pollMs: 10,
      signal: stop.signal,
      onLotReady: async (dir, { signal }) => {
        const result = await uploadLot({
          dir,
          s3: client,
          bucket: s3.bucket,
          stateDir: join(work, "state"),
          signal,
        });
        uploaded.resolve(result.manifestKey);
      },
    });
    const manifestKey = await uploaded.promise;
    stop.abort();
    await watching;

    assert.equal(manifestKey, "lots/LOT-IT-INBOX/manifest.json");
    const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: manifestKey }));
    const manifest = ManifestSchema.parse(
      JSON.parse((await object.Body?.transformToString()) ?? ""),
    );
    assert.deepEqual(manifest.metadata, { recipe: "R-12" });
    assert.deepEqual(await readdir(join(inbox, ".done")), ["line-7"]);
  });
});
