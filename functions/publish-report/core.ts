// Gathers every image's result of a lot into its report; stores, records and publishes it.
import { type ImageResult, ImageResultSchema, type Report } from "../../schemas/report.ts";
import type { ImageOutcome, PublishReportInput } from "../../schemas/workflow.ts";
import { ModelResponseError } from "../errors.ts";
import { buildReport, type ReportDeps, storeAndPublishReport } from "../lot-report.ts";
import { errorMessageFromCause, getObjectBytes } from "../runtime.ts";

async function loadResult(outcome: ImageOutcome, deps: ReportDeps): Promise<ImageResult> {
  if (outcome.status === "failed") {
    return {
      fileName: outcome.fileName,
      key: outcome.key,
      status: "failed",
      error: { name: outcome.error.name, message: errorMessageFromCause(outcome.error.message) },
      defects: [],
    };
  }
  const bytes = await getObjectBytes(deps.s3, deps.bucket, outcome.resultKey);
  const parsed = ImageResultSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success) {
    throw new ModelResponseError(`stored result ${outcome.resultKey} is malformed`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

export async function publishReport(input: PublishReportInput, deps: ReportDeps): Promise<Report> {
  const images: ImageResult[] = new Array(input.results.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < input.results.length; i = next++) {
      images[i] = await loadResult(input.results[i] as ImageOutcome, deps);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const report = buildReport({
    lotId: input.lotId,
    executionId: input.executionId,
    images,
    metadata: input.metadata,
    completedAt: (deps.now ?? (() => new Date()))(),
  });
  return storeAndPublishReport(report, deps);
}
