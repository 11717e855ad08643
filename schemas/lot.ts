// Lot metadata (the optional lot.json a production-line machine writes) and the lot manifest.
import { z } from "zod";
import { ImageContentTypeSchema, LotIdSchema, Sha256HexSchema } from "./common.ts";

/** Die pitch in millimetres: one number for square dies, or x/y for rectangular ones. */
export const DiePitchMmSchema = z.union([
  z.number().positive(),
  z.object({ x: z.number().positive(), y: z.number().positive() }),
]);
export type DiePitchMm = z.infer<typeof DiePitchMmSchema>;

export const LotMetadataSchema = z.object({
  product: z.string().max(200).optional(),
  equipment: z.string().max(200).optional(),
  recipe: z.string().max(200).optional(),
  /** 300 unless the lot says otherwise (docs/wafer-images.md). */
  waferDiameterMm: z.union([z.literal(200), z.literal(300)]).optional(),
  /** Degrees clockwise from the image's +x axis; 90 = bottom. */
  notchAngleDeg: z.number().min(0).lt(360).optional(),
  diePitchMm: DiePitchMmSchema.optional(),
});
export type LotMetadata = z.infer<typeof LotMetadataSchema>;

/** lot.json as dropped next to the images: metadata plus an optional lot id. */
export const LotFileSchema = LotMetadataSchema.extend({ lotId: LotIdSchema.optional() }).strict();
export type LotFile = z.infer<typeof LotFileSchema>;

export const ManifestImageSchema = z.object({
  fileName: z.string().min(1).max(255),
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
  images: z.array(ManifestImageSchema).min(1).max(1000),
});
export type Manifest = z.infer<typeof ManifestSchema>;
