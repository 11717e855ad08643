// What an operator reads in the report alert: subject, e-mail text, filter attributes, and the size SNS allows.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "vitest";
import { reportTable } from "../../cli/reports.ts";
import {
  alertEmail,
  alertSubject,
  reportAttributes,
  reportEmail,
  reportSubject,
} from "../../functions/artifacts/message.ts";
import { reportMessage } from "../../functions/lot-report.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";

const fixture: Report = ReportSchema.parse(
  JSON.parse(
    readFileSync(resolve(import.meta.dirname, "../fixtures/reports/E2E-FIX-1.json"), "utf8"),
  ),
);

function withUnusable(report: Report): Report {
  const images = report.images.map((image, i) =>
    i === 2
      ? {
          ...image,
          status: "unusable" as const,
          defects: [],
          error: { name: "ImageUnusable", message: "out of focus: sharpness 0.02 < 0.1" },
        }
      : image,
  );
  return { ...report, images, counts: { ...report.counts, clean: 0, unusable: 1 } };
}

describe("report subject", () => {
  it("says lot, equipment, wafers with defects and the uninspected ones", () => {
    assert.equal(
      reportSubject(withUnusable(fixture)),
      "Lot E2E-FIX-1 on MACRO-INSP-01: 5 wafers with defects, 1 unusable",
    );
  });
  it("stays within SNS's 100 printable ASCII characters", () => {
    const long = {
      ...fixture,
      lotId: "L".repeat(80),
      metadata: { ...fixture.metadata, equipment: "Équipement-ÜBER-lang-CMP-2" },
    };
    const subject = reportSubject(long);
    assert.ok(subject.length <= 100, subject);
    assert.match(subject, /^[\x20-\x7e]+$/);
    assert.ok(subject.endsWith("..."));
  });
  it("names a failed lot's error", () => {
    const failed: Report = {
      ...fixture,
      status: "failed",
      error: { name: "States.Timeout", message: "x" },
    };
    assert.equal(reportSubject(failed), "Lot E2E-FIX-1 on MACRO-INSP-01: FAILED (States.Timeout)");
  });
});

describe("report e-mail text", () => {
  const text = reportEmail(withUnusable(fixture));
  it("has one line per wafer: slot, file, status, defects by class, worst location in mm and die", () => {
    const line2 = text.split("\n").find((l) => /^\s+2 wafer-002\.png/.test(l));
    assert.ok(line2, text);
    assert.match(line2, /defects_found/);
    assert.match(line2, /particle 1, void 1/);
    const worst = fixture.images[1]?.defects.reduce((a, b) => (b.areaPx > a.areaPx ? b : a));
    assert.ok(worst?.die);
    assert.ok(
      line2.includes(
        `${worst.class} at (${worst.waferMm.x.toFixed(1)}, ${worst.waferMm.y.toFixed(1)}) mm, die r${worst.die.row} c${worst.die.col}`,
      ),
      line2,
    );
  });
  it("lists the wafers that were not inspected, with their reasons", () => {
    assert.match(
      text,
      /Not inspected:\n\s+slot 3 wafer-003\.tif unusable: ImageUnusable: out of focus/,
    );
  });
  it("links the report, KLARF, wafer map and overlays when the report has links", () => {
    const linked: Report = {
      ...fixture,
      links: {
        report: "https://x/r",
        klarf: "https://x/k",
        waferMap: "https://x/m",
        console: "https://x/c",
      },
      images: fixture.images.map((i) => ({ ...i, overlayUrl: `https://x/o/${i.fileName}` })),
    };
    const email = reportEmail(linked);
    for (const url of [
      "https://x/r",
      "https://x/k",
      "https://x/m",
      "https://x/c",
      "https://x/o/wafer-002.png",
    ]) {
      assert.ok(email.includes(url), url);
    }
  });
});

describe("filter attributes", () => {
  it("carry severity, status, product, equipment, recipe and the classes found", () => {
    assert.deepEqual(reportAttributes(fixture), {
      lotId: "E2E-FIX-1",
      status: "defects_found",
      severity: "major",
      classes: ["particle", "scratch", "void", "stain", "edge_chip"],
      product: "ENG-MIX-01",
      equipment: "MACRO-INSP-01",
      recipe: "post-cmp",
    });
  });
});

describe("a large lot still fits one SNS message", () => {
  it("keeps the JSON copy and the e-mail text together under 256 KiB", () => {
    const image = fixture.images[1];
    assert.ok(image);
    const url = `https://bucket.s3.amazonaws.com/lots/X/overlays/w.webp?${"X-Amz-Signature=abc&".repeat(40)}`;
    const big: Report = {
      ...fixture,
      images: Array.from({ length: 1000 }, (_, i) => ({
        ...image,
        fileName: `w-${i}.png`,
        overlayUrl: url,
      })),
    };
    const email = reportEmail(big);
    const json = reportMessage(big, 240 * 1024 - Buffer.byteLength(JSON.stringify(email)) - 1024);
    const message = JSON.stringify({ default: json, email });
    assert.ok(Buffer.byteLength(message) < 256 * 1024, `${Buffer.byteLength(message)} bytes`);
    const parsed = ReportSchema.parse(JSON.parse(json));
    assert.equal(parsed.truncated, true);
    assert.match(email, /more wafers in the full report/);
  });
});

describe("failed-lot alert", () => {
  it("reads as a sentence with what to do, and a short subject", () => {
    const alert = {
      schemaVersion: 1 as const,
      kind: "lot_failed" as const,
      at: "2026-01-01T00:00:00.000Z",
      lotId: "A1",
      message: "lot A1 failed: States.Timeout: took too long",
      key: "lots/A1/report.json",
    };
    assert.equal(
      alertSubject(alert, { equipment: "CMP-2" }, "States.Timeout"),
      "Lot A1 on CMP-2 FAILED: States.Timeout",
    );
    const text = alertEmail(alert, { equipment: "CMP-2", product: "P7" }, "https://x/report");
    assert.match(text, /^Lot A1 FAILED at 2026-01-01T00:00:00.000Z/);
    assert.match(text, /Product P7 \| Equipment CMP-2/);
    assert.match(text, /drop the lot again/);
    assert.match(text, /Report: https:\/\/x\/report/);
  });
});

describe("terminal table (waferflow local)", () => {
  it("has a line per wafer with its status and defects by class, and the reason of an uninspected one", () => {
    const lines = reportTable(withUnusable(fixture)).split("\n");
    assert.match(
      lines[0] ?? "",
      /^Lot E2E-FIX-1 on MACRO-INSP-01: DEFECTS_FOUND - 6 wafers, 5 with defects, 13 defects, 1 unusable$/,
    );
    assert.match(
      lines[1] ?? "",
      /slot\s+wafer\s+status\s+particle\s+scratch\s+void\s+stain\s+edge_chip$/,
    );
    assert.match(lines[3] ?? "", /^\s+2\s+wafer-002\.png\s+defects_found\s+1\s+\.\s+1\s+\.\s+\.$/);
    assert.match(lines[4] ?? "", /^\s+3\s+wafer-003\.tif\s+unusable .*ImageUnusable: out of focus/);
    assert.equal(lines.length, 2 + fixture.images.length);
  });
});
