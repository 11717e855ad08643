// cdk-nag on the included template: the packs that run, and the findings accepted on purpose, each with its reason.
import type { CfnInclude } from "aws-cdk-lib/cloudformation-include";
import { type App, type Stack, Validations } from "aws-cdk-lib/core";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

/** Runs AWS Solutions and Serverless on everything the app synthesises; errors fail the synth. */
export function addNagPacks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  Validations.of(app).addPlugins(new ServerlessChecks(app));
}

const DEAD_LETTER_QUEUE =
  "This queue is itself a dead-letter queue: of the EventBridge rules and the alert e-mail subscription (TriggerDeadLetterQueue) or of the functions' asynchronous invocations (AsyncInvokeDeadLetterQueue). cdk-nag only recognises SQS-to-SQS redrive; a dead-letter queue of a dead-letter queue would hide messages, and the DeadLetterQueue alarms watch it instead.";

/** Findings on template resources that are accepted, with the reason (cdk-nag v3: one per finding id). */
const ACCEPTED: Record<string, Array<{ id: string; reason: string }>> = {
  LotBucket: [
    {
      id: "AwsSolutions-S1",
      reason:
        "Object access is audited with CloudTrail S3 data events on the lots/ prefix (docs/deploy.md), not with server access logs, which would need a second bucket that cannot use the KMS key (access-log delivery supports SSE-S3 only).",
    },
  ],
  TriggerDeadLetterQueue: [
    { id: "AwsSolutions-SQS3", reason: DEAD_LETTER_QUEUE },
    { id: "Serverless-SQSRedrivePolicy", reason: DEAD_LETTER_QUEUE },
  ],
  AsyncInvokeDeadLetterQueue: [
    { id: "AwsSolutions-SQS3", reason: DEAD_LETTER_QUEUE },
    { id: "Serverless-SQSRedrivePolicy", reason: DEAD_LETTER_QUEUE },
  ],
  DetectorModelRole: [
    {
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "ecr:GetAuthorizationToken has no resource-level permissions; it is the only action on '*'.",
    },
    {
      id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*]",
      reason:
        "The model image is a parameter (ModelImageUri, or a CDK image asset in the bootstrap repository); image pulls are limited to this account's repositories in this region.",
    },
    {
      id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/<EndpointName>:*]",
      reason:
        "The endpoint's own log group; SageMaker creates one log stream per instance, named at run time.",
    },
    {
      id: "AwsSolutions-IAM5[Resource::<LotBucket.Arn>/lots/*/images/*]",
      reason:
        "Images over SageMaker's 6 MB request limit arrive as S3 references: the container may read lot originals (any lot id, any file name), nothing else in the bucket.",
    },
  ],
  EdgeAgentRole: [
    {
      id: "AwsSolutions-IAM5[Resource::<LotBucket.Arn>/lots/*]",
      reason:
        "The edge agent uploads lots under lots/<lotId>/ with ids it chooses; the wildcard is the lots/ prefix and nothing else (no quarantine/, no other bucket).",
    },
  ],
};

/** The template's ModelImageUri default is empty on purpose: it means "use an existing endpoint". */
const CFN_VALIDATE_ACCEPTED = {
  id: "CloudFormation-Validate::W1030",
  reason:
    "DetectorModel is created only under the CreateEndpoint condition, i.e. when ModelImageUri is not empty; the empty default selects an existing endpoint instead.",
};

export function acknowledgeAcceptedFindings(stack: Stack, template: CfnInclude): void {
  for (const [logicalId, findings] of Object.entries(ACCEPTED)) {
    let resource: IConstruct;
    try {
      resource = template.getResource(logicalId);
    } catch {
      continue;
    }
    for (const finding of findings) Validations.of(resource).acknowledge(finding);
  }
  Validations.of(stack).acknowledge(CFN_VALIDATE_ACCEPTED);
}
