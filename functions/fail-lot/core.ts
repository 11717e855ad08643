// Ends a lot that could not be processed: FAILED in the table, a failed report, and an operator alert.
import type { Alert } from "../../schemas/alert.ts";
import type { ImageResult, Report } from "../../schemas/report.ts";
import type { FailLotInput } from "../../schemas/workflow.ts";
import { buildReport, type ReportDeps, storeAndPublishReport } from "../lot-report.ts";
import { errorMessageFromCause, publish } from "../runtime.ts";

export async function failLot(
  input: FailLotInput,
  deps: ReportDeps & { alertTopicArn: string },
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
  const report = buildReport({
    lotId: input.lotId,
    executionId: input.executionId,
    images,
    error,
    completedAt: now,
  });
  await storeAndPublishReport(report, deps);
  const alert: Alert = {
    schemaVersion: 1,
    kind: "lot_failed",
    at: now.toISOString(),
    lotId: input.lotId,
    message: `lot ${input.lotId} failed: ${error.name}: ${error.message}`,
    key: report.reportKey,
  };
  await publish(deps.sns, deps.alertTopicArn, {
    subject: `waferflow lot ${input.lotId} FAILED`,
    body: alert,
    attributes: { kind: alert.kind, lotId: input.lotId },
  });
  return report;
}
