// Ends a lot that could not be processed: FAILED in the table, a failed report, and an operator alert.
import type { Alert } from "../../schemas/alert.ts";
import type { Manifest } from "../../schemas/lot.ts";
import type { ImageResult, Report } from "../../schemas/report.ts";
import type { FailLotInput } from "../../schemas/workflow.ts";
import { alertEmail, alertSubject } from "../artifacts/message.ts";
import { publish } from "../aws-io.ts";
import { errorMessageFromCause, truncate } from "../errors.ts";
import { MAX_FAILURE_MESSAGE_LENGTH } from "../image-failure.ts";
import type { CoreLog } from "../lambda-handler.ts";
import {
  buildReport,
  publishReportMessage,
  type ReportDeps,
  rejectedResults,
  storeReport,
} from "../lot-report.ts";
import { claimLotFailure, type FailureClaimant } from "../lot-table.ts";
import { loadManifest } from "../manifest.ts";

export type FailLotResult =
  | { outcome: "failed"; report: Report }
  /** The lot already had a final status (or another path ended it): nothing was said twice. */
  | { outcome: "already_final"; lotId: string };

export interface FailLotDeps extends ReportDeps {
  alertTopicArn: string;
  /** Which path ends the lot; each may retry its own claim, never take over another's. */
  claimant?: FailureClaimant;
  log?: CoreLog;
}

export async function failLot(input: FailLotInput, deps: FailLotDeps): Promise<FailLotResult> {
  const now = (deps.now ?? (() => new Date()))();
  const claimed = await claimLotFailure(deps.db, deps.table, {
    lotId: input.lotId,
    executionId: input.executionId,
    claimant: deps.claimant ?? "workflow",
    at: now.toISOString(),
  });
  if (!claimed) {
    deps.log?.info("lot already has a final status; no second report", { lotId: input.lotId });
    return { outcome: "already_final", lotId: input.lotId };
  }
  const error = {
    name: input.error.Error,
    message: truncate(errorMessageFromCause(input.error.Cause), MAX_FAILURE_MESSAGE_LENGTH),
  };
  // The manifest lists the lot's images; when it is what failed, the report has none to name.
  let manifest: Manifest | undefined;
  if (input.manifestKey) {
    try {
      ({ manifest } = await loadManifest(deps.s3, deps.bucket, input.manifestKey));
    } catch (manifestError) {
      deps.log?.warn("the failed lot's manifest cannot be read", {
        lotId: input.lotId,
        manifestError: (manifestError as Error).message,
      });
    }
  }
  const images: ImageResult[] = [
    ...(manifest?.images ?? []).map((image) => ({
      fileName: image.fileName,
      key: image.key,
      status: "failed" as const,
      error: { name: "LotFailed", message: "the lot failed before this image was inspected" },
      defects: [],
    })),
    ...(manifest ? rejectedResults(manifest) : []),
  ];
  const metadata = manifest?.metadata;
  let report = buildReport({
    lotId: input.lotId,
    executionId: input.executionId,
    images,
    metadata,
    error,
    completedAt: now,
  });
  // The lot may have failed because the store is down: operators must hear of it all the same.
  let storeProblem: string | undefined;
  try {
    report = await storeReport(report, deps, manifest?.images);
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
    subject: alertSubject(alert, metadata, error.name),
    body: alert,
    email: alertEmail(alert, metadata, report.links?.report),
    attributes: {
      kind: alert.kind,
      lotId: input.lotId,
      severity: "critical",
      status: "failed",
      product: metadata?.product ?? "",
      equipment: metadata?.equipment ?? "",
      recipe: metadata?.recipe ?? "",
    },
  });
  return { outcome: "failed", report };
}
