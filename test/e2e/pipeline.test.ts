// A whole committed fixture lot through the embedded stack and the built functions (npm run build): every true defect reported where it is, with its class.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { replayLots } from "../../cli/replay.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import type { Defect } from "../../schemas/detection.ts";
import type { Report } from "../../schemas/report.ts";
import { TruthSchema } from "../../schemas/truth.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-e2e");
const truth = TruthSchema.parse(JSON.parse(readFileSync(join(FIXTURE, "truth.json"), "utf8")));

type Box = { x: number; y: number; width: number; height: number };
function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
const contains = (box: Box, p: { x: number; y: number }) =>
  p.x >= box.x && p.x <= box.x + box.width && p.y >= box.y && p.y <= box.y + box.height;
const centre = (b: Box) => ({ x: b.x + b.width / 2, y: b.y + b.height / 2 });
/** The spec's rule: IoU >= 0.1, or one box contains the other's centre. */
const overlaps = (a: Box, b: Box) =>
  iou(a, b) >= 0.1 || contains(a, centre(b)) || contains(b, centre(a));

describe("end to end: a fixture lot through the embedded stack", () => {
  let stack: LocalStack;
  let report: Report;

  beforeAll(async () => {
    // The bundles that ship, each in its own Node process, as sam local invoke and Lambda run them.
    stack = await startLocalStack({ ephemeral: true, log: () => {}, functions: "built" });
    const [outcome] = await replayLots([FIXTURE], { stack, timeoutMs: 300_000, log: () => {} });
    assert.ok(
      outcome?.ending?.kind === "report",
      `lot reported: ${outcome?.problem ?? "no ending"}`,
    );
    report = outcome.ending.report;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("covers what the issue asks of the fixture: 5+ wafers, bare and patterned, every class, a clean one", () => {
    assert.ok(truth.wafers.length >= 5);
    const surfaces = new Set(truth.wafers.map((w) => w.surface));
    assert.deepEqual([...surfaces].sort(), ["bare", "patterned"]);
    const classes = new Set(truth.wafers.flatMap((w) => w.defects.map((d) => d.class)));
    assert.deepEqual([...classes].sort(), ["edge_chip", "particle", "scratch", "stain", "void"]);
    assert.ok(truth.wafers.some((w) => w.defects.length === 0));
  });

  it("reports every wafer of the lot, none failed", () => {
    assert.equal(report.lotId, truth.lotId);
    assert.equal(report.status, "defects_found");
    assert.equal(report.counts.images, truth.wafers.length);
    assert.equal(report.counts.failed, 0);
  });

  it("finds every true defect at its true place (pixels and wafer mm) with its class", () => {
    for (const wafer of truth.wafers) {
      const image = report.images.find((i) => i.fileName === wafer.fileName);
      assert.ok(image, `${wafer.fileName} is in the report`);
      for (const expected of wafer.defects) {
        const found: Defect | undefined = image.defects.find((d) =>
          overlaps(d.bbox, expected.bbox),
        );
        assert.ok(
          found,
          `${wafer.fileName}: ${expected.class} at ${JSON.stringify(expected.bbox)} found`,
        );
        assert.equal(
          found.class,
          expected.class,
          `${wafer.fileName}: class of defect at ${JSON.stringify(expected.bbox)}`,
        );
        const mmTolerance = Math.max(2, (wafer.diameterMm / (2 * wafer.radiusPx)) * 12);
        assert.ok(
          Math.hypot(found.waferMm.x - expected.waferMm.x, found.waferMm.y - expected.waferMm.y) <=
            mmTolerance,
          `${wafer.fileName}: ${expected.class} at ${JSON.stringify(found.waferMm)} mm, truth ${JSON.stringify(expected.waferMm)}`,
        );
        if (expected.die)
          assert.deepEqual(found.die, expected.die, `${wafer.fileName}: die of ${expected.class}`);
      }
    }
  });

  it("reports nothing on clean wafers and no false alarms elsewhere", () => {
    for (const wafer of truth.wafers) {
      const image = report.images.find((i) => i.fileName === wafer.fileName);
      const spurious = (image?.defects ?? []).filter(
        (d) => !wafer.defects.some((t) => overlaps(d.bbox, t.bbox)),
      );
      assert.deepEqual(spurious, [], `${wafer.fileName}: no false alarms`);
      if (wafer.defects.length === 0) assert.equal(image?.status, "clean");
    }
  });

  it("reports a corrupt image of a lot while processing the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "waferflow-corrupt-"));
    cpSync(FIXTURE, dir, { recursive: true });
    const lotFile = join(dir, "lot.json");
    writeFileSync(
      lotFile,
      JSON.stringify({ ...JSON.parse(readFileSync(lotFile, "utf8")), lotId: "E2E-CORRUPT" }),
    );
    const victim = truth.wafers[0]?.fileName ?? "";
    const bytes = readFileSync(join(dir, victim));
    writeFileSync(
      join(dir, victim),
      Buffer.concat([bytes.subarray(0, 400), Buffer.alloc(4000, 0x5a)]),
    );
    const [outcome] = await replayLots([dir], { stack, timeoutMs: 300_000, log: () => {} });
    assert.ok(outcome?.ending?.kind === "report");
    const corrupt = outcome.ending.report;
    assert.equal(corrupt.counts.failed, 1);
    const failed = corrupt.images.find((i) => i.fileName === victim);
    assert.equal(failed?.status, "failed");
    assert.match(failed?.error?.message ?? "", /corrupt|decod/i);
    assert.equal(corrupt.counts.images - corrupt.counts.failed, truth.wafers.length - 1);
  });
});
