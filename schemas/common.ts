// Building blocks shared by every waferflow schema: ids, pixel boxes, defect classes.
import { z } from "zod";

/** A lot id is also the Step Functions execution name, so it obeys that name's rules. */
export const LotIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/,
    "lot id must be 1-80 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
  )
  .refine((id) => !id.includes(".."), "lot id must not contain '..'");

export const DEFECT_CLASSES = [
  "particle",
  "scratch",
  "void",
  "stain",
  "edge_chip",
  "unknown",
] as const;
export const DefectClassSchema = z.enum(DEFECT_CLASSES);
export type DefectClass = z.infer<typeof DefectClassSchema>;

/** Pixel box, origin at the image's top-left corner. */
export const BBoxSchema = z.object({
  x: z.number().int().nonnegative(),
  y: z.number().int().nonnegative(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
export type BBox = z.infer<typeof BBoxSchema>;

export const PointSchema = z.object({ x: z.number(), y: z.number() });
export type Point = z.infer<typeof PointSchema>;

/** Die index on a patterned wafer; see docs/wafer-images.md for the convention. */
export const DieSchema = z.object({ row: z.number().int(), col: z.number().int() });
export type Die = z.infer<typeof DieSchema>;

export const Sha256HexSchema = z
  .string()
  .regex(/^[a-f0-9]{64}$/, "sha256 must be 64 lowercase hex digits");

export const IMAGE_CONTENT_TYPES = ["image/png", "image/tiff"] as const;
export const ImageContentTypeSchema = z.enum(IMAGE_CONTENT_TYPES);
export type ImageContentType = z.infer<typeof ImageContentTypeSchema>;
