// Lambda entry for the PublishReport state: the lot's defect report, stored and sent to operators.
import { PublishReportInputSchema } from "../../schemas/workflow.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { publishReport } from "./core.ts";

export const handler = lambdaHandler({
  service: "publish-report",
  config: ReportConfigSchema,
  deps: reportDepsFrom,
  input: PublishReportInputSchema,
  inputName: "PublishReport input",
  logKeys: (input) => ({ lotId: input.lotId }),
  run: async (input, deps, log) => {
    const report = await publishReport(input, deps);
    log.info("report published", { status: report.status, ...report.counts });
    // The execution output stays small: the report itself lives in S3.
    return {
      lotId: report.lotId,
      status: report.status,
      reportKey: report.reportKey,
      counts: report.counts,
    };
  },
});
