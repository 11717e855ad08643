// Lot metadata (the optional lot.json a production-line machine writes) and the lot manifest.
import { z } from "zod";
import { readConfig, wholeNumberVariable } from "../lib/config.ts";
import { ImageContentTypeSchema, LotIdSchema, Sha256HexSchema } from "./common.ts";

/**
 * The spec (docs/wafer-images.md): die pitch 2-10% of the wafer diameter, 200 or 300 mm, so
 * 4-30 mm whatever the diameter; the diameter-relative bound is checked on the whole metadata.
 * Unbounded numbers cost the detector time and memory in proportion (1e8 mm took 54 s).
 */
export const DIE_PITCH_FRACTION = { min: 0.02, max: 0.1 } as const;
export const DIE_PITCH_MM_BOUNDS = { min: 4, max: 30 } as const;
/** Die aspect (x / y) the spec allows on patterned wafers. */
export const DIE_ASPECT_BOUNDS = { min: 0.5, max: 2 } as const;
/**
 * The most images a lot may have as shipped: the largest lot whose Step Functions payloads stay
 * under half of the 256 KiB state limit (test/unit/lot-limit.test.ts runs the lot's ASL at it).
 */
export const SHIPPED_MAX_LOT_IMAGES = 1000;

/**
 * The lot limit in force: SHIPPED_MAX_LOT_IMAGES, or lower where WAFERFLOW_MAX_LOT_IMAGES says so
 * (a site that wants smaller lots; the end-to-end test of the limit runs its lot at a lower one,
 * through the same checks). Never higher: the payloads are sized for the shipped limit.
 */
export function lotImageLimit(env: Record<string, string | undefined> = process.env): number {
  const config = readConfig(
    z.object({ WAFERFLOW_MAX_LOT_IMAGES: wholeNumberVariable(1, SHIPPED_MAX_LOT_IMAGES) }),
    env,
  );
  return config.WAFERFLOW_MAX_LOT_IMAGES ?? SHIPPED_MAX_LOT_IMAGES;
}

/** A manifest lists at most this many images (read once, at load), and file names of at most this many characters. */
export const MAX_LOT_IMAGES = lotImageLimit();
export const MAX_FILE_NAME_LENGTH = 255;

export const DiePitchAxisSchema = z
  .number()
  .min(DIE_PITCH_MM_BOUNDS.min, `die pitch must be at least ${DIE_PITCH_MM_BOUNDS.min} mm`)
  .max(DIE_PITCH_MM_BOUNDS.max, `die pitch must be at most ${DIE_PITCH_MM_BOUNDS.max} mm`);

/** Die pitch in millimetres: one number for square dies, or x/y for rectangular ones. */
export const DiePitchMmSchema = z.union([
  DiePitchAxisSchema,
  z.object({ x: DiePitchAxisSchema, y: DiePitchAxisSchema }),
]);
export type DiePitchMm = z.infer<typeof DiePitchMmSchema>;

const LotMetadataFields = {
  product: z.string().max(200).optional(),
  equipment: z.string().max(200).optional(),
  recipe: z.string().max(200).optional(),
  /** 300 unless the lot says otherwise (docs/wafer-images.md). */
  waferDiameterMm: z.union([z.literal(200), z.literal(300)]).optional(),
  /** Degrees clockwise from the image's +x axis; 90 = bottom. */
  notchAngleDeg: z.number().min(0).lt(360).optional(),
  diePitchMm: DiePitchMmSchema.optional(),
};

/** The diameter-relative bounds of the spec: pitch 2-10% of the diameter (300 mm unless given), aspect 0.5-2. */
function checkPitchAgainstDiameter(
  metadata: { waferDiameterMm?: number; diePitchMm?: DiePitchMm },
  ctx: z.RefinementCtx,
): void {
  const pitch = metadata.diePitchMm;
  if (pitch === undefined) return;
  const diameter = metadata.waferDiameterMm ?? 300;
  const { x, y } = typeof pitch === "number" ? { x: pitch, y: pitch } : pitch;
  const min = DIE_PITCH_FRACTION.min * diameter;
  const max = DIE_PITCH_FRACTION.max * diameter;
  for (const [axis, value] of [
    ["x", x],
    ["y", y],
  ] as const) {
    if (value < min || value > max) {
      ctx.addIssue({
        code: "custom",
        path: typeof pitch === "number" ? ["diePitchMm"] : ["diePitchMm", axis],
        message: `die pitch must be 2-10% of the ${diameter} mm wafer diameter (${min}-${max} mm), got ${value}`,
      });
    }
  }
  const aspect = x / y;
  if (aspect < DIE_ASPECT_BOUNDS.min || aspect > DIE_ASPECT_BOUNDS.max) {
    ctx.addIssue({
      code: "custom",
      path: ["diePitchMm"],
      message: `die aspect x/y must be ${DIE_ASPECT_BOUNDS.min}-${DIE_ASPECT_BOUNDS.max}, got ${aspect}`,
    });
  }
}

export const LotMetadataSchema = z.object(LotMetadataFields).superRefine(checkPitchAgainstDiameter);
export type LotMetadata = z.infer<typeof LotMetadataSchema>;

/** lot.json as dropped next to the images: metadata plus an optional lot id. */
export const LotFileSchema = z
  .object({ ...LotMetadataFields, lotId: LotIdSchema.optional() })
  .strict()
  .superRefine(checkPitchAgainstDiameter);
export type LotFile = z.infer<typeof LotFileSchema>;

/** A file of the lot folder the agent refused to upload, and why: it still belongs in the report. */
export const RejectedFileSchema = z.object({
  fileName: z.string().min(1).max(MAX_FILE_NAME_LENGTH),
  reason: z.string().min(1).max(500),
});
export type RejectedFile = z.infer<typeof RejectedFileSchema>;

export const ManifestImageSchema = z.object({
  fileName: z.string().min(1).max(MAX_FILE_NAME_LENGTH),
  key: z.string().min(1).max(1024),
  sha256: Sha256HexSchema,
  bytes: z.number().int().positive(),
  contentType: ImageContentTypeSchema,
});
export type ManifestImage = z.infer<typeof ManifestImageSchema>;

export const MANIFEST_SCHEMA_VERSION = 1;

export const ManifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  lotId: LotIdSchema,
  createdAt: z.iso.datetime(),
  source: z.object({ agent: z.string(), host: z.string().optional() }),
  metadata: LotMetadataSchema,
  images: z.array(ManifestImageSchema).min(1).max(MAX_LOT_IMAGES),
  /** Files the agent refused (empty, not an image, unsafe name), so the report accounts for them. */
  rejected: z.array(RejectedFileSchema).max(MAX_LOT_IMAGES).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;
