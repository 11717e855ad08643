// Ends a lot that could not be processed: FAILED in the table, a failed report, and an operator alert.
import type { Alert } from "../../schemas/alert.ts";
import type { ImageResult, Report } from "../../schemas/report.ts";
import type { FailLotInput } from "../../schemas/workflow.ts";
import { alertEmail, alertSubject } from "../artifacts/message.ts";
import { buildReport, publishReportMessage, type ReportDeps, storeReport } from "../lot-report.ts";
import { type CoreLog, errorMessageFromCause, publish } from "../runtime.ts";

export async function failLot(
  input: FailLotInput,
  deps: ReportDeps & { alertTopicArn: string; log?: CoreLog },
): Promise<Report> {
  const now = (deps.now ?? (() => new Date()))();
  const error = { name: input.error.Error, message: errorMessageFromCause(input.error.Cause) };
  const images: ImageResult[] = (input.images ?? []).map((image) => ({
    fileName: image.fileName,
    key: image.key,
    status: "failed",
    error: { name: "LotFailed", message: "the lot failed before this image was inspected" },
    defects: [],
  }));
  let report = buildReport({
    lotId: input.lotId,
    executionId: input.executionId,
    images,
    metadata: input.metadata,
    error,
    completedAt: now,
  });
  // The lot may have failed because the store is down: operators must hear of it all the same.
  let storeProblem: string | undefined;
  try {
    report = await storeReport(report, deps);
  } catch (storeError) {
    storeProblem = `${(storeError as Error).name}: ${(storeError as Error).message}`;
    deps.log?.error("failed report could not be stored", { lotId: input.lotId, storeProblem });
  }
  await publishReportMessage(report, deps);
  const alert: Alert = {
    schemaVersion: 1,
    kind: "lot_failed",
    at: now.toISOString(),
    lotId: input.lotId,
    message: `lot ${input.lotId} failed: ${error.name}: ${error.message}`,
    key: report.reportKey,
    ...(storeProblem
      ? { problems: [`the failed report could not be stored: ${storeProblem}`] }
      : {}),
  };
  await publish(deps.sns, deps.alertTopicArn, {
    subject: alertSubject(alert, input.metadata, error.name),
    body: alert,
    email: alertEmail(alert, input.metadata, report.links?.report),
    attributes: {
      kind: alert.kind,
      lotId: input.lotId,
      severity: "critical",
      status: "failed",
      product: input.metadata?.product ?? "",
      equipment: input.metadata?.equipment ?? "",
      recipe: input.metadata?.recipe ?? "",
    },
  });
  return report;
}
