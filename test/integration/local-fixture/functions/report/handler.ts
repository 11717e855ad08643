// Test-only report task: publishes what it got on the report topic, with a subject and attributes.
import { PublishCommand } from "@aws-sdk/client-sns";
import { createSnsClient } from "../../../../../lib/aws.ts";

const sns = createSnsClient();

export async function handler(input: { lotId: string }): Promise<{ messageId: string }> {
  const published = await sns.send(
    new PublishCommand({
      TopicArn: process.env.REPORT_TOPIC_ARN,
      Subject: `Lot ${input.lotId}`,
      Message: JSON.stringify(input),
      MessageAttributes: { lotId: { DataType: "String", StringValue: input.lotId } },
    }),
  );
  return { messageId: published.MessageId ?? "" };
}
