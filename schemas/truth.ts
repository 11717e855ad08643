// truth.json: the ground truth that `waferflow fixtures` writes beside each synthetic lot.
import { z } from "zod";
import { BBoxSchema, DefectClassSchema, DieSchema, PointSchema } from "./common.ts";

export const TruthDefectSchema = z.object({
  class: DefectClassSchema.exclude(["unknown"]),
  bbox: BBoxSchema,
  centroidPx: PointSchema,
  waferMm: PointSchema,
  die: DieSchema.nullable(),
  /** Peak contrast as a fraction of full scale (signed: negative = darker). */
  contrast: z.number(),
});
export type TruthDefect = z.infer<typeof TruthDefectSchema>;

export const TruthWaferSchema = z.object({
  fileName: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bitDepth: z.union([z.literal(8), z.literal(16)]),
  format: z.enum(["png", "tiff"]),
  surface: z.enum(["bare", "patterned"]),
  diameterMm: z.union([z.literal(200), z.literal(300)]),
  centerPx: PointSchema,
  radiusPx: z.number().positive(),
  notchAngleDeg: z.number(),
  diePitchPx: PointSchema.nullable(),
  noiseSigma: z.number().nonnegative(),
  defects: z.array(TruthDefectSchema),
  /** Camera and process artefacts drawn on this wafer (synth/artefacts.ts); absent = none. */
  artefacts: z.array(z.string()).optional(),
  /**
   * `unusable`: the image is outside the spec and must be reported unusable, never inspected.
   * Absent = it must be inspected. For `noise` and `checkerboard` the geometry fields describe
   * the wafer that was not drawn.
   */
  expected: z.literal("unusable").optional(),
  outOfSpec: z.string().optional(),
});
export type TruthWafer = z.infer<typeof TruthWaferSchema>;

export const TruthSchema = z.object({
  generator: z.object({ name: z.string(), version: z.string(), seed: z.number().int() }),
  lotId: z.string(),
  wafers: z.array(TruthWaferSchema),
});
export type Truth = z.infer<typeof TruthSchema>;
