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

export const InvocationResponseSchema = z.object({
  model: ModelInfoSchema,
  wafer: WaferSchema,
  defects: z.array(DefectSchema),
  timingMs: z.record(z.string(), z.number()).optional(),
});
export type InvocationResponse = z.infer<typeof InvocationResponseSchema>;

/** Optional hints, sent as X-Amzn-SageMaker-Custom-Attributes `key=value` pairs. */
export const DetectionHintsSchema = z.object({
  notchAngleDeg: z.number().min(0).lt(360).optional(),
  waferDiameterMm: z.union([z.literal(200), z.literal(300)]).optional(),
  /** Die pitch in millimetres (x and y), within the spec's bounds (schemas/lot.ts). */
  diePitchMm: z.object({ x: DiePitchAxisSchema, y: DiePitchAxisSchema }).optional(),
});
export type DetectionHints = z.infer<typeof DetectionHintsSchema>;
