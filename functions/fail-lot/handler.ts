// Lambda entry for the MarkLotFailed state, reached from any Catch of the lot state machine.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { readConfig } from "../../lib/config.ts";
import { FailLotInputSchema } from "../../schemas/workflow.ts";
import { ReportConfigSchema, reportDepsFrom } from "../lot-report.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { failLot } from "./core.ts";

const config = readConfig(ReportConfigSchema.extend({ ALERT_TOPIC_ARN: z.string().min(1) }));
const logger = createLogger("fail-lot");
const deps = { ...reportDepsFrom(config), alertTopicArn: config.ALERT_TOPIC_ARN, log: logger };

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = parseInput(FailLotInputSchema, "MarkLotFailed input", event);
  const result = await failLot(input, deps);
  if (result.outcome === "already_final") return { lotId: input.lotId, status: "already_final" };
  const { report } = result;
  logger.error("lot failed", { lotId: input.lotId, error: report.error });
  return { lotId: report.lotId, status: report.status, reportKey: report.reportKey };
}
