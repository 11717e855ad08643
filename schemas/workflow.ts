// Payloads that pass between the lot state machine's states: ids, counts and short error names, never lists of names or traces.
import { z } from "zod";
import { LotIdSchema, Sha256HexSchema } from "./common.ts";
import { LotMetadataSchema, MAX_LOT_IMAGES, ManifestImageSchema } from "./lot.ts";

/**
 * The execution input the start function builds from an accepted manifest: where the manifest
 * is, never its image list (a 1000-image manifest is far over Step Functions' 256 KiB).
 */
export const LotExecutionInputSchema = z.object({
  lotId: LotIdSchema,
  manifestKey: z.string().min(1).max(1024),
});
export type LotExecutionInput = z.infer<typeof LotExecutionInputSchema>;

export const RecordLotInputSchema = LotExecutionInputSchema.extend({
  executionId: z.string(),
  startedAt: z.string(),
});
export type RecordLotInput = z.infer<typeof RecordLotInputSchema>;

/** What RecordLot hands the Map: the manifest's checksum and one small number per image. */
export const RecordLotOutputSchema = z.object({
  manifestSha256: Sha256HexSchema,
  imageCount: z.number().int().positive(),
  rejectedCount: z.number().int().nonnegative(),
  /** 0..imageCount-1: each Map item is one index into the manifest's images. */
  indexes: z.array(z.number().int().nonnegative()).max(MAX_LOT_IMAGES),
});
export type RecordLotOutput = z.infer<typeof RecordLotOutputSchema>;

/** One Map item: which image of which manifest; the iteration reads the rest from S3. */
export const ImageRefSchema = z.object({
  lotId: LotIdSchema,
  manifestKey: z.string().min(1).max(1024),
  manifestSha256: Sha256HexSchema,
  index: z.number().int().nonnegative().lt(MAX_LOT_IMAGES),
});
export type ImageRef = z.infer<typeof ImageRefSchema>;

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
  /** Size of the original object; DetectDefects sends it inline only when configured to and it fits (INLINE_IMAGE_MAX_BYTES). */
  bytes: z.number().int().positive(),
});
export type PreprocessedImage = z.infer<typeof PreprocessedImageSchema>;

/** What PreprocessImage hands DetectDefects: one image (not the lot's list) and its preprocessed copy. */
export const DetectInputSchema = ImageTaskInputSchema.extend({
  index: z.number().int().nonnegative(),
  preprocessed: PreprocessedImageSchema,
});
export type DetectInput = z.infer<typeof DetectInputSchema>;

/** Longest error name that travels between states; the full error is in the logs and in S3. */
export const MAX_TRAVELLING_ERROR_NAME = 64;

/**
 * One Map iteration's result, at most about 100 bytes so 1000 of them stay far below 256 KiB:
 * the index into the manifest, the status, and for a failure only the error's name (the
 * message is kept in the image's result object in S3 by the handler that failed).
 */
export const ImageOutcomeSchema = z.discriminatedUnion("status", [
  z.object({
    index: z.number().int().nonnegative(),
    /** `unusable`: the endpoint's quality gate refused to inspect it; the stored result says why. */
    status: z.enum(["clean", "defects_found", "unusable"]),
    defectCount: z.number().int().nonnegative(),
  }),
  z.object({
    index: z.number().int().nonnegative(),
    status: z.literal("failed"),
    error: z.object({ name: z.string() }),
  }),
]);
export type ImageOutcome = z.infer<typeof ImageOutcomeSchema>;

export const PublishReportInputSchema = z.object({
  lotId: LotIdSchema,
  executionId: z.string(),
  manifestKey: z.string().min(1).max(1024),
  manifestSha256: Sha256HexSchema,
  results: z.array(ImageOutcomeSchema).max(MAX_LOT_IMAGES),
});
export type PublishReportInput = z.infer<typeof PublishReportInputSchema>;

/** What a Catch puts at ResultPath: the Step Functions error name and its cause text. */
export const StatesErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

export const FailLotInputSchema = z.object({
  lotId: LotIdSchema,
  executionId: z.string(),
  manifestKey: z.string().min(1).max(1024).optional(),
  error: StatesErrorSchema,
});
export type FailLotInput = z.infer<typeof FailLotInputSchema>;
