// What people read in an alert: the subject line, the e-mail text and the attributes subscribers filter on.
import type { Alert } from "../../schemas/alert.ts";
import type { LotMetadata } from "../../schemas/lot.ts";
import type { ImageResult, Report } from "../../schemas/report.ts";

export const SUBJECT_MAX = 100;
/** Leaves the rest of SNS's 256 KiB for the JSON copy. */
export const EMAIL_BUDGET = 48 * 1024;

/** SNS subjects are printable ASCII without line breaks, at most 100 characters. */
export function asciiSubject(text: string): string {
  const clean = text
    .normalize("NFKD")
    .replace(/[^\x20-\x7e]+/g, "?")
    .trim();
  return clean.length <= SUBJECT_MAX ? clean : `${clean.slice(0, SUBJECT_MAX - 3)}...`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function where(metadata: LotMetadata | undefined): string {
  return metadata?.equipment ? ` on ${metadata.equipment}` : "";
}

/** "Lot A1234 on CMP-2: 3 wafers with defects, 1 unusable". */
export function reportSubject(report: Report): string {
  const c = report.counts;
  const head = `Lot ${report.lotId}${where(report.metadata)}: `;
  if (report.status === "failed") {
    return asciiSubject(`${head}FAILED (${report.error?.name ?? "error"})`);
  }
  const parts: string[] = [];
  if (report.status === "defects_found")
    parts.push(`${plural(c.withDefects, "wafer")} with defects`);
  if (report.status === "clean") parts.push(`all ${plural(c.images, "wafer")} clean`);
  if (report.status === "incomplete") parts.push("no defects found");
  if (c.unusable) parts.push(`${c.unusable} unusable`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.rejected) parts.push(`${c.rejected} rejected`);
  return asciiSubject(head + parts.join(", "));
}

/** Failed lot: critical; defects: major; not all inspected: minor; clean: info. */
export function reportSeverity(report: Report): "critical" | "major" | "minor" | "info" {
  if (report.status === "failed") return "critical";
  if (report.status === "defects_found") return "major";
  if (report.status === "incomplete") return "minor";
  return "info";
}

export type AttributeValue = string | string[];

/** Attributes for SNS filter policies; empty ones are left out (SNS refuses empty values). */
export function reportAttributes(report: Report): Record<string, AttributeValue> {
  const classes = Object.entries(report.counts.byClass)
    .filter(([, n]) => n > 0)
    .map(([name]) => name);
  const attributes: Record<string, AttributeValue> = {
    lotId: report.lotId,
    status: report.status,
    severity: reportSeverity(report),
    classes,
  };
  for (const name of ["product", "equipment", "recipe"] as const) {
    const value = report.metadata?.[name];
    if (value) attributes[name] = value;
  }
  return attributes;
}

const byClassText = (image: Pick<ImageResult, "defects">) => {
  const counts = new Map<string, number>();
  for (const d of image.defects) counts.set(d.class, (counts.get(d.class) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${name} ${n}`).join(", ");
};

/** The largest defect of a wafer (by area): where an operator looks first. */
export function worstDefect(image: ImageResult) {
  return image.defects.reduce<ImageResult["defects"][number] | undefined>(
    (worst, d) => (!worst || d.areaPx > worst.areaPx ? d : worst),
    undefined,
  );
}

export function worstText(image: ImageResult): string {
  const worst = worstDefect(image);
  if (!worst) return "";
  const die = worst.die ? `die r${worst.die.row} c${worst.die.col}` : "no die";
  return `${worst.class} at (${worst.waferMm.x.toFixed(1)}, ${worst.waferMm.y.toFixed(1)}) mm, ${die}`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** The e-mail body: the lot at a glance, one line per wafer, the problems, then the links. */
export function reportEmail(report: Report, budget = EMAIL_BUDGET): string {
  const c = report.counts;
  const m = report.metadata ?? {};
  const head = [
    `Lot ${report.lotId}: ${report.status.toUpperCase().replace("_", " ")}`,
    [
      m.product && `Product ${m.product}`,
      m.equipment && `Equipment ${m.equipment}`,
      m.recipe && `Recipe ${m.recipe}`,
    ]
      .filter(Boolean)
      .join(" | ") || "No lot metadata",
    `Completed ${report.completedAt}`,
    "",
    `${plural(c.images, "wafer")}: ${c.withDefects} with defects, ${c.clean} clean, ${c.unusable} unusable, ${c.failed} failed, ${c.rejected} rejected`,
    `${plural(c.defects, "defect")}${c.defects ? `: ${byClassText({ defects: report.images.flatMap((i) => i.defects) })}` : ""}`,
  ];
  if (report.error) head.push(`Lot error: ${report.error.name}: ${report.error.message}`);
  const rows = report.images.map((image, index) =>
    [
      String(index + 1).padStart(4),
      pad(image.fileName, 18),
      pad(image.status, 14),
      pad(byClassText(image) || "-", 34),
      worstText(image) || "-",
    ].join(" "),
  );
  const table = [
    "",
    ["Slot", pad("File", 18), pad("Status", 14), pad("Defects", 34), "Worst defect"].join(" "),
    ...rows,
  ];
  const problems = report.images
    .map((image, index) => ({ image, slot: index + 1 }))
    .filter(({ image }) => image.error)
    .map(
      ({ image, slot }) =>
        `  slot ${slot} ${image.fileName} ${image.status}: ${image.error?.name}: ${image.error?.message}`,
    );
  const links: string[] = [];
  const l = report.links ?? {};
  if (l.console) links.push(`  Console:   ${l.console}`);
  if (l.report) links.push(`  Report:    ${l.report}`);
  if (l.klarf) links.push(`  KLARF:     ${l.klarf}`);
  if (l.waferMap) links.push(`  Wafer map: ${l.waferMap}`);
  const overlays = report.images.filter((i) => i.overlayUrl && i.defects.length > 0);
  if (overlays.length) links.push("  Overlays (wafers with defects):");
  for (const image of overlays) links.push(`    ${pad(image.fileName, 18)} ${image.overlayUrl}`);
  const tail = [
    ...(problems.length ? ["", "Not inspected:", ...problems] : []),
    ...(links.length ? ["", "Links:", ...links] : []),
    "",
    `Full report: s3 key ${report.reportKey}`,
  ];
  let text = [...head, ...table, ...tail].join("\n");
  // A large lot: keep the wafers that need a look, say how many clean ones were left out.
  if (Buffer.byteLength(text) > budget) {
    const kept = table
      .slice(0, 2)
      .concat(rows.filter((_, i) => report.images[i]?.status !== "clean").slice(0, 200));
    const dropped = rows.length - (kept.length - 2);
    text = [...head, ...kept, `  ... and ${dropped} more wafers in the full report`, ...tail].join(
      "\n",
    );
  }
  return Buffer.byteLength(text) > budget
    ? `${text.slice(0, budget - 200)}\n... (cut to fit; the full report has everything)`
    : text;
}

/** "Lot A1234 on CMP-2 FAILED: States.Timeout" and its e-mail text. */
export function alertSubject(alert: Alert, metadata?: LotMetadata, reason?: string): string {
  if (alert.kind === "lot_failed") {
    return asciiSubject(
      `Lot ${alert.lotId ?? "?"}${where(metadata)} FAILED: ${reason ?? alert.message}`,
    );
  }
  return asciiSubject(`Manifest quarantined${alert.lotId ? ` for lot ${alert.lotId}` : ""}`);
}

export function alertEmail(alert: Alert, metadata?: LotMetadata, reportLink?: string): string {
  const lines = [
    alert.kind === "lot_failed"
      ? `Lot ${alert.lotId ?? "?"} FAILED at ${alert.at}`
      : `A manifest was quarantined at ${alert.at}`,
    "",
    alert.message,
  ];
  if (metadata) {
    const m = [
      metadata.product && `Product ${metadata.product}`,
      metadata.equipment && `Equipment ${metadata.equipment}`,
      metadata.recipe && `Recipe ${metadata.recipe}`,
    ].filter(Boolean);
    if (m.length) lines.push(m.join(" | "));
  }
  if (alert.problems?.length) lines.push("", "Problems:", ...alert.problems.map((p) => `  ${p}`));
  if (alert.kind === "lot_failed") {
    lines.push(
      "",
      "None of the lot's wafers can be trusted as inspected. Look at the execution's error, fix",
      "the cause and drop the lot again (the edge agent re-uploads only what changed).",
    );
  }
  if (reportLink) lines.push("", `Report: ${reportLink}`);
  if (alert.key) lines.push(`Evidence: s3 key ${alert.key}`);
  return lines.join("\n");
}
