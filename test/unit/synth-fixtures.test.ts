// The committed fixtures: what they must contain, their size budget, and that the generator still makes them.
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "vitest";
import { decodeGray } from "../../lib/gray-image.ts";
import { LotFileSchema } from "../../schemas/lot.ts";
import { type Truth, TruthSchema } from "../../schemas/truth.ts";
import {
  E2E_WAFERS,
  EVAL_WAFERS,
  e2eOptions,
  evalWaferOptions,
  FIXTURE_SEED,
} from "../../synth/fixtures.ts";
import { generateWafer } from "../../synth/generate.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
const ALL_CLASSES = ["edge_chip", "particle", "scratch", "stain", "void"];

async function readLot(name: string): Promise<{ dir: string; truth: Truth; files: string[] }> {
  const dir = join(FIXTURES, name);
  const truth = TruthSchema.parse(JSON.parse(await readFile(join(dir, "truth.json"), "utf8")));
  LotFileSchema.parse(JSON.parse(await readFile(join(dir, "lot.json"), "utf8")));
  const files = (await readdir(dir)).filter((f) => f !== "truth.json" && f !== "lot.json").sort();
  assert.deepEqual(files, truth.wafers.map((w) => w.fileName).sort(), `${name}: files match truth`);
  return { dir, truth, files };
}

test("lot-e2e holds every class, both surfaces, a clean wafer, a 16-bit PNG and a TIFF", async () => {
  const { truth } = await readLot("lot-e2e");
  assert.equal(truth.wafers.length, E2E_WAFERS.length);
  const classes = new Set(truth.wafers.flatMap((w) => w.defects.map((d) => d.class)));
  assert.deepEqual([...classes].sort(), ALL_CLASSES);
  assert.ok(
    truth.wafers.some((w) => w.defects.length === 0),
    "a clean wafer",
  );
  assert.ok(
    truth.wafers.some((w) => w.bitDepth === 16 && w.format === "png"),
    "a 16-bit PNG",
  );
  assert.ok(
    truth.wafers.some((w) => w.format === "tiff"),
    "a TIFF",
  );
  assert.deepEqual([...new Set(truth.wafers.map((w) => w.surface))].sort(), ["bare", "patterned"]);
  for (const wafer of truth.wafers) {
    assert.equal(Math.max(wafer.width, wafer.height), 1024);
    for (const defect of wafer.defects) {
      // "Clear" means well past the 5-sigma rule, not just over it.
      assert.ok(
        Math.abs(defect.contrast) >= 10 * wafer.noiseSigma,
        `${wafer.fileName} ${defect.class}`,
      );
    }
  }
});

test("the eval set is a mixed, labelled set of 768-1024 px wafers", async () => {
  const { truth } = await readLot("eval");
  assert.equal(truth.wafers.length, EVAL_WAFERS);
  const classes = new Set(truth.wafers.flatMap((w) => w.defects.map((d) => d.class)));
  assert.deepEqual([...classes].sort(), ALL_CLASSES);
  assert.ok(
    truth.wafers.some((w) => w.defects.length === 0),
    "clean wafers too",
  );
  assert.deepEqual([...new Set(truth.wafers.map((w) => w.surface))].sort(), ["bare", "patterned"]);
  for (const wafer of truth.wafers) {
    assert.ok(wafer.width >= 700 && Math.max(wafer.width, wafer.height) <= 1024, wafer.fileName);
  }
});

test("the fixtures stay small enough to commit", async () => {
  let bytes = 0;
  for (const lot of ["lot-e2e", "eval"]) {
    for (const file of await readdir(join(FIXTURES, lot)))
      bytes += (await stat(join(FIXTURES, lot, file))).size;
  }
  assert.ok(bytes < 15 * 1024 * 1024, `${(bytes / 1048576).toFixed(1)} MB of fixtures`);
});

test("the generator still produces the committed pixels and truth", async () => {
  const cases = [
    ...E2E_WAFERS.map((_, index) => ({
      lot: "lot-e2e",
      seed: FIXTURE_SEED,
      index,
      options: e2eOptions(index),
    })),
    ...[0, 5, 13].map((index) => ({
      lot: "eval",
      seed: FIXTURE_SEED + 1,
      index,
      options: evalWaferOptions(index),
    })),
  ];
  const truths = new Map<string, Truth>();
  for (const { lot, seed, index, options } of cases) {
    if (!truths.has(lot)) {
      truths.set(
        lot,
        TruthSchema.parse(JSON.parse(await readFile(join(FIXTURES, lot, "truth.json"), "utf8"))),
      );
    }
    const fresh = await generateWafer(seed, index, options);
    const committedTruth = truths.get(lot)?.wafers[index];
    assert.deepEqual(
      fresh.truth,
      committedTruth,
      `${lot} ${fresh.fileName}: truth changed; run synth/make-fixtures.ts`,
    );
    // Pixels, not bytes: an encoder upgrade may repack the same image differently.
    const committed = await decodeGray(await readFile(join(FIXTURES, lot, fresh.fileName)));
    const regenerated = await decodeGray(fresh.bytes);
    assert.ok(
      Buffer.from(
        committed.data.buffer,
        committed.data.byteOffset,
        committed.data.byteLength,
      ).equals(
        Buffer.from(
          regenerated.data.buffer,
          regenerated.data.byteOffset,
          regenerated.data.byteLength,
        ),
      ),
      `${lot} ${fresh.fileName}: pixels changed; run synth/make-fixtures.ts`,
    );
  }
});
