// The KLARF we write for a fixture lot's report reads back (with an independent reader) to the same defects, dies and classes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "vitest";
import {
  KLARF_DEFECT_FIELDS,
  klarfTimestamp,
  writeKlarf,
} from "../../functions/artifacts/klarf.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";
import { readKlarf } from "../helpers/klarf-reader.ts";

/** The report the pipeline produced for test/fixtures/lot-e2e (bare and patterned wafers, a clean one). */
const report: Report = ReportSchema.parse(
  JSON.parse(
    readFileSync(resolve(import.meta.dirname, "../fixtures/reports/E2E-FIX-1.json"), "utf8"),
  ),
);

describe("KLARF 1.8 of a fixture lot", () => {
  const klarf = readKlarf(writeKlarf(report));

  it("names the lot, its product and step, and closes the file", () => {
    assert.equal(klarf.version, "1.8");
    assert.equal(klarf.lotId, report.lotId);
    assert.equal(klarf.deviceId, report.metadata?.product);
    assert.equal(klarf.stepId, report.metadata?.equipment);
    assert.equal(klarf.sampleSizeMm, 300);
    assert.ok(klarf.endOfFile);
  });

  it("has one wafer block per inspected wafer, in slot order, clean ones with no defect", () => {
    const inspected = report.images.filter((i) => ["clean", "defects_found"].includes(i.status));
    assert.deepEqual(
      klarf.wafers.map((w) => w.waferId),
      inspected.map((i) => i.fileName),
    );
    for (const wafer of klarf.wafers) {
      const slot = report.images.findIndex((i) => i.fileName === wafer.waferId) + 1;
      assert.equal(wafer.slot, slot);
    }
    const clean = klarf.wafers.find((w) => w.waferId === "wafer-003.tif");
    assert.ok(clean);
    assert.equal(clean.defects.length, 0);
  });

  it("reads back every defect with its class, die and wafer position", () => {
    let compared = 0;
    for (const image of report.images) {
      const wafer = klarf.wafers.find((w) => w.waferId === image.fileName);
      assert.ok(wafer, `${image.fileName} is in the KLARF`);
      assert.equal(wafer.defects.length, image.defects.length, image.fileName);
      image.defects.forEach((expected, i) => {
        const got = wafer.defects[i];
        assert.ok(got);
        assert.equal(got.fields.DEFECTID, i + 1);
        assert.equal(got.className, expected.class, `${image.fileName} #${i + 1} class`);
        assert.ok(Math.abs(got.waferMm.x - expected.waferMm.x) < 0.002, `${image.fileName} x`);
        assert.ok(Math.abs(got.waferMm.y - expected.waferMm.y) < 0.002, `${image.fileName} y`);
        if (expected.die) assert.deepEqual(got.die, expected.die, `${image.fileName} die`);
        else assert.deepEqual(got.die, { row: 0, col: 0 }, "a bare wafer is one pseudo-die");
        compared++;
      });
    }
    assert.equal(compared, report.counts.defects);
    assert.ok(
      report.images.some((i) => i.defects.some((d) => d.die)),
      "the lot has dies to check",
    );
  });

  it("puts each defect inside its die: 0 <= XREL < pitch, 0 <= YREL < pitch, die in the test plan", () => {
    for (const wafer of klarf.wafers) {
      for (const defect of wafer.defects) {
        const { XREL: xrel = -1, YREL: yrel = -1 } = defect.fields;
        assert.ok(xrel >= 0 && xrel < wafer.diePitchUm.x, `XREL ${xrel} of ${wafer.waferId}`);
        assert.ok(yrel >= 0 && yrel < wafer.diePitchUm.y, `YREL ${yrel} of ${wafer.waferId}`);
        assert.ok(
          wafer.testPlan.some((d) => d.x === defect.fields.XINDEX && d.y === defect.fields.YINDEX),
          `die ${defect.fields.XINDEX},${defect.fields.YINDEX} of ${wafer.waferId} is in its test plan`,
        );
      }
    }
  });

  it("declares the record fields the fab tools expect", () => {
    const text = writeKlarf(report);
    assert.match(text, new RegExp(`DefectRecordSpec 16 ${KLARF_DEFECT_FIELDS.join(" ")};`));
    assert.match(text, /ClassLookup 6\n1 "particle"/);
    assert.equal(klarfTimestamp(new Date("2026-03-04T05:06:07Z")), "03-04-26 05:06:07");
  });
});
