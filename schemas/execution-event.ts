// The EventBridge event Step Functions sends when an execution changes status (as AWS documents it).
import { z } from "zod";

export const EXECUTION_END_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"] as const;

export const ExecutionStatusChangeEventSchema = z.object({
  source: z.literal("aws.states"),
  "detail-type": z.literal("Step Functions Execution Status Change"),
  time: z.string(),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().min(1),
    status: z.enum(["RUNNING", "SUCCEEDED", "PENDING_REDRIVE", ...EXECUTION_END_STATUSES]),
    /** Epoch milliseconds. */
    startDate: z.number(),
    stopDate: z.number().nullable().optional(),
    /** The execution input as JSON text; null when it is over the event's size limit. */
    input: z.string().nullable().optional(),
    error: z.string().nullable().optional(),
    cause: z.string().nullable().optional(),
  }),
});
export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEventSchema>;
