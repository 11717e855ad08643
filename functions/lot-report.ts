// Builds a lot's defect report from its image results, then stores, records and publishes it.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { createDocumentClient, createS3Client, createSnsClient } from "../lib/aws.ts";
import { lotKeys } from "../lib/keys.ts";
import type { Manifest } from "../schemas/lot.ts";
import {
  type ErrorInfo,
  emptyClassCounts,
  type ImageResult,
  type LotStatus,
  type Report,
} from "../schemas/report.ts";
import { imageItemKey, type LotItemStatus, lotItemKey, updateItem } from "./lot-table.ts";
import { publish, putJson } from "./runtime.ts";

/** SNS takes 256 KiB per message; leave room for attributes and the envelope. */
const SNS_MESSAGE_BUDGET = 240 * 1024;

export interface ReportDeps {
  s3: S3Client;
  db: DynamoDBDocumentClient;
  sns: SNSClient;
  bucket: string;
  table: string;
  reportTopicArn: string;
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
    ...(args.error ? { error: args.error } : {}),
  };
}

/**
 * The SNS copy of a report: whole when it fits, else without per-image defect lists, else (a
 * thousand images with long names and errors) the counts alone; S3 always has the whole report.
 */
export function reportMessage(report: Report): string {
  const whole = JSON.stringify(report);
  if (Buffer.byteLength(whole) <= SNS_MESSAGE_BUDGET) return whole;
  const slim = JSON.stringify({
    ...report,
    truncated: true,
    images: report.images.map((image) => ({ ...image, wafer: undefined, defects: [] })),
  } satisfies Report);
  if (Buffer.byteLength(slim) <= SNS_MESSAGE_BUDGET) return slim;
  return JSON.stringify({ ...report, truncated: true, images: [] } satisfies Report);
}

const ITEM_STATUS: Record<LotStatus, LotItemStatus> = {
  defects_found: "DEFECTS_FOUND",
  clean: "CLEAN",
  incomplete: "INCOMPLETE",
  failed: "FAILED",
};

/** Writes the report to S3 and its summary to the lot's and images' table items. */
export async function storeReport(report: Report, deps: ReportDeps): Promise<void> {
  await putJson(deps.s3, deps.bucket, report.reportKey, report);
  await updateItem(deps.db, deps.table, lotItemKey(report.lotId), {
    status: ITEM_STATUS[report.status],
    counts: report.counts,
    reportKey: report.reportKey,
    completedAt: report.completedAt,
    updatedAt: report.completedAt,
    error: report.error,
  });
  const queue = [...report.images];
  const worker = async () => {
    for (let image = queue.shift(); image; image = queue.shift()) {
      await updateItem(deps.db, deps.table, imageItemKey(report.lotId, image.fileName), {
        status: image.status.toUpperCase(),
        defectCount: image.defects.length,
        error: image.error,
        updatedAt: report.completedAt,
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

export async function publishReportMessage(report: Report, deps: ReportDeps): Promise<void> {
  await publish(deps.sns, deps.reportTopicArn, {
    subject: `waferflow lot ${report.lotId}: ${report.status}`,
    body: reportMessage(report),
    attributes: { lotId: report.lotId, status: report.status },
  });
}

/** Stored first, then published: a message never points at a report that is not there. */
export async function storeAndPublishReport(report: Report, deps: ReportDeps): Promise<void> {
  await storeReport(report, deps);
  await publishReportMessage(report, deps);
}

/** What a report-writing handler reads from its environment, once, at start. */
export const ReportConfigSchema = z.object({
  BUCKET_NAME: z.string().min(1),
  TABLE_NAME: z.string().min(1),
  REPORT_TOPIC_ARN: z.string().min(1),
});

export function reportDepsFrom(config: z.infer<typeof ReportConfigSchema>): ReportDeps {
  return {
    s3: createS3Client(),
    db: createDocumentClient(),
    sns: createSnsClient(),
    bucket: config.BUCKET_NAME,
    table: config.TABLE_NAME,
    reportTopicArn: config.REPORT_TOPIC_ARN,
  };
}
