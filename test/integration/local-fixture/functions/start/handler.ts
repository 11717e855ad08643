// Test-only start function: starts one execution per manifest, named after the lot, as the real one does.
import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import { createSfnClient } from "../../../../../lib/aws.ts";

const sfn = createSfnClient();
const stateMachineArn = process.env.STATE_MACHINE_ARN;

interface ObjectCreated {
  "detail-type": string;
  detail: { bucket: { name: string }; object: { key: string; size: number }; reason: string };
}

export async function handler(event: ObjectCreated): Promise<{ executionArn: string }> {
  const lotId = event.detail.object.key.split("/")[1] ?? "missing";
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      name: lotId,
      input: JSON.stringify({ lotId, items: [1, 2, 3], event }),
    }),
  );
  return { executionArn: started.executionArn ?? "" };
}
