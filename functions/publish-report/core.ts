// Gathers every image's result of a lot into its report (inspected, failed and rejected files alike); stores, records and publishes it.
import { lotKeys } from "../../lib/keys.ts";
import { mapLimited } from "../../lib/pool.ts";
import type { Manifest } from "../../schemas/lot.ts";
import { type ImageResult, ImageResultSchema, type Report } from "../../schemas/report.ts";
import type { ImageOutcome, PublishReportInput } from "../../schemas/workflow.ts";
import { getObjectBytes } from "../aws-io.ts";
import { ModelResponseError } from "../errors.ts";
import {
  buildReport,
  type ReportDeps,
  rejectedResults,
  storeAndPublishReport,
} from "../lot-report.ts";
import { loadManifest } from "../manifest.ts";

async function readStoredResult(key: string, deps: ReportDeps): Promise<ImageResult | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await getObjectBytes(deps.s3, deps.bucket, key);
  } catch (error) {
    if (((error as Error).cause as { name?: string } | undefined)?.name === "NoSuchKey") {
      return undefined;
    }
    throw error;
  }
  const parsed = ImageResultSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success) {
    throw new ModelResponseError(`stored result ${key} is malformed`, { cause: parsed.error });
  }
  return parsed.data;
}

async function loadResult(
  lotId: string,
  image: Manifest["images"][number],
  outcome: ImageOutcome | undefined,
  deps: ReportDeps,
): Promise<ImageResult> {
  const base = { fileName: image.fileName, key: image.key, defects: [] };
  if (!outcome) {
    return {
      ...base,
      status: "failed",
      error: { name: "NoOutcome", message: "the inspection of this image left no outcome" },
    };
  }
  const stored = await readStoredResult(lotKeys.result(lotId, image.fileName), deps);
  if (outcome.status === "failed") {
    // The handler that failed kept the message; the state machine only carried the name.
    const message =
      stored?.status === "failed" && stored.error
        ? stored.error.message
        : "no details kept; see the function's logs for this execution";
    return { ...base, status: "failed", error: { name: outcome.error.name, message } };
  }
  if (!stored || stored.status === "failed") {
    throw new ModelResponseError(
      `result of ${image.fileName} is missing at ${lotKeys.result(lotId, image.fileName)}`,
    );
  }
  return stored;
}

export async function publishReport(input: PublishReportInput, deps: ReportDeps): Promise<Report> {
  const { manifest } = await loadManifest(
    deps.s3,
    deps.bucket,
    input.manifestKey,
    input.manifestSha256,
  );
  const outcomes = new Map(input.results.map((outcome) => [outcome.index, outcome]));
  const images = await mapLimited(manifest.images, 8, (image, i) =>
    loadResult(input.lotId, image, outcomes.get(i), deps),
  );
  const report = buildReport({
    lotId: input.lotId,
    executionId: input.executionId,
    images: [...images, ...rejectedResults(manifest)],
    metadata: manifest.metadata,
    completedAt: (deps.now ?? (() => new Date()))(),
  });
  return storeAndPublishReport(report, deps, manifest.images);
}
