// Unit tests of the agent's journal: which lot id a lot keeps, which files start over, atomic storage.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import {
  acquireLotLock,
  JournalStore,
  journalPath,
  loadJournal,
  planJournal,
  writeJournalAtomically,
} from "../../edge-agent/journal.ts";
import type { LotScan, ScannedImage } from "../../edge-agent/lot.ts";
import type { AgentJournal } from "../../schemas/agent-journal.ts";

const NOW = new Date("2026-01-02T03:04:05.000Z");
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const SHA_C = "c".repeat(64);

function image(fileName: string, sha256: string, bytes = 100): ScannedImage {
  return {
    fileName,
    path: `/lots/x/${fileName}`,
    segment: fileName,
    sha256,
    bytes,
    mtimeMs: 1,
    contentType: "image/png",
  };
}

function scan(images: ScannedImage[], lotId?: string): LotScan {
  return {
    dir: "/lots/x",
    lotFile: lotId ? { lotId } : undefined,
    metadata: {},
    images,
    rejected: [],
    ignored: [],
  };
}

let generated = 0;
const newLotId = () => `LOT-GEN-${++generated}`;

function plan(existing: AgentJournal | undefined, lotScan: LotScan, force = false) {
  return planJournal({ existing, scan: lotScan, bucket: "bucket-1", now: NOW, force, newLotId });
}

/** A journal as a finished run leaves it. */
function finished(base: AgentJournal): AgentJournal {
  const files = Object.fromEntries(
    Object.entries(base.files).map(([name, file]) => [name, { ...file, done: true }]),
  );
  return {
    ...base,
    files,
    manifest: {
      key: `lots/${base.lotId}/manifest.json`,
      createdAt: NOW.toISOString(),
      sha256: SHA_C,
    },
  };
}

describe("planJournal", () => {
  test("a first run generates an id, or takes lot.json's", () => {
    const generatedPlan = plan(undefined, scan([image("a.png", SHA_A)]));
    assert.match(generatedPlan.journal.lotId, /^LOT-GEN-\d+$/);
    assert.equal(generatedPlan.journal.lotIdSource, "generated");
    assert.equal(generatedPlan.freshLot, true);
    assert.deepEqual(generatedPlan.journal.files["a.png"], {
      key: `lots/${generatedPlan.journal.lotId}/images/a.png`,
      sha256: SHA_A,
      bytes: 100,
      mtimeMs: 1,
      contentType: "image/png",
      done: false,
    });
    const named = plan(undefined, scan([image("a.png", SHA_A)], "LOT-NAMED"));
    assert.equal(named.journal.lotId, "LOT-NAMED");
    assert.equal(named.journal.lotIdSource, "lot.json");
  });

  test("a restart keeps the generated id and the progress of unchanged files", () => {
    const first = plan(undefined, scan([image("a.png", SHA_A), image("b.png", SHA_B)])).journal;
    const a = first.files["a.png"];
    const b = first.files["b.png"];
    assert.ok(a && b);
    a.done = true;
    b.multipart = {
      uploadId: "up-1",
      partSizeBytes: 10,
      parts: [{ partNumber: 1, etag: '"e1"', bytes: 10 }],
    };

    const again = plan(first, scan([image("a.png", SHA_A), image("b.png", SHA_B)]));
    assert.equal(again.journal.lotId, first.lotId);
    assert.equal(again.freshLot, false);
    assert.equal(again.journal.files["a.png"]?.done, true);
    assert.equal(again.journal.files["b.png"]?.multipart?.uploadId, "up-1");
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.staleUploads, []);
  });

  test("a changed file starts over and its multipart upload is marked stale; a removed one is dropped", () => {
    const first = plan(
      undefined,
      scan([image("a.png", SHA_A), image("b.png", SHA_B), image("c.png", SHA_C)]),
    ).journal;
    for (const file of Object.values(first.files)) file.done = true;
    const b = first.files["b.png"];
    assert.ok(b);
    b.done = false;
    b.multipart = { uploadId: "up-b", partSizeBytes: 10, parts: [] };

    const again = plan(first, scan([image("a.png", SHA_A), image("b.png", SHA_C, 200)]));
    assert.deepEqual(again.changed, ["b.png"]);
    assert.deepEqual(again.removed, ["c.png"]);
    assert.deepEqual(again.staleUploads, [
      { key: `lots/${first.lotId}/images/b.png`, uploadId: "up-b" },
    ]);
    assert.equal(again.journal.files["a.png"]?.done, true);
    assert.equal(again.journal.files["b.png"]?.done, false);
    assert.equal(again.journal.files["b.png"]?.multipart, undefined);
    assert.equal(again.journal.files["b.png"]?.sha256, SHA_C);
    assert.equal(again.journal.files["c.png"], undefined);
  });

  test("a lot.json id that differs from the journal's wins and starts a fresh journal", () => {
    const first = plan(undefined, scan([image("a.png", SHA_A)])).journal;
    const again = plan(first, scan([image("a.png", SHA_A)], "LOT-FROM-FILE"));
    assert.equal(again.journal.lotId, "LOT-FROM-FILE");
    assert.equal(again.freshLot, true);
    assert.equal(again.journal.files["a.png"]?.key, "lots/LOT-FROM-FILE/images/a.png");
  });

  test("a finished lot stays finished when nothing changed, unless forced", () => {
    const done = finished(plan(undefined, scan([image("a.png", SHA_A)])).journal);
    const again = plan(done, scan([image("a.png", SHA_A)]));
    assert.equal(again.journal.lotId, done.lotId);
    assert.deepEqual(again.journal.manifest, done.manifest);
    const forced = plan(done, scan([image("a.png", SHA_A)]), true);
    assert.equal(forced.journal.lotId, done.lotId);
    assert.equal(forced.journal.manifest, undefined, "a forced run writes the manifest again");
  });

  test("a finished generated lot whose folder now holds other content is a new lot", () => {
    const done = finished(plan(undefined, scan([image("a.png", SHA_A)])).journal);
    const next = plan(done, scan([image("a.png", SHA_B)]));
    assert.notEqual(next.journal.lotId, done.lotId);
    assert.equal(next.freshLot, true);
    assert.equal(next.journal.files["a.png"]?.done, false);
  });

  test("a finished named lot that changed is refused unless forced", () => {
    const done = finished(plan(undefined, scan([image("a.png", SHA_A)], "LOT-N")).journal);
    assert.throws(
      () => plan(done, scan([image("a.png", SHA_A), image("new.png", SHA_B)], "LOT-N")),
      (error: Error) =>
        error.name === "LotAlreadyUploadedError" &&
        /LOT-N/.test(error.message) &&
        /added: 1/.test(error.message),
    );
    const forced = plan(
      done,
      scan([image("a.png", SHA_A), image("new.png", SHA_B)], "LOT-N"),
      true,
    );
    assert.equal(forced.journal.lotId, "LOT-N");
    assert.equal(forced.journal.files["a.png"]?.done, true);
    assert.equal(forced.journal.files["new.png"]?.done, false);
  });

  test("another bucket means nothing is known to be uploaded there", () => {
    const done = finished(plan(undefined, scan([image("a.png", SHA_A)])).journal);
    const moved = planJournal({
      existing: done,
      scan: scan([image("a.png", SHA_A)]),
      bucket: "bucket-2",
      now: NOW,
      newLotId,
    });
    assert.equal(moved.journal.lotId, done.lotId);
    assert.equal(moved.journal.bucket, "bucket-2");
    assert.equal(moved.journal.files["a.png"]?.done, false);
    assert.equal(moved.journal.manifest, undefined);
  });
});

describe("journal storage", () => {
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "waferflow-journal-"));
  });
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  test("one journal per lot directory, named after its absolute path", () => {
    const a = journalPath(stateDir, "/inbox/lot 1");
    assert.equal(a, journalPath(stateDir, "/inbox/x/../lot 1"));
    assert.notEqual(a, journalPath(stateDir, "/other/lot 1"));
    assert.match(a, /journals\/lot_1-[0-9a-f]{16}\.json$/);
    assert.match(journalPath(stateDir, "/inbox/..."), /journals\/lot-[0-9a-f]{16}\.json$/);
  });

  test("round-trips through atomic writes and leaves no temp files", async () => {
    const journal = plan(undefined, scan([image("a.png", SHA_A)])).journal;
    const path = journalPath(stateDir, "/lots/round-trip");
    const store = new JournalStore(path, journal);
    const a = journal.files["a.png"];
    assert.ok(a);
    // Concurrent saves (parts finishing together) must land in order, the last state winning.
    const saves = [store.save()];
    a.multipart = { uploadId: "u", partSizeBytes: 5, parts: [] };
    saves.push(store.save());
    a.multipart.parts.push({ partNumber: 1, etag: "e", bytes: 5 });
    saves.push(store.save());
    await Promise.all(saves);
    assert.deepEqual(await loadJournal(path), journal);
    assert.deepEqual(await readdir(join(stateDir, "journals")), [path.split("/").pop()]);
    assert.equal(await loadJournal(join(stateDir, "journals", "absent.json")), undefined);
  });

  test("saves made while a write is under way share the next write, and each resolves with its state on disk", async () => {
    const journal = plan(undefined, scan([image("a.png", SHA_A)])).journal;
    const a = journal.files["a.png"];
    assert.ok(a);
    a.multipart = { uploadId: "u", partSizeBytes: 5, parts: [] };
    const written: AgentJournal[] = [];
    let releaseWrite: () => void = () => {};
    // Each write takes the journal as it is when the write starts, then waits until released.
    const store = new JournalStore("unused", journal, async (_path, state) => {
      written.push(structuredClone(state));
      await new Promise<void>((resolve) => {
        releaseWrite = resolve;
      });
    });
    const first = store.save();
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(written.length, 1, "the first save writes at once");
    // Ten parts finish while that write is under way: their saves share one write.
    const later: Promise<void>[] = [];
    for (let part = 1; part <= 10; part++) {
      a.multipart.parts.push({ partNumber: part, etag: `e${part}`, bytes: 5 });
      later.push(store.save());
    }
    assert.equal(new Set(later).size, 1, "saves behind a running write share one promise");
    releaseWrite();
    await first;
    while (written.length < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(written[0]?.files["a.png"]?.multipart?.parts.length, 0);
    assert.equal(
      written[1]?.files["a.png"]?.multipart?.parts.length,
      10,
      "the shared write holds every part",
    );
    releaseWrite();
    await Promise.all(later);
    assert.equal(written.length, 2, "eleven saves, two writes");
    // A save after the last write resolved writes again: nothing is dropped.
    a.done = true;
    const last = store.save();
    while (written.length < 3) await new Promise((resolve) => setImmediate(resolve));
    releaseWrite();
    await last;
    assert.equal(written[2]?.files["a.png"]?.done, true);
  });

  test("a failed write rejects the saves that shared it, and the next save writes again", async () => {
    const journal = plan(undefined, scan([image("a.png", SHA_A)])).journal;
    let fail = true;
    let writes = 0;
    const store = new JournalStore("unused", journal, async () => {
      writes++;
      if (fail) throw new Error("disk full");
    });
    await assert.rejects(store.save(), /disk full/);
    fail = false;
    await store.save();
    assert.equal(writes, 2);
  });

  test("an agent killed while it rewrites its journal leaves the old or the new journal, whole", async () => {
    // A real process rewrites a 1000-file journal in a loop, alternating two states, and is
    // SIGKILLed mid-loop: whatever it was doing (temp file, fsync, rename), the journal on disk
    // must load and be one of the two.
    const path = journalPath(stateDir, "/lots/killed");
    const images = Array.from({ length: 1000 }, (_, i) => image(`w${i}.png`, SHA_A));
    const journal = plan(undefined, scan(images)).journal;
    await writeJournalAtomically(path, journal);
    const journalModule = new URL("../../edge-agent/journal.ts", import.meta.url).href;
    const script = `
      import { loadJournal, writeJournalAtomically } from ${JSON.stringify(journalModule)};
      const journal = await loadJournal(${JSON.stringify(path)});
      for (let round = 0; ; round++) {
        for (const file of Object.values(journal.files)) file.done = round % 2 === 0;
        await writeJournalAtomically(${JSON.stringify(path)}, journal);
        process.stdout.write(".");
      }`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let rounds = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        rounds += chunk.length;
        // Killed at whatever point of its next rewrite it has reached.
        if (rounds >= 3) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once("exit", resolve));
    const survived = await loadJournal(path);
    assert.ok(survived, "the journal is still there");
    const done = new Set(Object.values(survived.files).map((file) => file.done));
    assert.equal(done.size, 1, "one whole state, not a mix");
    assert.equal(Object.keys(survived.files).length, 1000);
  });

  test("a corrupt or foreign journal is refused with a way out", async () => {
    const path = join(stateDir, "journals", "bad.json");
    await writeFile(path, "{ half a jour");
    await assert.rejects(
      loadJournal(path),
      (error: Error) => error.name === "JournalError" && /delete it/.test(error.message),
    );
    await writeJournalAtomically(path, { nonsense: true } as unknown as AgentJournal);
    await assert.rejects(
      loadJournal(path),
      (error: Error) => error.name === "JournalError" && /journalVersion/.test(error.message),
    );
  });

  test("a lot's lock keeps a second agent out until released, and a dead owner's lock is taken over", async () => {
    const path = journalPath(stateDir, "/lots/locked");
    const release = await acquireLotLock(path);
    await assert.rejects(
      acquireLotLock(path),
      (error: Error) => error.name === "LotBusyError" && /remove the lock/.test(error.message),
    );
    await release();
    const again = await acquireLotLock(path);
    await again();

    // A pid far above any pid_max stands for a process that died without releasing its lock.
    await writeFile(
      `${path}.lock`,
      JSON.stringify({ pid: 2 ** 30, host: hostname(), since: NOW.toISOString() }),
    );
    const takenOver = await acquireLotLock(path);
    await takenOver();

    await writeFile(
      `${path}.lock`,
      JSON.stringify({ pid: 2 ** 30, host: "another-host", since: NOW.toISOString() }),
    );
    await assert.rejects(
      acquireLotLock(path),
      (error: Error) => error.name === "LotBusyError" && /another-host/.test(error.message),
    );
  });
});
