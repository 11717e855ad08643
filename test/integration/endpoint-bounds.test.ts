// The model server refuses out-of-bounds numbers with a 400 naming the attribute, before any image work (1e20 once blocked it).
import assert from "node:assert/strict";
import sharp from "sharp";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startEndpointServer } from "../../endpoint/server.ts";

describe("endpoint numeric bounds", () => {
  let server: Awaited<ReturnType<typeof startEndpointServer>>;
  let png: Buffer;
  beforeAll(async () => {
    server = await startEndpointServer({ port: 0, endpointName: "bounds", log: () => {} });
    png = await sharp(Buffer.alloc(64 * 64, 100), { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const value of ["1e8", "1e20"]) {
    it(`answers die_pitch_mm=${value} with 400 naming die_pitch_mm`, async () => {
      const response = await fetch(`${server.url}/invocations`, {
        method: "POST",
        headers: {
          "content-type": "image/png",
          "x-amzn-sagemaker-custom-attributes": `die_pitch_mm=${value}`,
        },
        body: png,
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { name: string; message: string } };
      assert.equal(body.error.name, "CustomAttributeError");
      assert.match(body.error.message, /die_pitch_mm/);
    });
  }
});
