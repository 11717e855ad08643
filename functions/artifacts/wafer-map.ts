// The lot's wafer map as SVG: die grid coloured by defect count, every defect a mark at its wafer millimetres, the notch.

import { CLASS_COLOURS } from "../../lib/defect-style.ts";
import { escapeXml } from "../../lib/xml.ts";
import type { DefectClass } from "../../schemas/common.ts";
import type { Report } from "../../schemas/report.ts";
import { diesOnWafer, lotDieGrid } from "./die-grid.ts";

/** Fill of a die by how many defects it holds (0, 1, 2-3, 4+). */
export function dieFill(count: number): string {
  if (count === 0) return "#e8ecef";
  if (count === 1) return "#ffe08a";
  if (count <= 3) return "#ffb057";
  return "#ff6b6b";
}

const f = (n: number) => Number(n.toFixed(3)).toString();

export interface WaferMapOptions {
  /** Only these images (e.g. one wafer's page); default every image of the report. */
  fileNames?: string[];
  title?: string;
}

/**
 * SVG user units are wafer millimetres with y flipped (SVG y = -wafer y), so a mark's `cx`/`cy`
 * and a die's `x`/`y` are readable as positions on the wafer; every element carries data-*
 * attributes (file, class, row, col) for the console and tests.
 */
export function renderWaferMap(report: Report, options: WaferMapOptions = {}): string {
  const images = report.images.filter(
    (image) => !options.fileNames || options.fileNames.includes(image.fileName),
  );
  const diameter =
    images.find((image) => image.wafer)?.wafer?.diameterMm ??
    report.metadata?.waferDiameterMm ??
    300;
  const radius = diameter / 2;
  const grid = lotDieGrid(images, report.metadata);
  const counts = new Map<string, number>();
  // Only wafers on the drawn grid colour its dies; the others' defects are marks alone.
  for (const image of images.filter((i) => grid?.fileNames.includes(i.fileName))) {
    for (const defect of image.defects) {
      if (!defect.die) continue;
      const key = `${defect.die.row},${defect.die.col}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const margin = diameter * 0.04;
  const legendHeight = diameter * 0.12;
  const parts: string[] = [];
  const size = diameter + 2 * margin;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="wafer-map" viewBox="${f(-radius - margin)} ${f(-radius - margin)} ${f(size)} ${f(size + legendHeight)}" width="640" height="${Math.round((640 * (size + legendHeight)) / size)}" data-diameter-mm="${diameter}">`,
    `<title>${escapeXml(options.title ?? `Lot ${report.lotId} wafer map`)}</title>`,
    `<defs><clipPath id="wafer-edge"><circle cx="0" cy="0" r="${f(radius)}"/></clipPath></defs>`,
    `<circle cx="0" cy="0" r="${f(radius)}" fill="#f7f9fa" stroke="#57606a" stroke-width="${f(diameter / 300)}"/>`,
  );
  if (grid) {
    const { x: px, y: py } = grid.pitchMm;
    parts.push(
      `<g class="dies" clip-path="url(#wafer-edge)" data-pitch-x-mm="${f(px)}" data-pitch-y-mm="${f(py)}">`,
    );
    for (const die of diesOnWafer(grid, radius)) {
      const count = counts.get(`${die.row},${die.col}`) ?? 0;
      parts.push(
        `<rect class="die" data-row="${die.row}" data-col="${die.col}" data-defects="${count}" x="${f(die.col * px - grid.offsetMm.x)}" y="${f(die.row * py - grid.offsetMm.y)}" width="${f(px)}" height="${f(py)}" fill="${dieFill(count)}" stroke="#9aa4ad" stroke-width="${f(diameter / 1000)}"/>`,
      );
    }
    parts.push("</g>");
  }
  // The notch at the bottom (SEMI): a small triangle cut into the rim.
  const notch = diameter * 0.02;
  parts.push(
    `<polygon class="notch" points="${f(-notch)},${f(radius + notch * 0.2)} ${f(notch)},${f(radius + notch * 0.2)} 0,${f(radius - notch * 1.2)}" fill="#00b8d4"/>`,
  );
  const markRadius = diameter / 120;
  parts.push(`<g class="defects">`);
  for (const image of images) {
    image.defects.forEach((defect, index) => {
      const die = defect.die ? ` data-row="${defect.die.row}" data-col="${defect.die.col}"` : "";
      parts.push(
        `<circle class="defect" data-file="${escapeXml(image.fileName)}" data-index="${index}" data-class="${defect.class}"${die} cx="${f(defect.waferMm.x)}" cy="${f(-defect.waferMm.y)}" r="${f(markRadius)}" fill="${CLASS_COLOURS[defect.class]}" stroke="#1f2328" stroke-width="${f(markRadius / 4)}"><title>${escapeXml(`${image.fileName}: ${defect.class} at (${defect.waferMm.x.toFixed(1)}, ${defect.waferMm.y.toFixed(1)}) mm${defect.die ? `, die r${defect.die.row} c${defect.die.col}` : ""}`)}</title></circle>`,
      );
    });
  }
  parts.push("</g>");
  // Legend under the wafer: classes present, then the die colour scale.
  const classes = [
    ...new Set(images.flatMap((i) => i.defects.map((d) => d.class))),
  ] as DefectClass[];
  const font = diameter * 0.03;
  const left = -radius - margin / 2;
  const legendY = radius + margin + font * 1.2;
  const step = size / 6;
  classes.forEach((name, i) => {
    const x = left + i * step;
    parts.push(
      `<circle cx="${f(x + font / 2)}" cy="${f(legendY - font / 3)}" r="${f(font / 2.5)}" fill="${CLASS_COLOURS[name]}"/>`,
      `<text x="${f(x + font * 1.2)}" y="${f(legendY)}" font-size="${f(font)}" font-family="sans-serif" fill="#1f2328">${name}</text>`,
    );
  });
  const scaleY = legendY + font * 1.8;
  parts.push(
    `<text x="${f(left)}" y="${f(scaleY)}" font-size="${f(font)}" font-family="sans-serif" fill="#1f2328">defects per die:</text>`,
  );
  (
    [
      [0, "0"],
      [1, "1"],
      [2, "2-3"],
      [4, "4+"],
    ] as const
  ).forEach(([count, label], i) => {
    const x = left + font * 9 + i * font * 4.5;
    parts.push(
      `<rect x="${f(x)}" y="${f(scaleY - font)}" width="${f(font)}" height="${f(font)}" fill="${dieFill(count)}" stroke="#9aa4ad" stroke-width="${f(diameter / 1000)}"/>`,
      `<text x="${f(x + font * 1.3)}" y="${f(scaleY)}" font-size="${f(font)}" font-family="sans-serif" fill="#1f2328">${label}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
