// Follows a local stack's report and alert topics and hands over each lot's full report from S3.
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { LocalStack } from "../local/stack.ts";
import { type Alert, AlertSchema } from "../schemas/alert.ts";
import { DEFECT_CLASSES } from "../schemas/common.ts";
import { type Report, ReportSchema } from "../schemas/report.ts";

export type LotEnding = { kind: "report"; report: Report } | { kind: "quarantined"; alert: Alert };

/** Reads the whole report from S3: the SNS copy may have been truncated to fit a message. */
export async function fetchFullReport(
  s3: S3Client,
  bucket: string,
  summary: Report,
): Promise<Report> {
  if (!summary.truncated) return summary;
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: summary.reportKey }));
  return ReportSchema.parse(JSON.parse((await object.Body?.transformToString()) ?? ""));
}

/**
 * Collects lot endings as they are published, so a report that arrives before anyone waits for
 * its lot is not lost.
 */
export class LotEndings {
  private readonly endings = new Map<string, LotEnding>();
  private readonly waiters = new Map<string, (ending: LotEnding) => void>();
  private readonly unsubscribe: Array<() => void> = [];

  private readonly onEnding: ((ending: LotEnding) => void) | undefined;
  private readonly onProblem: ((message: string) => void) | undefined;

  constructor(
    stack: LocalStack,
    s3: S3Client,
    onEnding?: (ending: LotEnding) => void,
    onProblem?: (message: string) => void,
  ) {
    this.onEnding = onEnding;
    this.onProblem = onProblem;
    this.unsubscribe.push(
      stack.onMessage("reports", (message) => {
        const parsed = ReportSchema.safeParse(safeJson(message.message));
        if (!parsed.success) {
          this.onProblem?.(`unreadable report message: ${parsed.error.message}`);
          return;
        }
        fetchFullReport(s3, stack.names.bucket, parsed.data).then(
          (report) => this.settle(report.lotId, { kind: "report", report }),
          (error: Error) => this.onProblem?.(`cannot read full report: ${error.message}`),
        );
      }),
      stack.onMessage("alerts", (message) => {
        const parsed = AlertSchema.safeParse(safeJson(message.message));
        if (parsed.success && parsed.data.kind === "manifest_quarantined" && parsed.data.lotId) {
          this.settle(parsed.data.lotId, { kind: "quarantined", alert: parsed.data });
        } else if (parsed.success) {
          this.onEnding?.({ kind: "quarantined", alert: parsed.data });
        }
      }),
    );
  }

  private settle(lotId: string, ending: LotEnding): void {
    this.endings.set(lotId, ending);
    this.onEnding?.(ending);
    this.waiters.get(lotId)?.(ending);
    this.waiters.delete(lotId);
  }

  wait(lotId: string, timeoutMs: number): Promise<LotEnding | undefined> {
    const known = this.endings.get(lotId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(lotId);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(lotId, (ending) => {
        clearTimeout(timer);
        resolve(ending);
      });
    });
  }

  close(): void {
    for (const stop of this.unsubscribe) stop();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One line an operator can read at a glance. */
export function summariseReport(report: Report, bucket: string): string {
  const classes = Object.entries(report.counts.byClass)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name}=${n}`)
    .join(" ");
  return `lot ${report.lotId}: ${report.status.toUpperCase()} - ${report.counts.images} wafers, ${report.counts.defects} defects${classes ? ` (${classes})` : ""}, ${report.counts.failed} failed${report.counts.rejected ? `, ${report.counts.rejected} rejected` : ""}; report s3://${bucket}/${report.reportKey}`;
}

/**
 * A lot as a compact terminal table: one line per wafer with its status and defects by class
 * (only the classes the lot has), the reason beside any wafer that was not inspected.
 */
export function reportTable(report: Report): string {
  const classes = DEFECT_CLASSES.filter((name) => report.counts.byClass[name] > 0);
  const c = report.counts;
  const where = report.metadata?.equipment ? ` on ${report.metadata.equipment}` : "";
  const lines = [
    `Lot ${report.lotId}${where}: ${report.status.toUpperCase()} - ${c.images} wafers, ${c.withDefects} with defects, ${c.defects} defects${c.unusable ? `, ${c.unusable} unusable` : ""}${c.failed ? `, ${c.failed} failed` : ""}${c.rejected ? `, ${c.rejected} rejected` : ""}`,
  ];
  if (report.error) lines.push(`  lot error: ${report.error.name}: ${report.error.message}`);
  const fileWidth = Math.max(5, ...report.images.map((image) => image.fileName.length));
  const header = [
    "slot",
    "wafer".padEnd(fileWidth),
    "status".padEnd(13),
    ...classes.map((name) => name.padStart(Math.max(5, name.length))),
  ];
  lines.push(`  ${header.join("  ")}`);
  report.images.forEach((image, index) => {
    const count = (name: string) => image.defects.filter((d) => d.class === name).length;
    const cells = [
      String(index + 1).padStart(4),
      image.fileName.padEnd(fileWidth),
      image.status.padEnd(13),
      ...classes.map((name) =>
        (count(name) ? String(count(name)) : ".").padStart(Math.max(5, name.length)),
      ),
    ];
    const reason = image.error ? `  ${image.error.name}: ${image.error.message}` : "";
    lines.push(`  ${cells.join("  ")}${reason}`.trimEnd());
  });
  if (report.links?.console) lines.push(`  ${report.links.console}`);
  return lines.join("\n");
}
