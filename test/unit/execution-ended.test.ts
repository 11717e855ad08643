// Which lot an ended execution names, and which ends the status-change function leaves alone.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { executionEnded, lotIdOf } from "../../functions/execution-ended/core.ts";
import type { FailLotDeps } from "../../functions/fail-lot/core.ts";
import {
  type ExecutionStatusChangeEvent,
  ExecutionStatusChangeEventSchema,
} from "../../schemas/execution-event.ts";

const event = (detail: Partial<ExecutionStatusChangeEvent["detail"]>): ExecutionStatusChangeEvent =>
  ExecutionStatusChangeEventSchema.parse({
    source: "aws.states",
    "detail-type": "Step Functions Execution Status Change",
    time: "2026-11-26T07:00:05Z",
    detail: {
      executionArn: "arn:aws:states:us-east-1:123456789012:execution:lots:RUN-7",
      stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:lots",
      name: "RUN-7",
      status: "FAILED",
      startDate: 1_764_140_400_000,
      stopDate: 1_764_140_405_000,
      input: null,
      error: null,
      cause: null,
      ...detail,
    },
  });

/** Dependencies that must not be touched: any use is a test failure. */
const untouchable = new Proxy({} as FailLotDeps, {
  get(_target, property) {
    throw new Error(`dependency ${String(property)} used`);
  },
});

describe("lotIdOf", () => {
  it("takes the lot id from the execution input first (a re-run may have another name)", () => {
    assert.equal(lotIdOf(event({ input: '{"lotId":"LOT-9","images":[]}' })), "LOT-9");
  });

  it("falls back to the execution name, which StartLot sets to the lot id", () => {
    assert.equal(lotIdOf(event({ input: "not json" })), "RUN-7");
    assert.equal(lotIdOf(event({ input: '{"lotId":"../x"}' })), "RUN-7");
  });

  it("refuses an execution that names no lot, with its ARN", () => {
    assert.throws(
      () => lotIdOf(event({ name: "a b", input: "{}" })),
      (error: Error) =>
        error.name === "InvalidInputError" && error.message.includes("execution:lots:RUN-7"),
    );
  });
});

describe("executionEnded", () => {
  it("leaves executions that did not end without a report alone, touching nothing", async () => {
    for (const status of ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"] as const) {
      const result = await executionEnded(event({ status }), untouchable);
      assert.equal(result.outcome, "ignored", status);
    }
  });

  it("refuses an event that is not a Step Functions status change", () => {
    const parsed = ExecutionStatusChangeEventSchema.safeParse({
      source: "aws.s3",
      "detail-type": "Object Created",
      detail: {},
    });
    assert.equal(parsed.success, false);
  });
});
