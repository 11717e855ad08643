// Preprocessing on real encoded images: luminance, 8-bit full range, size reduction, clear refusals.
import assert from "node:assert/strict";
import sharp from "sharp";
import { describe, it } from "vitest";
import { preprocessBytes } from "../../functions/preprocess-image/core.ts";
import { decodeGray, ImageDecodeError, ImageSizeError } from "../../lib/gray-image.ts";

async function ramp16(width: number, height: number, low: number, high: number): Promise<Buffer> {
  const pixels = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      pixels[y * width + x] = low + Math.round(((high - low) * x) / (width - 1));
  }
  return sharp(Buffer.from(pixels.buffer), { raw: { width, height, channels: 1 } })
    .toColourspace("grey16")
    .png()
    .toBuffer();
}

describe("preprocessBytes", () => {
  it("stretches a narrow 16-bit range to full 8-bit and keeps small frames at size", async () => {
    const { png, info } = await preprocessBytes(await ramp16(640, 600, 30000, 31000));
    assert.deepEqual(
      { w: info.width, h: info.height, scale: info.scale, depth: info.originalBitDepth },
      { w: 640, h: 600, scale: 1, depth: 16 },
    );
    const gray = await decodeGray(png);
    assert.equal(gray.bitDepth, 8);
    let min = 255;
    let max = 0;
    for (const v of gray.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min <= 2 && max >= 253, `range ${min}-${max} is stretched`);
  });

  it("reduces frames over the detector's side and reports the scale", async () => {
    const { info } = await preprocessBytes(await ramp16(1200, 1000, 0, 65535), { maxSide: 600 });
    assert.equal(info.width, 600);
    assert.equal(info.height, 500);
    assert.equal(info.scale, 0.5);
  });

  it("converts colour to luminance", async () => {
    const rgb = await sharp({
      create: { width: 600, height: 600, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .tiff({ compression: "lzw" })
      .toBuffer();
    const gray = await decodeGray((await preprocessBytes(rgb)).png);
    assert.equal(gray.bitDepth, 8);
    assert.equal(gray.data.length, 600 * 600);
  });

  it("names a corrupt image", async () => {
    const good = await ramp16(600, 600, 0, 65535);
    const corrupt = Buffer.concat([good.subarray(0, 200), Buffer.alloc(500, 7)]);
    await assert.rejects(preprocessBytes(corrupt), ImageDecodeError);
    await assert.rejects(preprocessBytes(Buffer.from("not an image at all")), ImageDecodeError);
  });

  it("refuses frames outside 512-8192 px", async () => {
    await assert.rejects(preprocessBytes(await ramp16(300, 300, 0, 100)), ImageSizeError);
  });

  it("refuses formats other than PNG and TIFF", async () => {
    const jpeg = await sharp({
      create: { width: 600, height: 600, channels: 3, background: "#808080" },
    })
      .jpeg()
      .toBuffer();
    await assert.rejects(preprocessBytes(jpeg), /unsupported image format 'jpeg'/);
  });
});
