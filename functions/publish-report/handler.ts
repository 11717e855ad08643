// Lambda entry for the PublishReport state: the lot's defect report, stored and sent to operators.
import type { Context } from "aws-lambda";
import { readConfig } from "../../lib/config.ts";
import { PublishReportInputSchema } from "../../schemas/workflow.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { createLogger, parseInput, shortError } from "../runtime.ts";
import { publishReport } from "./core.ts";

const config = readConfig(ReportConfigSchema);
const logger = createLogger("publish-report");
const deps = reportDepsFrom(config);

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  let report: Awaited<ReturnType<typeof publishReport>>;
  try {
    report = await publishReport(
      parseInput(PublishReportInputSchema, "PublishReport input", event),
      deps,
    );
  } catch (error) {
    throw shortError(error, logger);
  }
  logger.info("report published", { lotId: report.lotId, status: report.status, ...report.counts });
  // The execution output stays small: the report itself lives in S3.
  return {
    lotId: report.lotId,
    status: report.status,
    reportKey: report.reportKey,
    counts: report.counts,
  };
}
