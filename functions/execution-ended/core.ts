// Ends a lot whose execution stopped without the workflow's own Catch (FAILED uncaught, TIMED_OUT, ABORTED).
import { LotIdSchema } from "../../schemas/common.ts";
import {
  EXECUTION_END_STATUSES,
  type ExecutionStatusChangeEvent,
} from "../../schemas/execution-event.ts";
import { ManifestImageSchema } from "../../schemas/lot.ts";
import { InvalidInputError } from "../errors.ts";
import { type FailLotDeps, type FailLotResult, failLot } from "../fail-lot/core.ts";

export type ExecutionEndedResult = FailLotResult | { outcome: "ignored"; reason: string };

/** What Step Functions leaves empty for a stopped or timed-out execution, named for operators. */
const DEFAULT_ERROR: Record<(typeof EXECUTION_END_STATUSES)[number], string> = {
  FAILED: "States.Runtime",
  TIMED_OUT: "States.Timeout",
  ABORTED: "ExecutionAborted",
};

function parsedInput(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The lot an execution ran: the input's lotId, else the execution name (StartLot names it so). */
export function lotIdOf(event: ExecutionStatusChangeEvent): string {
  const fromInput = LotIdSchema.safeParse(parsedInput(event.detail.input).lotId);
  if (fromInput.success) return fromInput.data;
  const fromName = LotIdSchema.safeParse(event.detail.name);
  if (fromName.success) return fromName.data;
  throw new InvalidInputError(
    `execution ${event.detail.executionArn} names no lot: its input has no valid lotId and its name is not a lot id`,
  );
}

export async function executionEnded(
  event: ExecutionStatusChangeEvent,
  deps: Omit<FailLotDeps, "claimant">,
): Promise<ExecutionEndedResult> {
  const { detail } = event;
  const status = detail.status;
  if (!(EXECUTION_END_STATUSES as readonly string[]).includes(status)) {
    return { outcome: "ignored", reason: `status ${status} is not an end without a report` };
  }
  const endStatus = status as (typeof EXECUTION_END_STATUSES)[number];
  const input = parsedInput(detail.input);
  // Whatever the execution input carries to name the lot's images: the list, or the manifest's key.
  const images = ManifestImageSchema.array().safeParse(input.images);
  const manifestKey = typeof input.manifestKey === "string" ? input.manifestKey : undefined;
  return failLot(
    {
      lotId: lotIdOf(event),
      executionId: detail.executionArn,
      ...(images.success ? { images: images.data } : {}),
      ...(manifestKey ? { manifestKey } : {}),
      error: {
        Error: detail.error || DEFAULT_ERROR[endStatus],
        Cause: detail.cause || `execution ${detail.name} ended ${endStatus}`,
      },
    },
    { ...deps, claimant: "execution-status-change" },
  );
}
