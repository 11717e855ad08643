// Payloads that pass between the lot state machine's states: keys and small summaries, never pixels.
import { z } from "zod";
import { LotIdSchema } from "./common.ts";
import { LotMetadataSchema, ManifestImageSchema } from "./lot.ts";
import { ErrorInfoSchema } from "./report.ts";

/** The execution input the start function builds from a valid manifest. */
export const LotExecutionInputSchema = z.object({
  lotId: LotIdSchema,
  manifestKey: z.string(),
  metadata: LotMetadataSchema,
  images: z.array(ManifestImageSchema).min(1),
});
export type LotExecutionInput = z.infer<typeof LotExecutionInputSchema>;

export const RecordLotInputSchema = LotExecutionInputSchema.extend({
  executionId: z.string(),
  startedAt: z.string(),
});
export type RecordLotInput = z.infer<typeof RecordLotInputSchema>;

export const ImageTaskInputSchema = z.object({
  lotId: LotIdSchema,
  metadata: LotMetadataSchema,
  image: ManifestImageSchema,
});
export type ImageTaskInput = z.infer<typeof ImageTaskInputSchema>;

/**
 * PreprocessImage's verdict on the original: its SHA-256 matches the manifest and its header is a
 * PNG or TIFF within the spec's sizes. Pixels are not decoded here: the endpoint decodes the
 * original once (docs/endpoint-input.md).
 */
export const PreprocessedImageSchema = z.object({
  format: z.enum(["png", "tiff"]),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bitDepth: z.union([z.literal(8), z.literal(16)]),
  /** Size of the original object; over INLINE_IMAGE_MAX_BYTES it goes to the endpoint by S3 reference. */
  bytes: z.number().int().positive(),
});
export type PreprocessedImage = z.infer<typeof PreprocessedImageSchema>;

export const DetectInputSchema = ImageTaskInputSchema.extend({
  preprocessed: PreprocessedImageSchema,
});
export type DetectInput = z.infer<typeof DetectInputSchema>;

/** One Map iteration's result: inspected (result stored in S3) or failed with a reason. */
export const ImageOutcomeSchema = z.discriminatedUnion("status", [
  z.object({
    status: z.enum(["clean", "defects_found"]),
    fileName: z.string(),
    key: z.string(),
    resultKey: z.string(),
    defectCount: z.number().int().nonnegative(),
  }),
  z.object({
    status: z.literal("failed"),
    fileName: z.string(),
    key: z.string(),
    error: ErrorInfoSchema,
  }),
]);
export type ImageOutcome = z.infer<typeof ImageOutcomeSchema>;

export const PublishReportInputSchema = z.object({
  lotId: LotIdSchema,
  executionId: z.string(),
  results: z.array(ImageOutcomeSchema),
});
export type PublishReportInput = z.infer<typeof PublishReportInputSchema>;

/** What a Catch puts at ResultPath: the Step Functions error name and its cause text. */
export const StatesErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

export const FailLotInputSchema = z.object({
  lotId: LotIdSchema,
  executionId: z.string(),
  images: z.array(ManifestImageSchema).optional(),
  error: StatesErrorSchema,
});
export type FailLotInput = z.infer<typeof FailLotInputSchema>;
