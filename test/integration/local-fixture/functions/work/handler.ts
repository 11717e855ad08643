// Test-only task: records the lot in DynamoDB, or rejects it with a named error, or fails transiently once.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient } from "../../../../../lib/aws.ts";

const documents = createDocumentClient();
const attemptsByLot = new Map<string, number>();

export class LotRejectedError extends Error {
  override name = "LotRejectedError";
}

export class TransientError extends Error {
  override name = "TransientError";
}

interface WorkInput {
  lotId: string;
  reject?: boolean;
  failOnce?: boolean;
}

export async function handler(input: WorkInput): Promise<{ recorded: boolean; attempts: number }> {
  const attempts = (attemptsByLot.get(input.lotId) ?? 0) + 1;
  attemptsByLot.set(input.lotId, attempts);
  if (input.reject) throw new LotRejectedError(`lot ${input.lotId} is rejected`);
  if (input.failOnce && attempts === 1) throw new TransientError("try again");
  await documents.send(
    new PutCommand({
      TableName: process.env.TABLE_NAME,
      Item: { pk: `LOT#${input.lotId}`, sk: "META", gsi1pk: "RECORDED", lotId: input.lotId },
    }),
  );
  return { recorded: true, attempts };
}
