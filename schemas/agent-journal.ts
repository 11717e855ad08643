// The edge agent's per-lot journal on local disk: what it has sent, so a restart resumes instead of redoing.
import { z } from "zod";
import { ImageContentTypeSchema, LotIdSchema, Sha256HexSchema } from "./common.ts";

export const JournalPartSchema = z.object({
  partNumber: z.number().int().min(1).max(10_000),
  etag: z.string().min(1),
  bytes: z.number().int().positive(),
});
export type JournalPart = z.infer<typeof JournalPartSchema>;

export const JournalMultipartSchema = z.object({
  uploadId: z.string().min(1),
  /** Part boundaries depend on it: a different part size means starting over. */
  partSizeBytes: z.number().int().positive(),
  parts: z.array(JournalPartSchema),
});
export type JournalMultipart = z.infer<typeof JournalMultipartSchema>;

export const JournalFileSchema = z.object({
  key: z.string().min(1),
  sha256: Sha256HexSchema,
  bytes: z.number().int().positive(),
  mtimeMs: z.number(),
  contentType: ImageContentTypeSchema,
  /** True once S3 confirmed the object (size and sha256 metadata). */
  done: z.boolean(),
  multipart: JournalMultipartSchema.optional(),
});
export type JournalFile = z.infer<typeof JournalFileSchema>;

export const AgentJournalSchema = z.object({
  journalVersion: z.literal(1),
  /** Absolute path of the lot directory the journal belongs to. */
  dir: z.string(),
  lotId: LotIdSchema,
  lotIdSource: z.enum(["lot.json", "generated"]),
  bucket: z.string(),
  startedAt: z.iso.datetime(),
  /** Keyed by the file name as found in the lot directory. */
  files: z.record(z.string(), JournalFileSchema),
  /** Set once the manifest is in S3; the lot is then finished. */
  manifest: z
    .object({ key: z.string(), createdAt: z.iso.datetime(), sha256: Sha256HexSchema })
    .optional(),
});
export type AgentJournal = z.infer<typeof AgentJournalSchema>;
