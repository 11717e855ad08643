// Lot metadata travels as X-Amzn-SageMaker-Custom-Attributes and comes back as the same detection hints.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  CustomAttributeError,
  encodeCustomAttributes,
  hintsFromMetadata,
  parseCustomAttributes,
  parseInvocationAttributes,
} from "../../lib/custom-attributes.ts";
import type { LotMetadata } from "../../schemas/lot.ts";

describe("custom attributes: one table for DetectDefects and the endpoint", () => {
  const lots: LotMetadata[] = [
    {},
    { product: "P7", equipment: "CMP-2" },
    { notchAngleDeg: 90 },
    { waferDiameterMm: 200, diePitchMm: 8 },
    { notchAngleDeg: 271.5, waferDiameterMm: 300, diePitchMm: { x: 10, y: 12.5 } },
  ];

  it("decodes what it encodes, for every kind of metadata", () => {
    for (const metadata of lots) {
      const hints = hintsFromMetadata(metadata);
      assert.deepEqual(parseCustomAttributes(encodeCustomAttributes(hints)), hints);
    }
  });

  it("writes the pictures asked for first, and reads them back apart from the hints", () => {
    const header = encodeCustomAttributes(hintsFromMetadata({ notchAngleDeg: 90 }), {
      overlayMaxSide: 1024,
    });
    assert.equal(header, "overlay_px=1024;notch_angle_deg=90");
    assert.deepEqual(parseInvocationAttributes(header), {
      hints: { notchAngleDeg: 90 },
      overlayMaxSide: 1024,
    });
    assert.equal(encodeCustomAttributes({}, { previewMaxSide: 256 }), "preview_px=256");
  });

  it("writes a square pitch as one number and no header for no hints", () => {
    assert.equal(encodeCustomAttributes(hintsFromMetadata({ diePitchMm: 8 })), "die_pitch_mm=8");
    assert.equal(
      encodeCustomAttributes(hintsFromMetadata({ diePitchMm: { x: 10, y: 12.5 } })),
      "die_pitch_mm=10x12.5",
    );
    assert.equal(
      encodeCustomAttributes(hintsFromMetadata({ product: "X" } as LotMetadata)),
      undefined,
    );
  });

  it("names the attribute, not the hint field, when a value is out of bounds", () => {
    assert.throws(
      () => parseCustomAttributes("wafer_diameter_mm=450"),
      (error: unknown) =>
        error instanceof CustomAttributeError &&
        /^custom attribute wafer_diameter_mm: .*must be 200 or 300/.test(error.message),
    );
    assert.throws(
      () => parseCustomAttributes("die_pitch_mm=10x500"),
      (error: unknown) =>
        error instanceof CustomAttributeError &&
        /custom attribute die_pitch_mm\.y: /.test(error.message),
    );
  });
});
