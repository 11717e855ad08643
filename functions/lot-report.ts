// Builds a lot's defect report from its image results, then stores, records and publishes it.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { createDocumentClient, createS3Client, createSnsClient } from "../lib/aws.ts";
import { lotKeys } from "../lib/keys.ts";
import type { LotMetadata, Manifest } from "../schemas/lot.ts";
import {
  type ErrorInfo,
  emptyClassCounts,
  type ImageResult,
  type LotStatus,
  type Report,
} from "../schemas/report.ts";
import { reportAttributes, reportEmail, reportSubject } from "./artifacts/message.ts";
import { type LinkDeps, withLinks, writeLotArtifacts } from "./artifacts/store.ts";
import { publish, putJson } from "./aws-io.ts";
import {
  batchPut,
  imageItemKey,
  type LotItemStatus,
  lotItemKey,
  recordedImageItem,
  updateItem,
} from "./lot-table.ts";

/** SNS takes 256 KiB per message (JSON copy and e-mail text together); leave room for attributes. */
const SNS_MESSAGE_BUDGET = 240 * 1024;

export interface ReportDeps {
  s3: S3Client;
  db: DynamoDBDocumentClient;
  sns: SNSClient;
  bucket: string;
  table: string;
  reportTopicArn: string;
  /** The console's base URL on the local stack; on AWS links are presigned S3 URLs. */
  linkBaseUrl?: string;
  linkTtlSeconds?: number;
  now?: () => Date;
}

/** The files the agent refused, as the report shows them: never uploaded, never inspected. */
export function rejectedResults(manifest: Pick<Manifest, "rejected">): ImageResult[] {
  return (manifest.rejected ?? []).map((file) => ({
    fileName: file.fileName,
    key: "",
    status: "rejected",
    error: { name: "Rejected", message: file.reason },
    defects: [],
  }));
}

/** Defects anywhere win; otherwise a wafer that was not inspected keeps the lot from "clean". */
export function lotStatus(images: ImageResult[], lotError?: ErrorInfo): LotStatus {
  if (lotError) return "failed";
  if (images.some((image) => image.defects.length > 0)) return "defects_found";
  if (images.some((image) => image.status !== "clean")) return "incomplete";
  return "clean";
}

export function buildReport(args: {
  lotId: string;
  executionId?: string;
  images: ImageResult[];
  metadata?: LotMetadata;
  error?: ErrorInfo;
  completedAt: Date;
}): Report {
  const byClass = emptyClassCounts();
  for (const image of args.images) for (const defect of image.defects) byClass[defect.class] += 1;
  const count = (status: ImageResult["status"]) =>
    args.images.filter((image) => image.status === status).length;
  return {
    schemaVersion: 1,
    lotId: args.lotId,
    status: lotStatus(args.images, args.error),
    executionId: args.executionId,
    completedAt: args.completedAt.toISOString(),
    counts: {
      images: args.images.length,
      clean: count("clean"),
      withDefects: count("defects_found"),
      failed: count("failed"),
      unusable: count("unusable"),
      rejected: count("rejected"),
      defects: args.images.reduce((sum, image) => sum + image.defects.length, 0),
      byClass,
    },
    images: args.images,
    reportKey: lotKeys.report(args.lotId),
    ...(args.metadata ? { metadata: args.metadata } : {}),
    ...(args.error ? { error: args.error } : {}),
  };
}

/** Bytes `text` takes inside a JSON string (MessageStructure json escapes the report's quotes). */
const escapedBytes = (text: string) => Buffer.byteLength(JSON.stringify(text));

/**
 * The SNS copy of a report within `budget` bytes (measured as it travels inside a JSON message
 * structure): whole when it fits, else without per-image defect lists, else without per-image
 * links, else without the image list (the S3 copy always has everything).
 */
export function reportMessage(report: Report, budget = SNS_MESSAGE_BUDGET): string {
  const whole = JSON.stringify(report);
  if (escapedBytes(whole) <= budget) return whole;
  const slim: Report = {
    ...report,
    truncated: true,
    images: report.images.map((image) => ({ ...image, wafer: undefined, defects: [] })),
  };
  const slimText = JSON.stringify(slim);
  if (escapedBytes(slimText) <= budget) return slimText;
  const slimmer = JSON.stringify({
    ...slim,
    images: slim.images.map((image) => ({ ...image, overlayUrl: undefined, model: undefined })),
  });
  if (escapedBytes(slimmer) <= budget) return slimmer;
  return JSON.stringify({ ...slim, images: [] });
}

const ITEM_STATUS: Record<LotStatus, LotItemStatus> = {
  defects_found: "DEFECTS_FOUND",
  clean: "CLEAN",
  incomplete: "INCOMPLETE",
  failed: "FAILED",
};

/**
 * Each image's table item as the report leaves it: the item RecordLot wrote from the manifest
 * (`manifestImages`, in manifest order) with the image's outcome over its PENDING status. A file
 * the manifest does not list (one the agent refused) gets the outcome alone.
 */
export function reportedImageItems(
  report: Pick<Report, "lotId" | "completedAt" | "images">,
  manifestImages: Manifest["images"] = [],
): Record<string, unknown>[] {
  const recorded = new Map(
    manifestImages.map((image, index) => [
      image.fileName,
      recordedImageItem(report.lotId, index, image),
    ]),
  );
  return report.images.map((image) => {
    const item: Record<string, unknown> = {
      ...(recorded.get(image.fileName) ?? imageItemKey(report.lotId, image.fileName)),
      status: image.status.toUpperCase(),
      defectCount: image.defects.length,
      error: image.error,
      overlayKey: image.overlayKey,
      updatedAt: report.completedAt,
    };
    // A put writes the item whole: an absent attribute is left out, as the update left it unset.
    for (const [name, value] of Object.entries(item)) if (value === undefined) delete item[name];
    return item;
  });
}

/**
 * Writes the lot's KLARF and wafer map (not for a failed lot: nothing was inspected), then the
 * report with its links to S3, then its summary to the lot's and images' table items, side by side
 * (the images' in batches of 25: a 1000-image lot is 40 requests, not 1000). `manifestImages` are the images
 * RecordLot recorded; their items keep what it wrote. Returns the report as stored.
 */
export async function storeReport(
  input: Report,
  deps: ReportDeps,
  manifestImages?: Manifest["images"],
): Promise<Report> {
  const withArtifacts = input.status === "failed" ? input : await writeLotArtifacts(input, deps);
  const report = await withLinks(withArtifacts, linkDeps(deps));
  await putJson(deps.s3, deps.bucket, report.reportKey, report);
  // The lot's item and its images' items are separate writes, each whole and idempotent (a retry
  // writes both again): side by side, the report is published one round trip sooner.
  await Promise.all([
    updateItem(deps.db, deps.table, lotItemKey(report.lotId), {
      status: ITEM_STATUS[report.status],
      counts: report.counts,
      reportKey: report.reportKey,
      completedAt: report.completedAt,
      updatedAt: report.completedAt,
      error: report.error,
    }),
    batchPut(deps.db, deps.table, reportedImageItems(report, manifestImages)),
  ]);
  return report;
}

function linkDeps(deps: ReportDeps): LinkDeps {
  return {
    s3: deps.s3,
    bucket: deps.bucket,
    linkBaseUrl: deps.linkBaseUrl,
    linkTtlSeconds: deps.linkTtlSeconds,
  };
}

/** Subject, e-mail text and JSON together within SNS's limit; attributes for filter policies. */
export async function publishReportMessage(report: Report, deps: ReportDeps): Promise<void> {
  const email = reportEmail(report);
  await publish(deps.sns, deps.reportTopicArn, {
    subject: reportSubject(report),
    body: reportMessage(report, SNS_MESSAGE_BUDGET - escapedBytes(email) - 1024),
    email,
    attributes: reportAttributes(report),
  });
}

/** Stored first, then published: a message never points at a report that is not there. */
export async function storeAndPublishReport(
  input: Report,
  deps: ReportDeps,
  manifestImages?: Manifest["images"],
): Promise<Report> {
  const report = await storeReport(input, deps, manifestImages);
  await publishReportMessage(report, deps);
  return report;
}

/** What a report-writing handler reads from its environment, once, at start. */
export const ReportConfigSchema = z.object({
  BUCKET_NAME: z.string().min(1),
  TABLE_NAME: z.string().min(1),
  REPORT_TOPIC_ARN: z.string().min(1),
  /** Set by `waferflow local` to its console; unset on AWS, where links are presigned. */
  REPORT_LINK_BASE_URL: z.url().optional(),
  REPORT_LINK_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(604_800),
});

export function reportDepsFrom(config: z.infer<typeof ReportConfigSchema>): ReportDeps {
  return {
    s3: createS3Client(),
    db: createDocumentClient(),
    sns: createSnsClient(),
    bucket: config.BUCKET_NAME,
    table: config.TABLE_NAME,
    reportTopicArn: config.REPORT_TOPIC_ARN,
    linkBaseUrl: config.REPORT_LINK_BASE_URL,
    linkTtlSeconds: config.REPORT_LINK_TTL_SECONDS,
  };
}
