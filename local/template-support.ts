// What of template.yaml the local stack runs: every deployed resource type, property, event source and pattern operator it does not know fails the start, named.
import type { Template } from "../infra/template.ts";
import { type IntrinsicResolver, isRecord } from "./intrinsics.ts";

const names = (list: string) => list.split(" ");

/** Properties the local stack honours, or that only change what a real account does (keys, policies, logs, tracing). */
const FUNCTION_PROPERTIES = names(
  "Description CodeUri Handler Runtime Architectures MemorySize Timeout Tracing LoggingConfig Environment Layers Policies DeadLetterQueue EventInvokeConfig Events",
);

/** The resource types the local stack runs, each with the properties it accepts. */
const RUNS: Record<string, string[]> = {
  "AWS::S3::Bucket": names(
    "BucketName NotificationConfiguration BucketEncryption PublicAccessBlockConfiguration OwnershipControls VersioningConfiguration LifecycleConfiguration",
  ),
  "AWS::DynamoDB::Table": names(
    "TableName BillingMode AttributeDefinitions KeySchema SSESpecification PointInTimeRecoverySpecification",
  ),
  "AWS::SNS::Topic": names("TopicName KmsMasterKeyId"),
  "AWS::Serverless::Function": FUNCTION_PROPERTIES,
  "AWS::Serverless::StateMachine": names(
    "Name Type DefinitionUri DefinitionSubstitutions Tracing Logging Policies",
  ),
};

/**
 * Types that only matter to a real account: the local stack deploys nothing for them. The
 * SageMaker endpoint is the model server started under the EndpointName parameter; the sharp
 * layer is node_modules; dead-letter queues are folders of the data dir (local/trigger.ts).
 */
const ACCOUNT_ONLY = new Set(
  names(
    "AWS::KMS::Key AWS::IAM::Role AWS::Logs::LogGroup AWS::CloudWatch::Alarm AWS::S3::BucketPolicy AWS::SNS::TopicPolicy AWS::SQS::QueuePolicy AWS::Serverless::LayerVersion AWS::SageMaker::Model AWS::SageMaker::EndpointConfig AWS::SageMaker::Endpoint AWS::ApplicationAutoScaling::ScalableTarget AWS::ApplicationAutoScaling::ScalingPolicy AWS::RolesAnywhere::TrustAnchor AWS::RolesAnywhere::Profile",
  ),
);

const EVENT_PROPERTIES: Record<string, string[]> = {
  EventBridgeRule: names("Pattern RetryPolicy DeadLetterConfig"),
  Schedule: names("Schedule"),
};

/** Queues a function or its rule names as where undeliverable events go. */
function deadLetterQueues(template: Template): Set<string> {
  const queueOf = (arn: unknown): string | undefined => {
    const getAtt = isRecord(arn) ? arn["Fn::GetAtt"] : undefined;
    return Array.isArray(getAtt) && typeof getAtt[0] === "string" ? getAtt[0] : undefined;
  };
  const found = new Set<string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== "AWS::Serverless::Function") continue;
    const properties = resource.Properties ?? {};
    found.add(queueOf((properties.DeadLetterQueue as { TargetArn?: unknown })?.TargetArn) ?? "");
    for (const event of Object.values((properties.Events ?? {}) as Record<string, unknown>)) {
      const config = (event as { Properties?: { DeadLetterConfig?: { Arn?: unknown } } }).Properties
        ?.DeadLetterConfig;
      found.add(queueOf(config?.Arn) ?? "");
    }
  }
  return found;
}

/** What an EventBridge pattern asks beyond exact values and `wildcard`, which is all the local matcher does. */
export function patternProblems(pattern: unknown, where: string): string[] {
  if (!isRecord(pattern)) return [`${where}: a pattern must be a mapping`];
  return Object.entries(pattern).flatMap(([field, expected]) => {
    if (isRecord(expected)) return patternProblems(expected, `${where}.${field}`);
    if (!Array.isArray(expected)) return [`${where}.${field}: a pattern value must be a list`];
    return expected.flatMap((filter) => {
      if (!isRecord(filter)) return [];
      const operators = Object.keys(filter);
      return operators.length === 1 && operators[0] === "wildcard"
        ? []
        : [
            `${where}.${field}: operator ${operators.join(", ")} (only exact values and wildcard run)`,
          ];
    });
  });
}

function unknownProperties(
  where: string,
  properties: Record<string, unknown> | undefined,
  allowed: string[],
): string[] {
  return Object.keys(properties ?? {})
    .filter((property) => !allowed.includes(property))
    .map((property) => `${where}: property ${property}`);
}

function functionProblems(
  logicalId: string,
  properties: Record<string, unknown>,
  resolver: IntrinsicResolver,
): string[] {
  const problems: string[] = [];
  const events = (properties.Events ?? {}) as Record<
    string,
    { Type?: string; Properties?: unknown }
  >;
  for (const [name, event] of Object.entries(events)) {
    const where = `${logicalId}.Events.${name}`;
    const allowed = EVENT_PROPERTIES[event.Type ?? ""];
    if (!allowed) {
      problems.push(`${where}: event source ${event.Type}`);
      continue;
    }
    const eventProperties = isRecord(event.Properties) ? event.Properties : {};
    problems.push(...unknownProperties(where, eventProperties, allowed));
    if (event.Type === "EventBridgeRule") {
      const pattern = resolver.resolve(eventProperties.Pattern, `${where}.Pattern`);
      problems.push(...patternProblems(pattern, `${where}.Pattern`));
    }
  }
  return problems;
}

/** Everything deployed by default that the local stack cannot run, each naming its logical id and what. */
export function unsupportedParts(template: Template, resolver: IntrinsicResolver): string[] {
  const problems = unknownProperties(
    "Globals.Function",
    template.Globals?.Function as Record<string, unknown> | undefined,
    FUNCTION_PROPERTIES,
  );
  const queues = deadLetterQueues(template);
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (!resolver.isDeployed(logicalId)) continue;
    const properties = resource.Properties ?? {};
    const allowed = RUNS[resource.Type];
    if (allowed) {
      problems.push(...unknownProperties(logicalId, properties, allowed));
      if (resource.Type === "AWS::Serverless::Function") {
        problems.push(...functionProblems(logicalId, properties, resolver));
      }
      if (
        resource.Type === "AWS::Serverless::StateMachine" &&
        (properties.Type ?? "STANDARD") !== "STANDARD"
      ) {
        problems.push(
          `${logicalId}: state machine Type ${String(properties.Type)} (only STANDARD runs)`,
        );
      }
    } else if (resource.Type === "AWS::SQS::Queue") {
      if (!queues.has(logicalId))
        problems.push(`${logicalId}: an SQS queue that is not a dead-letter queue`);
    } else if (resource.Type === "AWS::SNS::Subscription") {
      if (properties.Protocol !== "email") {
        problems.push(`${logicalId}: SNS subscription of protocol ${String(properties.Protocol)}`);
      }
    } else if (!ACCOUNT_ONLY.has(resource.Type)) {
      problems.push(`${logicalId}: resource type ${resource.Type}`);
    }
  }
  return problems;
}
