// The pictures of a lot: every defect marked inside its die on the wafer map, boxes drawn in class colour on the overlay.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import sharp from "sharp";
import { describe, it } from "vitest";
import type { InkRect } from "../../endpoint/label-font.ts";
import {
  type OverlayInput,
  overlayMarks,
  overlayPixels,
  type Paint,
  renderOverlay,
} from "../../endpoint/overlay.ts";
import { previewPicture, previewPixels, renderPreview } from "../../endpoint/preview.ts";
import { renderWaferMap } from "../../functions/artifacts/wafer-map.ts";
import { CLASS_COLOURS } from "../../lib/defect-style.ts";
import { decodeGray, type GrayImage } from "../../lib/gray-image.ts";
import { type Preview, PreviewSchema } from "../../schemas/detection.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";
import { TruthSchema } from "../../schemas/truth.ts";

/** One paint as SVG. */
function paintSvg(paint: Paint): string {
  switch (paint.kind) {
    case "rects":
      // One rectangle alone is a rect (a tag); a label's runs of ink are one path.
      if (paint.rects.length === 1) {
        const [rect] = paint.rects as [InkRect];
        return `<rect x="${rect.x}" y="${rect.y}" width="${rect.width}" height="${rect.height}" fill="${paint.colour}"/>`;
      }
      return `<path d="${paint.rects.map((r) => `M${r.x} ${r.y}h${r.width}v${r.height}h${-r.width}z`).join("")}" fill="${paint.colour}"/>`;
    case "frame": {
      const { rect } = paint;
      return `<rect x="${rect.x}" y="${rect.y}" width="${rect.width}" height="${rect.height}" fill="none" stroke="${paint.colour}" stroke-width="${paint.lineWidth}"/>`;
    }
    case "polygon":
      return `<polygon points="${paint.points.map((p) => `${p.x},${p.y}`).join(" ")}" fill="${paint.colour}" stroke="${paint.outline.colour}" stroke-width="${paint.outline.width}"/>`;
  }
}

/** The whole overlay's marks as one SVG, for librsvg to render: the reference the raster is held to. */
function overlaySvg(
  input: Omit<OverlayInput, "image" | "maxSide">,
  size: { width: number; height: number; scale: number },
): string {
  const { width, height } = size;
  const marks = overlayMarks(input, size).map((mark) => mark.paints.map(paintSvg).join(""));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${marks.join("")}</svg>`;
}

const FIXTURES = resolve(import.meta.dirname, "../fixtures");
const report: Report = ReportSchema.parse(
  JSON.parse(readFileSync(resolve(FIXTURES, "reports/E2E-FIX-1.json"), "utf8")),
);
const truth = TruthSchema.parse(
  JSON.parse(readFileSync(resolve(FIXTURES, "lot-e2e/truth.json"), "utf8")),
);

const attr = (element: string, name: string) =>
  Number(new RegExp(`\\b${name}="([^"]+)"`).exec(element)?.[1]);

describe("wafer map", () => {
  it("marks each of a wafer's defects inside the die the report gives it", () => {
    for (const image of report.images.filter((i) => i.defects.some((d) => d.die))) {
      const svg = renderWaferMap(report, { fileNames: [image.fileName] });
      const marks = svg.match(/<circle class="defect"[^>]*>/g) ?? [];
      assert.equal(marks.length, image.defects.length);
      image.defects.forEach((defect, index) => {
        const mark = marks.find((m) => m.includes(`data-index="${index}"`)) as string;
        assert.equal(attr(mark, "cx"), Number(defect.waferMm.x.toFixed(3)));
        assert.equal(attr(mark, "cy"), Number((-defect.waferMm.y).toFixed(3)));
        if (!defect.die) return;
        const die = new RegExp(
          `<rect class="die" data-row="${defect.die.row}" data-col="${defect.die.col}" data-defects="(\\d+)"[^>]*>`,
        ).exec(svg);
        assert.ok(die, `${image.fileName}: die r${defect.die.row} c${defect.die.col} drawn`);
        assert.ok(Number(die[1]) >= 1, "the die is coloured as holding a defect");
        const [x = 0, y = 0, w = 0, h = 0] = ["x", "y", "width", "height"].map((n) =>
          attr(die[0], n),
        );
        const cx = attr(mark, "cx");
        const cy = attr(mark, "cy");
        assert.ok(cx >= x && cx <= x + w && cy >= y && cy <= y + h, `${image.fileName} #${index}`);
      });
    }
  });

  it("escapes file names and marks the notch at the bottom", () => {
    const odd: Report = {
      ...report,
      images: report.images.map((i) => ({ ...i, fileName: `<b>${i.fileName}"` })),
    };
    const svg = renderWaferMap(odd);
    assert.ok(!svg.includes("<b>"));
    // Below the centre in SVG units (wafer y down), on the rim of the 300 mm wafer.
    const notch = /<polygon class="notch" points="([^"]+)"/.exec(svg)?.[1] ?? "";
    const ys = notch.split(" ").map((p) => Number(p.split(",")[1]));
    assert.ok(Math.max(...ys) > 150 && Math.min(...ys) > 140, notch);
  });
});

describe("overlay", () => {
  it("shrinks the wafer to 1024 px and draws each box in its class colour where the defect is", async () => {
    const wafer = truth.wafers.find((w) => w.defects.length > 0 && w.width > 512);
    assert.ok(wafer);
    const image = await decodeGray(readFileSync(resolve(FIXTURES, "lot-e2e", wafer.fileName)));
    const overlay = await renderOverlay({ image, wafer, defects: wafer.defects, maxSide: 512 });
    const { data, info } = await sharp(overlay.webp)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.equal(Math.max(info.width, info.height), 512);
    const inkNear = (box: { x: number; y: number; width: number; height: number }, hex: string) => {
      const want = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
      let count = 0;
      const s = overlay.scale;
      for (let y = Math.floor(box.y * s) - 10; y <= (box.y + box.height) * s + 10; y++) {
        for (let x = Math.floor(box.x * s) - 10; x <= (box.x + box.width) * s + 10; x++) {
          if (x < 0 || y < 0 || x >= info.width || y >= info.height) continue;
          const at = (y * info.width + x) * info.channels;
          const d = want.reduce((sum, v, c) => sum + Math.abs((data[at + c] as number) - v), 0);
          if (d < 90) count++;
        }
      }
      return count;
    };
    for (const defect of wafer.defects) {
      assert.ok(inkNear(defect.bbox, CLASS_COLOURS[defect.class]) >= 8, defect.class);
    }
    // A clean wafer's overlay has no box colour anywhere near its centre.
    const clean = await renderOverlay({ image, wafer, defects: [], maxSide: 512 });
    const plain = await sharp(clean.webp).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(plain.info.width, info.width);
    const first = wafer.defects[0];
    assert.ok(first);
    const before = inkNear(first.bbox, CLASS_COLOURS[first.class]);
    const { data: cleanData } = plain;
    const classColours = Object.values(CLASS_COLOURS).map((hex) =>
      [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)),
    );
    let after = 0;
    for (let i = 0; i < cleanData.length; i += plain.info.channels) {
      const near = classColours.some(
        (rgb) =>
          rgb.reduce((sum, v, c) => sum + Math.abs((cleanData[i + c] as number) - v), 0) < 90,
      );
      if (near) after++;
    }
    assert.ok(before > 0);
    assert.ok(after < 20, `no coloured boxes on a wafer without defects (${after} px)`);
  });

  it("is drawn from the raster the endpoint decoded, 16 bit as its 8-bit twin, boxes where the defects are in its pixels", async () => {
    const wafer = truth.wafers.find((w) => w.defects.length > 0);
    assert.ok(wafer);
    const eight = await decodeGray(readFileSync(resolve(FIXTURES, "lot-e2e", wafer.fileName)));
    // The same wafer at 16 bit: the preview scales full scale to 8 bit, so both look the same.
    const gray: GrayImage = {
      ...eight,
      bitDepth: 16,
      data: new Uint16Array(eight.data).map((v) => v * 257),
    };
    const preview = PreviewSchema.parse(await renderPreview(gray, 512));
    assert.equal(Math.max(preview.width, preview.height), 512);
    const mean = async (p: Preview) =>
      (await sharp(Buffer.from(p.data, "base64")).stats()).channels[0]?.mean ?? 0;
    const eightMean = await mean(await renderPreview(eight, 512));
    assert.ok(eightMean > 30, `preview mean ${eightMean}`);
    assert.ok(Math.abs((await mean(preview)) - eightMean) < 1, "16 bit scaled, not truncated");
    const overlay = await renderOverlay({
      image: gray,
      wafer,
      defects: wafer.defects,
      maxSide: 512,
    });
    assert.equal(overlay.width, preview.width);
    assert.equal(overlay.scale, preview.width / gray.width);
    const { data, info } = await sharp(overlay.webp)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    for (const defect of wafer.defects) {
      const want = [1, 3, 5].map((i) =>
        Number.parseInt(CLASS_COLOURS[defect.class].slice(i, i + 2), 16),
      );
      const s = overlay.scale;
      const box = defect.bbox;
      let inked = 0;
      for (let y = Math.floor(box.y * s) - 10; y <= (box.y + box.height) * s + 10; y++) {
        for (let x = Math.floor(box.x * s) - 10; x <= (box.x + box.width) * s + 10; x++) {
          if (x < 0 || y < 0 || x >= info.width || y >= info.height) continue;
          const at = (y * info.width + x) * info.channels;
          const d = want.reduce((sum, v, c) => sum + Math.abs((data[at + c] as number) - v), 0);
          if (d < 90) inked++;
        }
      }
      assert.ok(inked >= 8, `${defect.class} box drawn where it is (${inked} px)`);
    }
  });

  it("draws the marks as librsvg renders the overlay's SVG over the picture, marks at the edge cut off", async () => {
    const wafer = truth.wafers.find((w) => w.defects.length > 0);
    assert.ok(wafer);
    const image = await decodeGray(readFileSync(resolve(FIXTURES, "lot-e2e", wafer.fileName)));
    // Boxes in the corners and over the edge: their tags and strokes must be clipped, not lost.
    const defects = [
      ...wafer.defects,
      { class: "scratch" as const, bbox: { x: 0, y: 0, width: 3, height: 3 } },
      {
        class: "particle" as const,
        bbox: { x: wafer.width - 2, y: wafer.height - 2, width: 6, height: 6 },
      },
    ];
    const compare = async (drawn: typeof defects) => {
      const ours = await overlayPixels({ image, wafer, defects: drawn, maxSide: 512 });
      const size = { width: ours.width, height: ours.height, scale: ours.scale };
      // The reference: the same marks as one full-size SVG layer, rendered and composited by libvips.
      const reference = await previewPicture(image, 512)
        .picture.toColourspace("srgb")
        .composite([{ input: Buffer.from(overlaySvg({ wafer, defects }, size)), top: 0, left: 0 }])
        .removeAlpha()
        .raw()
        .toBuffer();
      assert.equal(ours.rgb.length, reference.length);
      let far = 0;
      let total = 0;
      for (let i = 0; i < reference.length; i++) {
        const d = Math.abs((ours.rgb[i] as number) - (reference[i] as number));
        total += d;
        if (d > 40) far++;
      }
      return { far, total };
    };
    // Edges differ by anti-aliasing only (measured: at most 39 levels on a byte, 3-6k levels in all).
    const same = await compare(defects);
    assert.ok(same.far === 0 && same.total < 20_000, JSON.stringify(same));
    // The check sees a box one overlay pixel off (measured: about 1000 bytes far off, 100k levels).
    const shifted = await compare(
      defects.map((d) => ({ ...d, bbox: { ...d.bbox, x: d.bbox.x + 1 / (512 / image.width) } })),
    );
    assert.ok(shifted.far > 100 && shifted.total > 50_000, JSON.stringify(shifted));
    // What is encoded is those pixels.
    const overlay = await renderOverlay({ image, wafer, defects, maxSide: 512 });
    const encoded = await sharp(overlay.webp).removeAlpha().raw().toBuffer();
    const drawn = await overlayPixels({ image, wafer, defects, maxSide: 512 });
    let error = 0;
    for (let i = 0; i < encoded.length; i++)
      error += Math.abs((encoded[i] as number) - (drawn.rgb[i] as number));
    assert.ok(error / encoded.length < 4, `mean WebP error ${error / encoded.length}`);
  });

  it("takes the preview's pixels without libvips when whole blocks are the picture, the same as libvips' picture", async () => {
    const wafer = truth.wafers.find((w) => w.width >= 1024);
    assert.ok(wafer);
    const eight = await decodeGray(readFileSync(resolve(FIXTURES, "lot-e2e", wafer.fileName)));
    const sixteen: GrayImage = {
      ...eight,
      bitDepth: 16,
      data: new Uint16Array(eight.data).map((v) => v * 257 + (v % 7)),
    };
    for (const image of [eight, sixteen]) {
      // Exact blocks (a half, a quarter) and a side libvips must resample to.
      for (const side of [image.width / 2, image.width / 4, 300]) {
        const pixels = await previewPixels(image, side);
        const reference = await previewPicture(image, side)
          .picture.toColourspace("b-w")
          .raw()
          .toBuffer();
        assert.deepEqual(Buffer.from(pixels.data), reference, `${image.bitDepth} bit, ${side} px`);
      }
    }
  });
});
