// Lambda entry for "Step Functions Execution Status Change" events of the lot state machine (rule in template.yaml).
import { z } from "zod";
import { ExecutionStatusChangeEventSchema } from "../../schemas/execution-event.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { executionEnded } from "./core.ts";

export const handler = lambdaHandler({
  service: "execution-ended",
  config: ReportConfigSchema.extend({ ALERT_TOPIC_ARN: z.string().min(1) }),
  deps: (config) => ({
    ...reportDepsFrom(config),
    alertTopicArn: config.ALERT_TOPIC_ARN,
  }),
  input: ExecutionStatusChangeEventSchema,
  inputName: "Step Functions Execution Status Change event",
  logKeys: (event) => ({ executionArn: event.detail.executionArn, status: event.detail.status }),
  run: async (event, deps, log) => {
    const result = await executionEnded(event, { ...deps, log });
    if (result.outcome === "failed") {
      log.error("lot ended without a report; marked FAILED", { lotId: result.report.lotId });
      return { lotId: result.report.lotId, outcome: result.outcome };
    }
    log.info("execution end needs no action", { outcome: result.outcome });
    return result.outcome === "ignored"
      ? { outcome: result.outcome, reason: result.reason }
      : { lotId: result.lotId, outcome: result.outcome };
  },
});
