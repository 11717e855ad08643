// The per-lot defect report: published on SNS, stored in S3 and summarised in DynamoDB.
import { z } from "zod";
import { DEFECT_CLASSES, DefectClassSchema, LotIdSchema } from "./common.ts";
import { DefectSchema, ModelInfoSchema, QualitySchema, WaferSchema } from "./detection.ts";
import { LotMetadataSchema } from "./lot.ts";

export const ErrorInfoSchema = z.object({ name: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

/** A defect as reported: the endpoint's defect, with the box in the original image's pixels. */
export const ReportedDefectSchema = DefectSchema;

/**
 * What became of one image the line took: inspected (`clean` / `defects_found`), `failed` (an error
 * while processing it), `unusable` (the endpoint's quality gate: it cannot be inspected, never clean)
 * or `rejected` (refused before upload, e.g. empty or not an image; listed in the manifest).
 */
export const IMAGE_STATUSES = ["clean", "defects_found", "failed", "unusable", "rejected"] as const;
export const ImageStatusSchema = z.enum(IMAGE_STATUSES);

export const ImageResultSchema = z.object({
  fileName: z.string(),
  key: z.string(),
  status: ImageStatusSchema,
  error: ErrorInfoSchema.optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  wafer: WaferSchema.optional(),
  model: ModelInfoSchema.optional(),
  /** The endpoint's image-quality measures; on `unusable` images, `reasons` says why. */
  quality: QualitySchema.optional(),
  defects: z.array(ReportedDefectSchema),
  /** S3 key of the wafer's overlay picture (defects boxed on the downscaled wafer), when drawn. */
  overlayKey: z.string().optional(),
  /** A link people can open to that picture (presigned on AWS, the console's on the local stack). */
  overlayUrl: z.string().optional(),
});
export type ImageResult = z.infer<typeof ImageResultSchema>;

/**
 * `failed`: the lot itself could not be processed. `defects_found`: any defect on any wafer.
 * `clean`: every image taken was inspected and is clean. `incomplete`: no defect found, but some
 * images were not inspected (failed, unusable or rejected), so the lot cannot be called clean.
 */
export const LOT_STATUSES = ["defects_found", "clean", "incomplete", "failed"] as const;
export const LotStatusSchema = z.enum(LOT_STATUSES);
export type LotStatus = z.infer<typeof LotStatusSchema>;

export const ClassCountsSchema = z.record(DefectClassSchema, z.number().int().nonnegative());

export const ReportSchema = z.object({
  schemaVersion: z.literal(1),
  lotId: LotIdSchema,
  status: LotStatusSchema,
  executionId: z.string().optional(),
  completedAt: z.iso.datetime(),
  counts: z.object({
    images: z.number().int().nonnegative(),
    clean: z.number().int().nonnegative(),
    withDefects: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    unusable: z.number().int().nonnegative(),
    rejected: z.number().int().nonnegative(),
    defects: z.number().int().nonnegative(),
    byClass: ClassCountsSchema,
  }),
  images: z.array(ImageResultSchema),
  /** S3 key of the full report. */
  reportKey: z.string(),
  /** The lot's metadata from its manifest (product, equipment, recipe, wafer geometry). */
  metadata: LotMetadataSchema.optional(),
  /** S3 keys of what is written next to the report. */
  artifacts: z.object({ klarfKey: z.string(), waferMapKey: z.string() }).optional(),
  /** Links people can open (presigned on AWS, expiring; the console's on the local stack). */
  links: z
    .object({
      report: z.string(),
      klarf: z.string(),
      waferMap: z.string(),
      console: z.string(),
    })
    .partial()
    .optional(),
  /** Set on the SNS copy when per-image defects were left out to fit a message; S3 has them all. */
  truncated: z.boolean().optional(),
  error: ErrorInfoSchema.optional(),
});
export type Report = z.infer<typeof ReportSchema>;

export function emptyClassCounts(): Record<(typeof DEFECT_CLASSES)[number], number> {
  return Object.fromEntries(DEFECT_CLASSES.map((c) => [c, 0])) as Record<
    (typeof DEFECT_CLASSES)[number],
    number
  >;
}
