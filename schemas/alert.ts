// Operator alerts published on the alert topic: a quarantined manifest, a failed lot, or a lot stuck in processing.
import { z } from "zod";

export const AlertSchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.enum(["manifest_quarantined", "lot_failed", "lot_stuck"]),
  at: z.iso.datetime(),
  lotId: z.string().optional(),
  message: z.string(),
  /** Where the evidence is kept (quarantined manifest or failed report). */
  key: z.string().optional(),
  problems: z.array(z.string()).optional(),
});
export type Alert = z.infer<typeof AlertSchema>;
