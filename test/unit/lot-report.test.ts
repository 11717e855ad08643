// Report building: counts, lot status rules, and the SNS copy that must fit a message.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { buildReport, lotStatus, reportMessage } from "../../functions/lot-report.ts";
import type { Defect } from "../../schemas/detection.ts";
import { type ImageResult, ReportSchema } from "../../schemas/report.ts";

const defect: Defect = {
  class: "scratch",
  score: 0.9,
  bbox: { x: 10, y: 20, width: 30, height: 4 },
  centroidPx: { x: 25, y: 22 },
  areaPx: 100,
  waferMm: { x: -3.5, y: 12.25 },
  die: null,
};
const image = (
  fileName: string,
  status: ImageResult["status"],
  defects: Defect[] = [],
): ImageResult => ({
  fileName,
  key: `lots/L/images/${fileName}`,
  status,
  defects,
  ...(status === "failed" ? { error: { name: "ImageDecodeError", message: "corrupt" } } : {}),
});

describe("lot report", () => {
  it("counts images, defects and classes", () => {
    const report = buildReport({
      lotId: "L",
      images: [
        image("a", "defects_found", [defect, { ...defect, class: "particle" }]),
        image("b", "clean"),
        image("c", "failed"),
      ],
      completedAt: new Date("2026-11-26T00:00:00Z"),
    });
    assert.equal(ReportSchema.safeParse(report).success, true);
    assert.equal(report.status, "defects_found");
    const { byClass, ...counts } = report.counts;
    assert.deepEqual(counts, {
      images: 3,
      clean: 1,
      withDefects: 1,
      failed: 1,
      unusable: 0,
      rejected: 0,
      defects: 2,
    });
    assert.equal(byClass.stain, 0);
    assert.equal(report.counts.byClass.scratch, 1);
    assert.equal(report.counts.byClass.particle, 1);
    assert.equal(report.reportKey, "lots/L/report.json");
  });

  it("is clean only when every wafer was inspected and none has a defect", () => {
    assert.equal(lotStatus([image("a", "clean")]), "clean");
    assert.equal(lotStatus([image("a", "clean"), image("b", "failed")]), "incomplete");
    assert.equal(lotStatus([image("a", "clean"), image("b", "unusable")]), "incomplete");
    assert.equal(lotStatus([image("a", "clean")], { name: "X", message: "y" }), "failed");
  });

  it("keeps the SNS copy whole when small and cuts defect lists when it would not fit", () => {
    const small = buildReport({
      lotId: "L",
      images: [image("a", "defects_found", [defect])],
      completedAt: new Date(),
    });
    assert.deepEqual(JSON.parse(reportMessage(small)), JSON.parse(JSON.stringify(small)));
    const many = Array.from({ length: 2000 }, () => defect);
    const big = buildReport({
      lotId: "L",
      images: [image("a", "defects_found", many)],
      completedAt: new Date(),
    });
    const message = JSON.parse(reportMessage(big));
    assert.equal(message.truncated, true);
    assert.equal(message.images[0].defects.length, 0);
    assert.equal(message.counts.defects, 2000);
    assert.ok(Buffer.byteLength(reportMessage(big)) < 256 * 1024);
  });
});
