// Lambda entry for the PublishReport state: the lot's defect report, stored and sent to operators.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createDocumentClient, createS3Client, createSnsClient } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { PublishReportInputSchema } from "../../schemas/workflow.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { publishReport } from "./core.ts";

const config = readConfig(
  z.object({
    BUCKET_NAME: z.string().min(1),
    TABLE_NAME: z.string().min(1),
    REPORT_TOPIC_ARN: z.string().min(1),
  }),
);
const logger = createLogger("publish-report");
const deps = {
  s3: createS3Client(),
  db: createDocumentClient(),
  sns: createSnsClient(),
  bucket: config.BUCKET_NAME,
  table: config.TABLE_NAME,
  reportTopicArn: config.REPORT_TOPIC_ARN,
};

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = parseInput(PublishReportInputSchema, "PublishReport input", event);
  const report = await publishReport(input, deps);
  logger.info("report published", { lotId: report.lotId, status: report.status, ...report.counts });
  // The execution output stays small: the report itself lives in S3.
  return {
    lotId: report.lotId,
    status: report.status,
    reportKey: report.reportKey,
    counts: report.counts,
  };
}
