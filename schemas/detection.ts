// What the model endpoint answers for one image: the wafer it found and the defects on it.
import { z } from "zod";
import { BBoxSchema, DefectClassSchema, DieSchema, PointSchema } from "./common.ts";
import { DiePitchAxisSchema } from "./lot.ts";

export const DefectSchema = z.object({
  class: DefectClassSchema,
  score: z.number().min(0).max(1),
  bbox: BBoxSchema,
  /** Pixel centroid in the image the endpoint received. */
  centroidPx: PointSchema,
  areaPx: z.number().nonnegative(),
  /** Millimetres from the wafer centre, x right, y up, notch rotated to the bottom (SEMI). */
  waferMm: PointSchema,
  /** Die on patterned wafers; null on bare ones or outside the die grid. */
  die: DieSchema.nullable(),
});
export type Defect = z.infer<typeof DefectSchema>;

export const WaferSchema = z.object({
  imageWidth: z.number().int().positive(),
  imageHeight: z.number().int().positive(),
  centerPx: PointSchema,
  radiusPx: z.number().positive(),
  diameterMm: z.number().positive(),
  mmPerPx: z.number().positive(),
  notchAngleDeg: z.number(),
  notchSource: z.enum(["metadata", "detected"]),
  surface: z.enum(["bare", "patterned"]),
  /** Die pitch in pixels along the die grid's axes; null on bare wafers. */
  diePitchPx: PointSchema.nullable(),
  /** Noise sigma measured on the wafer, as a fraction of full scale. */
  noiseSigma: z.number().nonnegative(),
  /** Mean wafer level, as a fraction of full scale. */
  waferLevel: z.number(),
});
export type Wafer = z.infer<typeof WaferSchema>;

export const ModelInfoSchema = z.object({ name: z.string(), version: z.string() });
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

/** One measure of the image-quality gate that fell outside the spec, with its limit and why. */
export const QualityReasonSchema = z.object({
  measure: z.string(),
  /** The measured value (null when it could not be measured, e.g. no disk to measure on). */
  value: z.number().nullable(),
  limit: z.number(),
  unit: z.string(),
  message: z.string(),
});
export type QualityReason = z.infer<typeof QualityReasonSchema>;

/** What the gate measured before detection (endpoint/quality/); `reasons` is empty when in spec. */
export const QualitySchema = z.object({
  /** Sensor noise sigma on the wafer, fraction of full scale. */
  noiseSigma: z.number().nonnegative(),
  /** Rim edge spread as a Gaussian sigma, in px of a 2048 px frame; null without a disk. */
  blurSigmaPx2048: z.number().nonnegative().nullable(),
  /** Share of the wafer area at the top / bottom code (0-1). */
  saturatedFraction: z.number().min(0).max(1),
  blackFraction: z.number().min(0).max(1),
  /** Wafer minus chuck level, fraction of full scale (absolute). */
  chuckContrast: z.number().nonnegative(),
  /** RMS radial distance of rim points from the fitted circle, fraction of its radius. */
  rimResidual: z.number().nonnegative().nullable(),
  /** Fitted diameter / the frame's shorter side. */
  diameterFraction: z.number().nonnegative().nullable(),
  /** Fitted centre's distance from the frame centre / the shorter side. */
  centreOffsetFraction: z.number().nonnegative().nullable(),
  /** Share of the fitted disk with the wafer's brightness (a wafer is one surface). */
  waferInterior: z.number().min(0).max(1).nullable(),
  /** Isolated single-pixel outliers (hot or dead pixels) replaced before detection. */
  hotPixelsRemoved: z.number().int().nonnegative(),
  reasons: z.array(QualityReasonSchema),
});
export type Quality = z.infer<typeof QualitySchema>;

/** Largest preview or overlay side a request may ask for (custom attributes `preview_px`, `overlay_px`). */
export const PREVIEW_MAX_SIDE_LIMIT = 2048;

/**
 * A small picture of the image the endpoint decoded (docs/endpoint-input.md), sent only when the
 * request asks for one: the raster alone (`preview_px=<side>`) or the operator's overlay drawn on
 * it (`overlay_px=<side>`: defects boxed and labelled, the notch marked), so the pipeline decodes
 * each wafer once. At most 2048 px on a side: a few hundred kB of base64 at most, far inside
 * SageMaker's 6 MB response limit.
 */
export const PictureSchema = z.object({
  format: z.literal("webp"),
  width: z.number().int().positive().max(PREVIEW_MAX_SIDE_LIMIT),
  height: z.number().int().positive().max(PREVIEW_MAX_SIDE_LIMIT),
  /** The WebP file, base64. */
  data: z.base64().max(4_000_000),
});
export type Picture = z.infer<typeof PictureSchema>;
/** The answer's `preview`: the picture without marks. */
export const PreviewSchema = PictureSchema;
export type Preview = Picture;

/** The wafer was inspected: what was found on it (status and quality may be absent from older models). */
export const InvocationResponseSchema = z.object({
  status: z.literal("inspected").optional(),
  model: ModelInfoSchema,
  wafer: WaferSchema,
  defects: z.array(DefectSchema),
  quality: QualitySchema.optional(),
  /** Present when the request asked for it (custom attribute preview_px). */
  preview: PreviewSchema.optional(),
  /** The operator's overlay, present when the request asked for it (custom attribute overlay_px). */
  overlay: PictureSchema.optional(),
  timingMs: z.record(z.string(), z.number()).optional(),
});
export type InvocationResponse = z.infer<typeof InvocationResponseSchema>;

/** The image cannot be inspected (docs/wafer-images.md): never a clean wafer. Answered with 200. */
export const UnusableResponseSchema = z.object({
  status: z.literal("unusable"),
  model: ModelInfoSchema,
  quality: QualitySchema,
  defects: z.array(DefectSchema).max(0),
  timingMs: z.record(z.string(), z.number()).optional(),
});

/** Everything the endpoint answers with 200: an inspected wafer or an unusable image. */
export const EndpointAnswerSchema = z.union([UnusableResponseSchema, InvocationResponseSchema]);
export type EndpointAnswer = z.infer<typeof EndpointAnswerSchema>;
export type UnusableResponse = z.infer<typeof UnusableResponseSchema>;

/** Optional hints, sent as X-Amzn-SageMaker-Custom-Attributes `key=value` pairs. */
export const DetectionHintsSchema = z.object({
  notchAngleDeg: z.number().min(0).lt(360).optional(),
  waferDiameterMm: z.union([z.literal(200), z.literal(300)]).optional(),
  /** Die pitch in millimetres (x and y), within the spec's bounds (schemas/lot.ts). */
  diePitchMm: z.object({ x: DiePitchAxisSchema, y: DiePitchAxisSchema }).optional(),
});
export type DetectionHints = z.infer<typeof DetectionHintsSchema>;

/**
 * SageMaker's InvokeEndpoint takes at most 6 MB per request body. An image up to this size is
 * sent as it is (its own bytes, image/png or image/tiff); a larger one as an ImageReference.
 * 6,000,000 bytes stays under the limit whether "6 MB" means 10^6 or 2^20 bytes.
 */
export const INLINE_IMAGE_MAX_BYTES = 6_000_000;

/** Content type of a request that names its image in S3 instead of carrying it. */
export const IMAGE_REFERENCE_CONTENT_TYPE = "application/json";

/** An image the endpoint reads from S3 itself: the original bytes, checked against their SHA-256. */
export const ImageReferenceSchema = z.strictObject({
  s3Uri: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, "s3://<bucket>/<key>"),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits")
    .optional(),
});
export type ImageReference = z.infer<typeof ImageReferenceSchema>;
