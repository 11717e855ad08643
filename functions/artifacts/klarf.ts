// A lot's defects as a KLARF 1.8 file, the format fab yield-management systems read.

import { CLASS_NUMBERS } from "../../lib/defect-style.ts";
import { DEFECT_CLASSES } from "../../schemas/common.ts";
import type { ImageResult, Report } from "../../schemas/report.ts";
import { type DieGrid, diesOnWafer, waferDieGrid } from "./die-grid.ts";

/**
 * Lengths are in micrometres, as KLARF has them. Each inspected wafer gets its own block after
 * `WaferID`, holding its own `DiePitch`, `DieOrigin` and `SampleCenterLocation` (our lots mix bare
 * and patterned wafers). Die (XINDEX, YINDEX) = (col, -row): KLARF's y index grows upward, ours
 * downward. XREL/YREL are from the die's lower-left corner; SampleCenterLocation is the wafer
 * centre from the lower-left corner of die (0, 0). A bare wafer is one pseudo-die the size of the
 * wafer, whose lower-left corner touches the wafer's bounding square.
 */
export const KLARF_DEFECT_FIELDS = [
  "DEFECTID",
  "XREL",
  "YREL",
  "XINDEX",
  "YINDEX",
  "XSIZE",
  "YSIZE",
  "DEFECTAREA",
  "DSIZE",
  "CLASSNUMBER",
  "TEST",
  "CLUSTERNUMBER",
  "ROUGHBINNUMBER",
  "FINEBINNUMBER",
  "REVIEWSAMPLE",
  "IMAGECOUNT",
] as const;

const UM_PER_MM = 1000;

/** KLARF's `mm-dd-yy hh:mm:ss`, in UTC. */
export function klarfTimestamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}-${two(date.getUTCFullYear() % 100)} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

const sci = (n: number) => n.toExponential(10);
const num = (n: number) => Number(n.toFixed(3)).toString();
/** Quoted strings cannot hold a double quote or a line break. */
const quote = (text: string) => `"${text.replace(/["\r\n]/g, "_")}"`;

/** The die frame a wafer is written in: its grid, or one pseudo-die covering a bare wafer. */
function frameOf(image: ImageResult, report: Report): { grid: DieGrid; bare: boolean } {
  const grid = waferDieGrid(image, report.metadata);
  if (grid) return { grid, bare: false };
  const diameter = image.wafer?.diameterMm ?? report.metadata?.waferDiameterMm ?? 300;
  const radius = diameter / 2;
  return {
    grid: {
      pitchMm: { x: diameter, y: diameter },
      offsetMm: { x: radius, y: radius },
      offsetKnown: true,
    },
    bare: true,
  };
}

function waferBlock(image: ImageResult, slot: number, report: Report): string[] {
  const { grid, bare } = frameOf(image, report);
  const { x: px, y: py } = grid.pitchMm;
  const { x: ox, y: oy } = grid.offsetMm;
  const mmPerPx = image.wafer?.mmPerPx ?? 0;
  const lines = [
    `WaferID ${quote(image.fileName)};`,
    `Slot ${slot};`,
    `DiePitch ${sci(px * UM_PER_MM)} ${sci(py * UM_PER_MM)};`,
    "DieOrigin 0.0000000000e+00 0.0000000000e+00;",
    // Die (0, 0)'s lower-left corner is at (-ox, oy - py) mm from the centre.
    `SampleCenterLocation ${sci(ox * UM_PER_MM)} ${sci((py - oy) * UM_PER_MM)};`,
    "InspectionTest 1;",
  ];
  const dies = bare
    ? [{ row: 0, col: 0 }]
    : diesOnWafer(grid, (image.wafer?.diameterMm ?? 300) / 2);
  lines.push(`SampleTestPlan ${dies.length}`);
  for (const die of dies) lines.push(`${die.col} ${-die.row}`);
  lines[lines.length - 1] += ";";
  lines.push(`AreaPerTest ${sci(Math.PI * ((image.wafer?.diameterMm ?? 300) / 2) ** 2 * 1e6)};`);
  lines.push(`DefectRecordSpec ${KLARF_DEFECT_FIELDS.length} ${KLARF_DEFECT_FIELDS.join(" ")};`);
  lines.push("DefectList");
  image.defects.forEach((defect, index) => {
    const die = bare ? { row: 0, col: 0 } : (defect.die ?? { row: 0, col: 0 });
    const xrel = (defect.waferMm.x + ox - die.col * px) * UM_PER_MM;
    const yrel = (defect.waferMm.y - oy + py + die.row * py) * UM_PER_MM;
    const xsize = defect.bbox.width * mmPerPx * UM_PER_MM;
    const ysize = defect.bbox.height * mmPerPx * UM_PER_MM;
    const area = defect.areaPx * (mmPerPx * UM_PER_MM) ** 2;
    const dsize = Math.sqrt(area);
    lines.push(
      [
        index + 1,
        num(xrel),
        num(yrel),
        die.col,
        -die.row,
        num(xsize),
        num(ysize),
        num(area),
        num(dsize),
        CLASS_NUMBERS[defect.class],
        1,
        0,
        CLASS_NUMBERS[defect.class],
        0,
        0,
        0,
      ].join(" "),
    );
  });
  lines[lines.length - 1] += ";";
  const defectiveDies = new Set(
    image.defects.map((d) => (bare || !d.die ? "0,0" : `${d.die.row},${d.die.col}`)),
  );
  const areaCm2 = (Math.PI * ((image.wafer?.diameterMm ?? 300) / 2) ** 2) / 100;
  lines.push(
    "SummarySpec 5 TESTNO NDEFECT DEFDENSITY NDIE NDEFDIE;",
    "SummaryList",
    `1 ${image.defects.length} ${num(image.defects.length / areaCm2)} ${dies.length} ${image.defects.length ? defectiveDies.size : 0};`,
  );
  return lines;
}

/** The KLARF text of a report: every inspected wafer, clean ones with an empty defect list. */
export function writeKlarf(report: Report): string {
  const at = klarfTimestamp(new Date(report.completedAt));
  const model = report.images.find((image) => image.model)?.model;
  const meta = report.metadata ?? {};
  const lines = [
    "FileVersion 1 8;",
    `FileTimestamp ${at};`,
    `InspectionStationID "WAFERFLOW" ${quote(model?.name ?? "waferflow")} ${quote(model?.version ?? "")};`,
    "SampleType WAFER;",
    `ResultTimestamp ${at};`,
    `LotID ${quote(report.lotId)};`,
    `SampleSize 1 ${meta.waferDiameterMm ?? report.images.find((i) => i.wafer)?.wafer?.diameterMm ?? 300};`,
    `DeviceID ${quote(meta.product ?? "")};`,
    `SetupID ${quote(meta.recipe ?? "")} ${at};`,
    `StepID ${quote(meta.equipment ?? "")};`,
    "SampleOrientationMarkType NOTCH;",
    "OrientationMarkLocation DOWN;",
    `ClassLookup ${DEFECT_CLASSES.length}`,
    ...DEFECT_CLASSES.map((name) => `${CLASS_NUMBERS[name]} ${quote(name)}`),
  ];
  lines[lines.length - 1] += ";";
  report.images.forEach((image, index) => {
    // Only inspected wafers: failed, unusable and rejected ones have no defect list to give.
    if (image.wafer && (image.status === "clean" || image.status === "defects_found")) {
      lines.push(...waferBlock(image, index + 1, report));
    }
  });
  lines.push("EndOfFile;");
  return `${lines.join("\n")}\n`;
}
