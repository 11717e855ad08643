// Draws one wafer's overlay from the raster the endpoint decoded: the wafer downscaled to about 1024 px, each defect boxed and labelled by class, the notch marked.
import { CLASS_COLOURS } from "../lib/defect-style.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import type { Defect, Picture, Wafer } from "../schemas/detection.ts";
import { GLYPH_HEIGHT, textPath, textWidth } from "./label-font.ts";
import { previewPicture } from "./preview.ts";

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

/** One mark of the overlay (the notch, a defect's box and tag): SVG in overlay pixels, and the area it covers. */
export interface OverlayMark {
  svg: string;
  box: { x: number; y: number; width: number; height: number };
}

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
  const corners = [tip, base(1), base(-1)];
  const notchText = "notch";
  const textW = textWidth(notchText, label);
  const textH = GLYPH_HEIGHT * label;
  const textX = cx + along.x * r * 0.84 - textW / 2;
  const textY = cy + along.y * r * 0.84 - textH / 2;
  marks.push({
    svg:
      `<polygon points="${corners.map((c) => `${c.x.toFixed(1)},${c.y.toFixed(1)}`).join(" ")}" fill="#00e5ff" stroke="#000" stroke-width="1"/>` +
      `<path d="${textPath(notchText, textX, textY, label)}" fill="#00e5ff"/>`,
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
    marks.push({
      svg:
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${lineWidth}"/>` +
        `<rect x="${tagX.toFixed(1)}" y="${tagY.toFixed(1)}" width="${tagW}" height="${tagH}" fill="${colour}"/>` +
        `<path d="${textPath(text, tagX + 2 * label, tagY + 2 * label, label)}" fill="#000"/>`,
      box: around(lineWidth + 1, [x, y, w, h], [tagX, tagY, tagW, tagH]),
    });
  }
  return marks;
}

/** The whole overlay as one SVG (what the marks draw, for a viewer or a test). */
export function overlaySvg(
  input: Omit<OverlayInput, "image" | "maxSide">,
  size: { width: number; height: number; scale: number },
): string {
  const { width, height } = size;
  const marks = overlayMarks(input, size).map((mark) => mark.svg);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${marks.join("")}</svg>`;
}

/**
 * Each mark as its own small SVG, cut to the picture and placed where it belongs: libvips renders
 * and blends only the marks' areas, not a transparent layer the size of the picture (about 20 ms
 * of CPU at 1024 px, as much as encoding the overlay).
 */
function markLayers(marks: OverlayMark[], width: number, height: number) {
  const layers: Array<{ input: Buffer; left: number; top: number }> = [];
  for (const mark of marks) {
    const left = Math.max(0, Math.floor(mark.box.x));
    const top = Math.max(0, Math.floor(mark.box.y));
    const right = Math.min(width, Math.ceil(mark.box.x + mark.box.width));
    const bottom = Math.min(height, Math.ceil(mark.box.y + mark.box.height));
    if (right <= left || bottom <= top) continue;
    const w = right - left;
    const h = bottom - top;
    layers.push({
      input: Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="${left} ${top} ${w} ${h}">${mark.svg}</svg>`,
      ),
      left,
      top,
    });
  }
  return layers;
}

/**
 * Effort 0, libwebp's lowest (the default 4 took about 100 ms at 1024 px, effort 2 about 40 with
 * a decode): about 10 ms less again than effort 2 for a file about 25% larger (45 against 37 kB),
 * at the same quality setting (docs/benchmarks.md, round 6).
 */
export const OVERLAY_WEBP = { quality: 82, effort: 0 } as const;

/**
 * The wafer downscaled as the preview is (endpoint/preview.ts), the marks drawn on it, encoded
 * once: nothing decodes a preview to draw on it, and the picture is compressed once, not twice
 * (docs/benchmarks.md, round 8).
 */
export async function renderOverlay(input: OverlayInput): Promise<Overlay> {
  const { picture, width, height } = previewPicture(input.image, input.maxSide);
  const scale = width / input.image.width;
  const marks = overlayMarks(input, { width, height, scale });
  const webp = await picture
    .toColourspace("srgb")
    .composite(markLayers(marks, width, height))
    .webp(OVERLAY_WEBP)
    .toBuffer();
  return { webp, width, height, scale };
}

/** The overlay as the endpoint's answer carries it (`overlay`, base64 WebP). */
export async function renderOverlayPicture(input: OverlayInput): Promise<Picture> {
  const { webp, width, height } = await renderOverlay(input);
  return { format: "webp", width, height, data: webp.toString("base64") };
}
