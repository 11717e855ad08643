// Lambda entry for the MarkLotFailed state, reached from any Catch of the lot state machine.
import { z } from "zod";
import { FailLotInputSchema } from "../../schemas/workflow.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { failLot } from "./core.ts";

export const handler = lambdaHandler({
  service: "fail-lot",
  config: ReportConfigSchema.extend({ ALERT_TOPIC_ARN: z.string().min(1) }),
  deps: (config) => ({
    ...reportDepsFrom(config),
    alertTopicArn: config.ALERT_TOPIC_ARN,
  }),
  input: FailLotInputSchema,
  inputName: "MarkLotFailed input",
  logKeys: (input) => ({ lotId: input.lotId }),
  run: async (input, deps, log) => {
    const result = await failLot(input, { ...deps, log });
    if (result.outcome === "already_final") return { lotId: input.lotId, status: "already_final" };
    const { report } = result;
    log.error("lot failed", { error: report.error });
    return { lotId: report.lotId, status: report.status, reportKey: report.reportKey };
  },
});
