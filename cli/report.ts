// `waferflow report <lotId>`: prints a stored lot report as JSON, KLARF or CSV from a local stack's data dir.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { LotSource } from "../console/lots.ts";
import { writeKlarf } from "../functions/artifacts/klarf.ts";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import { lotKeys } from "../lib/keys.ts";
import { readRunningStack } from "../local/endpoints-file.ts";
import { LotIdSchema } from "../schemas/common.ts";
import { type Report, ReportSchema } from "../schemas/report.ts";

export const REPORT_FORMATS = ["json", "klarf", "csv"] as const;
type Format = (typeof REPORT_FORMATS)[number];

export class ReportNotFoundError extends Error {
  override name = "ReportNotFoundError";
}

const CSV_COLUMNS = [
  "lotId",
  "slot",
  "fileName",
  "imageStatus",
  "error",
  "defect",
  "class",
  "score",
  "bboxX",
  "bboxY",
  "bboxWidth",
  "bboxHeight",
  "centroidX",
  "centroidY",
  "waferXmm",
  "waferYmm",
  "dieRow",
  "dieCol",
  "areaPx",
] as const;

function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row per defect; a wafer without defects gets one row with its status (and reason). */
export function reportCsv(report: Report): string {
  const rows: unknown[][] = [];
  report.images.forEach((image, index) => {
    const base = [
      report.lotId,
      index + 1,
      image.fileName,
      image.status,
      image.error ? `${image.error.name}: ${image.error.message}` : "",
    ];
    if (image.defects.length === 0) rows.push(base);
    image.defects.forEach((d, n) => {
      rows.push([
        ...base,
        n + 1,
        d.class,
        d.score,
        d.bbox.x,
        d.bbox.y,
        d.bbox.width,
        d.bbox.height,
        d.centroidPx.x,
        d.centroidPx.y,
        d.waferMm.x,
        d.waferMm.y,
        d.die?.row,
        d.die?.col,
        d.areaPx,
      ]);
    });
  });
  return `${[CSV_COLUMNS, ...rows].map((row) => row.map(csvCell).join(",")).join("\n")}\n`;
}

/** The console of a `waferflow local` running on this data dir, if one is. */
function runningConsole(dataDir: string): string | undefined {
  return readRunningStack(dataDir)?.consoleUrl;
}

async function fromConsole(url: string, lotId: string, format: Format): Promise<string> {
  const get = async (key: string) => {
    const response = await fetch(`${url}/files/${key}`);
    if (response.status === 404) throw new ReportNotFoundError(`no report for lot ${lotId}`);
    if (!response.ok) throw new Error(`the console answered ${response.status} for ${key}`);
    return response.text();
  };
  const report = ReportSchema.parse(JSON.parse(await get(lotKeys.report(lotId))));
  if (format === "klarf") {
    return report.artifacts ? get(report.artifacts.klarfKey) : writeKlarf(report);
  }
  return format === "csv" ? reportCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
}

async function fromDataDir(dataDir: string, lotId: string, format: Format): Promise<string> {
  // A short-lived stack on the data dir, without the model: only S3 and the table are read. Its
  // modules and the AWS clients load only on this path: with a running console (the usual case)
  // the command needs none of them, and loading them is most of a `waferflow report` start's CPU.
  const [
    { startLocalStack },
    { createDocumentClient, createS3Client },
    { readObject, readReport },
  ] = await Promise.all([
    import("../local/stack.ts"),
    import("../lib/aws.ts"),
    import("../console/lots.ts"),
  ]);
  const stack = await startLocalStack({ dataDir, startEndpoint: false, log: () => {} });
  try {
    const source: LotSource = {
      s3: createS3Client(),
      db: createDocumentClient(),
      bucket: stack.names.bucket,
      table: stack.names.table,
    };
    let report: Report;
    try {
      report = await readReport(source, lotId);
    } catch (error) {
      if ((error as Error).name === "NotFoundError") {
        throw new ReportNotFoundError(`no report for lot ${lotId} in ${dataDir}`, { cause: error });
      }
      throw error;
    }
    if (format === "klarf") {
      return report.artifacts
        ? new TextDecoder().decode(await readObject(source, report.artifacts.klarfKey))
        : writeKlarf(report);
    }
    return format === "csv" ? reportCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
  } finally {
    await stack.stop();
  }
}

export const REPORT_USAGE = `Usage: waferflow report <lotId> [--format json|klarf|csv] [--data-dir .waferflow]
  Prints a stored lot report: from the running 'waferflow local' on that data dir, or by
  opening the data dir briefly (without the model) when none runs.
  --format     json (the report as stored), klarf (KLARF 1.8) or csv (one row per defect)
  --data-dir   the embedded stack's data dir (default .waferflow)`;

export async function runReportCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(REPORT_USAGE);
    return 0;
  }
  const { values, positionals } = parseCommandLine(
    argv,
    {
      format: { type: "string", default: "json" },
      "data-dir": { type: "string", default: ".waferflow" },
    },
    { allowPositionals: true },
  );
  const [lotId, ...extra] = positionals;
  if (!lotId || extra.length > 0) throw new UsageError("give exactly one lot id");
  if (!LotIdSchema.safeParse(lotId).success) throw new UsageError(`'${lotId}' is not a lot id`);
  const format = values.format as Format;
  if (!REPORT_FORMATS.includes(format)) {
    throw new UsageError(
      `--format must be one of ${REPORT_FORMATS.join(", ")}, got '${values.format}'`,
    );
  }
  const dataDir = resolve(values["data-dir"]);
  if (!existsSync(dataDir)) throw new UsageError(`no data dir ${dataDir}`);
  const url = runningConsole(dataDir);
  try {
    process.stdout.write(
      url ? await fromConsole(url, lotId, format) : await fromDataDir(dataDir, lotId, format),
    );
  } catch (error) {
    if (error instanceof ReportNotFoundError) {
      console.error(`waferflow report: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return 0;
}
