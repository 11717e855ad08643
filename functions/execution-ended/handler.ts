// Lambda entry for "Step Functions Execution Status Change" events of the lot state machine (rule in template.yaml).
import type { Context } from "aws-lambda";
import { z } from "zod";
import { readConfig } from "../../lib/config.ts";
import { ExecutionStatusChangeEventSchema } from "../../schemas/execution-event.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { executionEnded } from "./core.ts";

const config = readConfig(ReportConfigSchema.extend({ ALERT_TOPIC_ARN: z.string().min(1) }));
const logger = createLogger("execution-ended");
const deps = { ...reportDepsFrom(config), alertTopicArn: config.ALERT_TOPIC_ARN, log: logger };

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const parsed = parseInput(
    ExecutionStatusChangeEventSchema,
    "Step Functions Execution Status Change event",
    event,
  );
  const result = await executionEnded(parsed, deps);
  if (result.outcome === "failed") {
    logger.error("lot ended without a report; marked FAILED", {
      lotId: result.report.lotId,
      executionArn: parsed.detail.executionArn,
      status: parsed.detail.status,
    });
    return { lotId: result.report.lotId, outcome: result.outcome };
  }
  logger.info("execution end needs no action", { outcome: result.outcome });
  return result.outcome === "ignored"
    ? { outcome: result.outcome, reason: result.reason }
    : { lotId: result.lotId, outcome: result.outcome };
}
