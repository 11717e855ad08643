// Every number that enters has the spec's bounds: lot.json at the agent, the endpoint's custom attributes, by field name.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { LotFileError } from "../../edge-agent/errors.ts";
import { readLotFile } from "../../edge-agent/lot.ts";
import { CustomAttributeError } from "../../endpoint/errors.ts";
import { parseCustomAttributes } from "../../lib/custom-attributes.ts";

function lotJson(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "waferflow-bounds-")), "lot.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("lot.json numbers at the edge agent", () => {
  for (const pitch of ["1e8", "1e20", "1e400"]) {
    it(`refuses diePitchMm ${pitch}, naming the field`, async () => {
      const path = lotJson(`{"lotId":"B-1","diePitchMm":${pitch}}`);
      await assert.rejects(
        readLotFile(path),
        (error: Error) => error instanceof LotFileError && /field 'diePitchMm'/.test(error.message),
      );
    });
  }
  it("refuses a pitch that breaks 2-10% of the given diameter, naming the axis", async () => {
    await assert.rejects(
      readLotFile(lotJson({ waferDiameterMm: 200, diePitchMm: { x: 25, y: 12 } })),
      /field 'diePitchMm\.x'.*2-10% of the 200 mm/,
    );
  });
  it("refuses a notch angle outside 0-360 and a diameter other than 200 or 300", async () => {
    await assert.rejects(readLotFile(lotJson({ notchAngleDeg: 1e20 })), /field 'notchAngleDeg'/);
    await assert.rejects(readLotFile(lotJson({ waferDiameterMm: 1e8 })), /field 'waferDiameterMm'/);
  });
  it("accepts the README's example", async () => {
    const lot = await readLotFile(
      lotJson({
        lotId: "A1234",
        waferDiameterMm: 300,
        notchAngleDeg: 90,
        diePitchMm: { x: 10, y: 12 },
      }),
    );
    assert.deepEqual(lot.diePitchMm, { x: 10, y: 12 });
  });
});

describe("the endpoint's die_pitch_mm", () => {
  for (const value of ["1e8", "1e20", "0.001", "10x1e20"]) {
    it(`refuses die_pitch_mm=${value}, naming the attribute`, () => {
      assert.throws(
        () => parseCustomAttributes(`die_pitch_mm=${value}`),
        (error: Error) =>
          error instanceof CustomAttributeError &&
          /custom attribute die_pitch_mm/.test(error.message),
      );
    });
  }
  it("accepts a pitch inside the bounds", () => {
    assert.deepEqual(parseCustomAttributes("die_pitch_mm=10x12").diePitchMm, { x: 10, y: 12 });
  });
});
