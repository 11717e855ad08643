// Test-only function for a rule that matches objects in any bucket: tells the alert topic which object it saw.
import { PublishCommand } from "@aws-sdk/client-sns";
import { createSnsClient } from "../../../../../lib/aws.ts";

const sns = createSnsClient();

export async function handler(event: {
  detail: { bucket: { name: string }; object: { key: string } };
}): Promise<void> {
  await sns.send(
    new PublishCommand({
      TopicArn: process.env.ALERT_TOPIC_ARN,
      Message: `${event.detail.bucket.name}/${event.detail.object.key}`,
    }),
  );
}
