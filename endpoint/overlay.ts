// Draws one wafer's overlay from the raster the endpoint decoded: the wafer downscaled to about 1024 px, each defect boxed and labelled by class, the notch marked.

import sharp from "sharp";
import { CLASS_COLOURS } from "../lib/defect-style.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import type { Defect, Picture, Wafer } from "../schemas/detection.ts";
import { GLYPH_HEIGHT, type InkRect, textRects, textWidth } from "./label-font.ts";
import { previewPixels } from "./preview.ts";

export interface OverlayInput {
  /** The raster the endpoint decoded: the defects and the wafer are measured in its pixels. */
  image: GrayImage;
  wafer: Pick<Wafer, "centerPx" | "radiusPx" | "notchAngleDeg">;
  defects: Array<Pick<Defect, "class" | "bbox">>;
  /** The overlay's longer side (custom attribute overlay_px); never larger than the image. */
  maxSide: number;
}

export interface Overlay {
  webp: Buffer;
  width: number;
  height: number;
  /** Overlay pixels per input pixel. */
  scale: number;
}

/** A point in overlay pixels. */
interface Point {
  x: number;
  y: number;
}

/**
 * One coat of paint of a mark, in overlay pixels: filled rectangles (a tag, a label's glyphs), a
 * rectangle's outline centred on its edge (as an SVG stroke), or a filled polygon with a thin
 * outline (the notch). The raster is drawn from these (and the test's SVG of them).
 */
export type Paint =
  | { kind: "rects"; rects: InkRect[]; colour: string }
  | { kind: "frame"; rect: InkRect; lineWidth: number; colour: string }
  | {
      kind: "polygon";
      points: Point[];
      colour: string;
      outline: { colour: string; width: number };
    };

/** One mark of the overlay (the notch, a defect's box and tag): its paints in order, and the area it covers. */
export interface OverlayMark {
  paints: Paint[];
  box: InkRect;
}

/** Coordinates to a tenth of a pixel, as the SVG has always printed them. */
const tenth = (value: number) => Math.round(value * 10) / 10;

/** The marks drawn over the downscaled wafer; coordinates already in overlay pixels. */
export function overlayMarks(
  input: Omit<OverlayInput, "image" | "maxSide">,
  size: { width: number; height: number; scale: number },
): OverlayMark[] {
  const { width, height, scale } = size;
  const label = Math.max(1, Math.round(Math.max(width, height) / 512));
  const lineWidth = Math.max(1.5, label);
  const marks: OverlayMark[] = [];
  /** The bounding box of a few rectangles, widened by `margin` (half a stroke, anti-aliasing). */
  const around = (margin: number, ...rects: Array<[number, number, number, number]>) => {
    const x = Math.min(...rects.map(([rx]) => rx)) - margin;
    const y = Math.min(...rects.map(([, ry]) => ry)) - margin;
    const right = Math.max(...rects.map(([rx, , rw]) => rx + rw)) + margin;
    const bottom = Math.max(...rects.map(([, ry, , rh]) => ry + rh)) + margin;
    return { x, y, width: right - x, height: bottom - y };
  };
  // The notch: a triangle on the rim pointing at the centre, with its name inside the wafer.
  const angle = (input.wafer.notchAngleDeg * Math.PI) / 180;
  const cx = input.wafer.centerPx.x * scale;
  const cy = input.wafer.centerPx.y * scale;
  const r = input.wafer.radiusPx * scale;
  const along = { x: Math.cos(angle), y: Math.sin(angle) };
  const across = { x: -along.y, y: along.x };
  const tip = { x: cx + along.x * r * 0.93, y: cy + along.y * r * 0.93 };
  const side = r * 0.04;
  const base = (s: number) => ({
    x: cx + along.x * r * 1.01 + across.x * side * s,
    y: cy + along.y * r * 1.01 + across.y * side * s,
  });
  const corners = [tip, base(1), base(-1)].map((c) => ({ x: tenth(c.x), y: tenth(c.y) }));
  const notchText = "notch";
  const textW = textWidth(notchText, label);
  const textH = GLYPH_HEIGHT * label;
  const textX = cx + along.x * r * 0.84 - textW / 2;
  const textY = cy + along.y * r * 0.84 - textH / 2;
  marks.push({
    paints: [
      {
        kind: "polygon",
        points: corners,
        colour: "#00e5ff",
        outline: { colour: "#000", width: 1 },
      },
      { kind: "rects", rects: textRects(notchText, textX, textY, label), colour: "#00e5ff" },
    ],
    box: around(2, ...corners.map((c): [number, number, number, number] => [c.x, c.y, 0, 0]), [
      textX,
      textY,
      textW,
      textH,
    ]),
  });

  for (const defect of input.defects) {
    const colour = CLASS_COLOURS[defect.class];
    // At least 8 px across, so a one-pixel particle still shows as a box.
    const pad = 3;
    const w = Math.max(8, defect.bbox.width * scale + 2 * pad);
    const h = Math.max(8, defect.bbox.height * scale + 2 * pad);
    const x = (defect.bbox.x + defect.bbox.width / 2) * scale - w / 2;
    const y = (defect.bbox.y + defect.bbox.height / 2) * scale - h / 2;
    const text = defect.class;
    const tagW = textWidth(text, label) + 4 * label;
    const tagH = (GLYPH_HEIGHT + 4) * label;
    const tagX = Math.min(Math.max(0, x), width - tagW);
    const tagY = y - tagH - 1 >= 0 ? y - tagH - 1 : Math.min(height - tagH, y + h + 1);
    const frame = { x: tenth(x), y: tenth(y), width: tenth(w), height: tenth(h) };
    const tag = { x: tenth(tagX), y: tenth(tagY), width: tagW, height: tagH };
    marks.push({
      paints: [
        { kind: "frame", rect: frame, lineWidth, colour },
        { kind: "rects", rects: [tag], colour },
        {
          kind: "rects",
          rects: textRects(text, tagX + 2 * label, tagY + 2 * label, label),
          colour: "#000",
        },
      ],
      box: around(lineWidth + 1, [x, y, w, h], [tagX, tagY, tagW, tagH]),
    });
  }
  return marks;
}

/** The part of [from, to) that falls in the pixel [p, p + 1). */
const overlap = (p: number, from: number, to: number) =>
  Math.max(0, Math.min(p + 1, to) - Math.max(p, from));

/** Adds a rectangle's area in each pixel (its exact coverage, as an anti-aliasing renderer takes it) to `cover`. */
function coverRect(cover: Coverage, rect: InkRect, sign = 1): void {
  const x0 = Math.max(cover.left, Math.floor(rect.x));
  const x1 = Math.min(cover.left + cover.width, Math.ceil(rect.x + rect.width));
  const y0 = Math.max(cover.top, Math.floor(rect.y));
  const y1 = Math.min(cover.top + cover.height, Math.ceil(rect.y + rect.height));
  for (let y = y0; y < y1; y++) {
    const dy = overlap(y, rect.y, rect.y + rect.height) * sign;
    const row = (y - cover.top) * cover.width - cover.left;
    for (let x = x0; x < x1; x++) {
      cover.alpha[row + x] =
        (cover.alpha[row + x] as number) + dy * overlap(x, rect.x, rect.x + rect.width);
    }
  }
}

/** Subsamples per pixel side for the polygon's edges. */
const SUBSAMPLES = 4;

/** The polygon's fill and outline coverage, by 4 x 4 samples per pixel (the notch: about 40 px across). */
function coverPolygon(fill: Coverage, outline: Coverage, points: Point[], width: number): void {
  const inside = (x: number, y: number) => {
    let crossings = 0;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const a = points[i] as Point;
      const b = points[j] as Point;
      if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) crossings++;
    }
    return crossings % 2 === 1;
  };
  const halfSquared = (width / 2) ** 2;
  /** The squared distance from (x, y) to the nearest edge. */
  const edgeDistanceSquared = (x: number, y: number) => {
    let nearest = Number.POSITIVE_INFINITY;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const a = points[i] as Point;
      const b = points[j] as Point;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const t = Math.max(
        0,
        Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy || 1)),
      );
      const ex = x - (a.x + t * dx);
      const ey = y - (a.y + t * dy);
      nearest = Math.min(nearest, ex * ex + ey * ey);
    }
    return nearest;
  };
  const nearEdge = (x: number, y: number) => edgeDistanceSquared(x, y) <= halfSquared;
  /**
   * A pixel whose centre is farther than this from every edge has all its samples (at most
   * 0.53 px from the centre) on one side of every edge and beyond the outline's half width: its
   * samples all give the centre's answer, so the centre is tested once instead of 16 times (most
   * of the triangle's box: its inside and the corners around it).
   */
  const clearSquared = (width / 2 + Math.SQRT1_2) ** 2;
  const weight = 1 / (SUBSAMPLES * SUBSAMPLES);
  // Only the pixels near the polygon: the mark's area also holds its label.
  const reach = width / 2 + 1;
  const x0 = Math.max(fill.left, Math.floor(Math.min(...points.map((p) => p.x)) - reach));
  const x1 = Math.min(
    fill.left + fill.width,
    Math.ceil(Math.max(...points.map((p) => p.x)) + reach),
  );
  const y0 = Math.max(fill.top, Math.floor(Math.min(...points.map((p) => p.y)) - reach));
  const y1 = Math.min(
    fill.top + fill.height,
    Math.ceil(Math.max(...points.map((p) => p.y)) + reach),
  );
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const at = (y - fill.top) * fill.width + (x - fill.left);
      if (edgeDistanceSquared(x + 0.5, y + 0.5) > clearSquared) {
        fill.alpha[at] = inside(x + 0.5, y + 0.5) ? 1 : 0;
        outline.alpha[at] = 0;
        continue;
      }
      let filled = 0;
      let edged = 0;
      for (let sy = 0; sy < SUBSAMPLES; sy++) {
        for (let sx = 0; sx < SUBSAMPLES; sx++) {
          const px = x + (sx + 0.5) / SUBSAMPLES;
          const py = y + (sy + 0.5) / SUBSAMPLES;
          if (inside(px, py)) filled++;
          if (nearEdge(px, py)) edged++;
        }
      }
      fill.alpha[at] = filled * weight;
      outline.alpha[at] = edged * weight;
    }
  }
}

/** How much of each pixel of a mark's area one paint covers (0-1). */
interface Coverage {
  left: number;
  top: number;
  width: number;
  height: number;
  alpha: Float32Array;
}

/** Blends `colour` into `rgb` by the coverage ("over", as libvips composites an SVG layer). */
function blend(rgb: Uint8Array, pictureWidth: number, cover: Coverage, colour: string): void {
  const hex = colour.length === 4 ? colour.replace(/[0-9a-f]/gi, (d) => d + d) : colour;
  const ink = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number,
  ];
  for (let y = 0; y < cover.height; y++) {
    for (let x = 0; x < cover.width; x++) {
      const alpha = Math.min(1, cover.alpha[y * cover.width + x] as number);
      if (alpha <= 0) continue;
      const at = ((cover.top + y) * pictureWidth + cover.left + x) * 3;
      for (let c = 0; c < 3; c++) {
        const under = rgb[at + c] as number;
        rgb[at + c] = Math.round(under + ((ink[c] as number) - under) * alpha);
      }
    }
  }
}

/**
 * Draws each mark into `rgb` here, in JS, with the coverage an anti-aliasing SVG renderer gives
 * rectangles (exact areas) and the notch's triangle sampled 4 x 4 per pixel: only the marks'
 * pixels are touched. Rendering each mark's SVG with librsvg cost 5-7 ms of CPU per mark at load
 * 24-29 (a wafer with 8 defects: 40-60 ms), and libvips' composite more (docs/benchmarks.md,
 * round 9); they match librsvg's rendering of the same paints as SVG (test/unit/operator-pictures.test.ts).
 */
function drawMarks(rgb: Uint8Array, width: number, height: number, marks: OverlayMark[]): void {
  for (const mark of marks) {
    const left = Math.max(0, Math.floor(mark.box.x));
    const top = Math.max(0, Math.floor(mark.box.y));
    const right = Math.min(width, Math.ceil(mark.box.x + mark.box.width));
    const bottom = Math.min(height, Math.ceil(mark.box.y + mark.box.height));
    if (right <= left || bottom <= top) continue;
    const area = () => ({
      left,
      top,
      width: right - left,
      height: bottom - top,
      alpha: new Float32Array((right - left) * (bottom - top)),
    });
    for (const paint of mark.paints) {
      const cover = area();
      switch (paint.kind) {
        case "rects":
          for (const rect of paint.rects) coverRect(cover, rect);
          blend(rgb, width, cover, paint.colour);
          break;
        case "frame": {
          const { rect, lineWidth: lw } = paint;
          const half = lw / 2;
          coverRect(cover, {
            x: rect.x - half,
            y: rect.y - half,
            width: rect.width + lw,
            height: rect.height + lw,
          });
          if (rect.width > lw && rect.height > lw) {
            coverRect(
              cover,
              {
                x: rect.x + half,
                y: rect.y + half,
                width: rect.width - lw,
                height: rect.height - lw,
              },
              -1,
            );
          }
          blend(rgb, width, cover, paint.colour);
          break;
        }
        case "polygon": {
          const outline = area();
          coverPolygon(cover, outline, paint.points, paint.outline.width);
          blend(rgb, width, cover, paint.colour);
          blend(rgb, width, outline, paint.outline.colour);
          break;
        }
      }
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Grey pixels as RGB: the marks are coloured. Four pixels at a time as three 32-bit words
 * (on a little-endian machine, byte by byte elsewhere): a byte at a time this loop was as costly
 * as the block means before it (docs/benchmarks.md, round 9).
 */
function greyToRgb(grey: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(grey.length * 3);
  const whole = LITTLE_ENDIAN ? grey.length - (grey.length % 4) : 0;
  const words = new Uint32Array(rgb.buffer, 0, (whole * 3) / 4);
  for (let i = 0, w = 0; i < whole; i += 4, w += 3) {
    const a = grey[i] as number;
    const b = grey[i + 1] as number;
    const c = grey[i + 2] as number;
    const d = grey[i + 3] as number;
    words[w] = (a | (a << 8) | (a << 16) | (b << 24)) >>> 0;
    words[w + 1] = (b | (b << 8) | (c << 16) | (c << 24)) >>> 0;
    words[w + 2] = (c | (d << 8) | (d << 16) | (d << 24)) >>> 0;
  }
  for (let i = whole, o = whole * 3; i < grey.length; i++, o += 3) {
    const v = grey[i] as number;
    rgb[o] = v;
    rgb[o + 1] = v;
    rgb[o + 2] = v;
  }
  return rgb;
}

/**
 * Effort 0, libwebp's lowest (the default 4 took about 100 ms at 1024 px, effort 2 about 40 with
 * a decode): about 10 ms less again than effort 2 for a file about 25% larger (45 against 37 kB),
 * at the same quality setting (docs/benchmarks.md, round 6).
 */
export const OVERLAY_WEBP = { quality: 82, effort: 0 } as const;

/**
 * The overlay's pixels before encoding: the wafer downscaled as the preview is
 * (endpoint/preview.ts), in RGB, the marks blended in.
 */
export async function overlayPixels(
  input: OverlayInput,
): Promise<{ rgb: Uint8Array; width: number; height: number; scale: number }> {
  const { data, width, height } = await previewPixels(input.image, input.maxSide);
  const scale = width / input.image.width;
  const rgb = greyToRgb(data);
  drawMarks(rgb, width, height, overlayMarks(input, { width, height, scale }));
  return { rgb, width, height, scale };
}

/**
 * The overlay, encoded once: nothing decodes a preview to draw on it (docs/benchmarks.md, round
 * 8), and libvips only encodes (round 9).
 */
export async function renderOverlay(input: OverlayInput): Promise<Overlay> {
  const { rgb, width, height, scale } = await overlayPixels(input);
  const webp = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
    raw: { width, height, channels: 3 },
  })
    .webp(OVERLAY_WEBP)
    .toBuffer();
  return { webp, width, height, scale };
}

/** The overlay as the endpoint's answer carries it (`overlay`, base64 WebP). */
export async function renderOverlayPicture(input: OverlayInput): Promise<Picture> {
  const { webp, width, height } = await renderOverlay(input);
  return { format: "webp", width, height, data: webp.toString("base64") };
}
