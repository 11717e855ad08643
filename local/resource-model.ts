// Turns template.yaml into the local stack's one resource model: the names, ARNs, handlers, rules and schedules of what it runs.
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Template, TemplateResource } from "../infra/template.ts";
import { loadDefinition, SubstitutionError } from "../statemachine/definition.ts";
import { localArn } from "./account.ts";
import { TemplateError } from "./errors.ts";
import { IntrinsicResolver, isRecord } from "./intrinsics.ts";
import { unsupportedParts } from "./template-support.ts";

export { LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK_NAME } from "./account.ts";

/** Lambda's runtime owns these; copying them from the template into our process would misconfigure it. */
const RUNTIME_ONLY_VARIABLES = new Set(["NODE_OPTIONS"]);

export interface LocalBucket {
  logicalId: string;
  name: string;
  /** S3 sends a bucket's events to EventBridge only when its notification configuration says so. */
  eventBridgeEnabled: boolean;
  /** The bucket's default encryption when it is SSE-KMS (BucketEncryption): the key's ARN, and whether an S3 Bucket Key is used. */
  defaultKms?: BucketKms;
}

/** SSE-KMS default encryption, as S3 reports it on each object answer. */
export interface BucketKms {
  keyArn: string;
  bucketKeyEnabled: boolean;
}

export interface LocalTable {
  logicalId: string;
  name: string;
  keySchema: Array<{ AttributeName: string; KeyType: "HASH" | "RANGE" }>;
  attributeDefinitions: Array<{ AttributeName: string; AttributeType: "S" | "N" | "B" }>;
}

export interface LocalTopic {
  logicalId: string;
  name: string;
  arn: string;
}

export interface LocalFunction {
  logicalId: string;
  name: string;
  arn: string;
  modulePath: string;
  exportName: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  environment: Record<string, string>;
  /** How Lambda handles a failed asynchronous invocation (EventBridge invokes asynchronously): `EventInvokeConfig` and `DeadLetterQueue`. */
  asyncInvoke: DeliveryLimits;
}

/** How Lambda retries a failed asynchronous invocation, and where the event goes once given up on. */
export interface DeliveryLimits {
  /** Retries after the first attempt. */
  maximumRetryAttempts: number;
  /** An event older than this is not tried again. */
  maximumEventAgeSeconds: number;
  /** The queue an event goes to when it is given up on; none: it is dropped, logged. */
  deadLetterQueue?: string;
}

export interface LocalStateMachine {
  logicalId: string;
  name: string;
  arn: string;
  /** The role executions run as (the context object and DescribeStateMachine show it). */
  roleArn: string;
  /** The definition exactly as AWS would run it: DefinitionSubstitutions already applied. */
  definition: Record<string, unknown>;
}

/** A SAM `Schedule` event: EventBridge invokes the function every `rateSeconds`. */
export interface LocalSchedule {
  id: string;
  rateSeconds: number;
  targetFunction: string;
}

/**
 * A rule's `RetryPolicy` and `DeadLetterConfig` are not kept: they govern EventBridge handing the
 * event to Lambda's asynchronous queue, which fails on AWS only when Lambda throttles or is down;
 * here that hand-over is a function call. The function's `asyncInvoke` decides what a failing
 * handler gets.
 */
export interface LocalEventRule {
  /** "<function logical id>.<event name>". */
  id: string;
  pattern: Record<string, unknown>;
  targetFunction: string;
}

export interface LocalModel {
  templateDir: string;
  buckets: LocalBucket[];
  tables: LocalTable[];
  topics: LocalTopic[];
  functions: LocalFunction[];
  stateMachines: LocalStateMachine[];
  eventRules: LocalEventRule[];
  schedules: LocalSchedule[];
  endpointName: string;
  /** The template's Outputs, resolved as CloudFormation shows them after a deploy. */
  outputs: Record<string, string>;
  /** Every function's configuration variables, merged: all handlers share this one process. */
  functionEnvironment: Record<string, string>;
}

/** `rate(15 minutes)` in seconds; cron expressions are not emulated (the template uses none). */
export function scheduleRateSeconds(expression: string, where: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match)
    throw new TemplateError(`${where}: only rate(N minutes|hours|days) schedules run locally`);
  const unit = match[2]?.startsWith("minute") ? 60 : match[2]?.startsWith("hour") ? 3600 : 86400;
  return Number(match[1]) * unit;
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new TemplateError(`${where}: expected a mapping`);
  return value;
}

function environmentOf(
  resolver: IntrinsicResolver,
  properties: Record<string, unknown> | undefined,
  where: string,
): Record<string, string> {
  const variables = (properties?.Environment as { Variables?: unknown } | undefined)?.Variables;
  if (variables === undefined) return {};
  const resolved = asRecord(resolver.resolve(variables, where), where);
  return Object.fromEntries(Object.entries(resolved).map(([key, value]) => [key, String(value)]));
}

/** A function's TypeScript entry point: the esbuild entry the template builds it from (Metadata.BuildProperties.EntryPoints). */
function functionModule(
  templateDir: string,
  logicalId: string,
  properties: Record<string, unknown>,
  resource: TemplateResource,
): { modulePath: string; exportName: string } {
  const handler = String(properties.Handler ?? "");
  const dot = handler.lastIndexOf(".");
  if (dot <= 0) {
    throw new TemplateError(`${logicalId}: Handler '${handler}' is not of the form file.export`);
  }
  const entryPoints = (resource.Metadata?.BuildProperties as { EntryPoints?: unknown } | undefined)
    ?.EntryPoints;
  const entryPoint = Array.isArray(entryPoints) ? entryPoints[0] : undefined;
  if (typeof entryPoint !== "string") {
    throw new TemplateError(
      `${logicalId}: needs Metadata.BuildProperties.EntryPoints (the local stack runs the esbuild entry point)`,
    );
  }
  const modulePath = resolve(templateDir, String(properties.CodeUri ?? "."), entryPoint);
  if (!existsSync(modulePath)) {
    throw new TemplateError(`${logicalId}: its entry point ${modulePath} does not exist`);
  }
  return { modulePath, exportName: handler.slice(dot + 1) };
}

/** The state machine's definition file with its DefinitionSubstitutions applied, as AWS runs it. */
function definitionOf(
  templateDir: string,
  logicalId: string,
  properties: Record<string, unknown>,
  resolver: IntrinsicResolver,
): Record<string, unknown> {
  const where = `${logicalId}.Properties`;
  const uri = properties.DefinitionUri;
  if (typeof uri !== "string") {
    throw new TemplateError(`${where}: needs a local DefinitionUri path`);
  }
  const path = resolve(templateDir, uri);
  const substitutions = asRecord(
    resolver.resolve(properties.DefinitionSubstitutions ?? {}, `${where}.DefinitionSubstitutions`),
    `${where}.DefinitionSubstitutions`,
  );
  const values = Object.entries(substitutions).map(([key, value]) => [key, String(value)]);
  let definition: unknown;
  try {
    definition = loadDefinition(Object.fromEntries(values), path);
  } catch (cause) {
    const what = cause instanceof SubstitutionError ? cause.message : `cannot read ${path} as JSON`;
    throw new TemplateError(`${logicalId} definition: ${what}`, { cause });
  }
  return asRecord(definition, where);
}

/** All handlers share this process's environment, so every variable must mean one thing. */
function mergedEnvironment(functions: LocalFunction[]): Record<string, string> {
  const merged: Record<string, string> = {};
  const firstSetBy: Record<string, string> = {};
  for (const fn of functions) {
    for (const [key, value] of Object.entries(fn.environment)) {
      if (RUNTIME_ONLY_VARIABLES.has(key)) continue;
      const previous = merged[key];
      if (previous !== undefined && previous !== value) {
        throw new TemplateError(
          `environment variable ${key} is '${previous}' in ${firstSetBy[key]} but '${value}' in ${fn.logicalId}; locally all handlers share one process, so it must agree`,
        );
      }
      merged[key] = value;
      firstSetBy[key] = fn.logicalId;
    }
  }
  return merged;
}

/** The queue name at the end of an SQS ARN (`arn:aws:sqs:region:account:name`). */
function queueName(arn: unknown, where: string): string | undefined {
  if (arn === undefined) return undefined;
  const name = typeof arn === "string" && arn.startsWith("arn:aws:sqs:") ? arn.split(":")[5] : "";
  if (!name) throw new TemplateError(`${where}: '${String(arn)}' is not an SQS queue ARN`);
  return name;
}

/**
 * A function's asynchronous-invocation settings (EventBridge invokes asynchronously): 0-2 retries
 * and an event age of 60 s-6 h, both maxima being the defaults, and an SQS dead-letter queue. Anything
 * else fails the start, naming the field.
 */
function asyncInvokeOf(
  resolver: IntrinsicResolver,
  properties: Record<string, unknown>,
  globals: Record<string, unknown>,
  logicalId: string,
): DeliveryLimits {
  const where = `${logicalId}.EventInvokeConfig`;
  const config = asRecord(
    resolver.resolve(properties.EventInvokeConfig ?? globals.EventInvokeConfig ?? {}, where),
    where,
  );
  const bounded = (field: string, min: number, max: number) => {
    const value = config[field];
    const number = value === undefined ? max : Number(value);
    if (!Number.isInteger(number) || number < min || number > max) {
      throw new TemplateError(
        `${where}.${field}: ${String(value)} is not a whole number from ${min} to ${max}`,
      );
    }
    return number;
  };
  const deadLetter = resolver.resolve(
    properties.DeadLetterQueue ?? globals.DeadLetterQueue,
    `${logicalId}.DeadLetterQueue`,
  ) as { Type?: unknown; TargetArn?: unknown } | undefined;
  if (deadLetter && deadLetter.Type !== "SQS") {
    throw new TemplateError(
      `${logicalId}.DeadLetterQueue: Type ${String(deadLetter.Type)} (only SQS runs)`,
    );
  }
  const queue = queueName(deadLetter?.TargetArn, `${logicalId}.DeadLetterQueue.TargetArn`);
  return {
    maximumRetryAttempts: bounded("MaximumRetryAttempts", 0, 2),
    maximumEventAgeSeconds: bounded("MaximumEventAgeInSeconds", 60, 21_600),
    ...(queue ? { deadLetterQueue: queue } : {}),
  };
}

export function buildLocalModel(template: Template, templatePath: string): LocalModel {
  const templateDir = dirname(resolve(templatePath));
  const resolver = new IntrinsicResolver(template);
  const unsupported = unsupportedParts(template, resolver);
  if (unsupported.length > 0) {
    throw new TemplateError(
      `the local stack cannot run these parts of ${templatePath}:\n  ${unsupported.join("\n  ")}`,
    );
  }
  const deployed = (type: string) =>
    Object.entries(template.Resources).filter(
      ([logicalId, resource]) => resource.Type === type && resolver.isDeployed(logicalId),
    );
  const propertiesOf = (logicalId: string, resource: TemplateResource) =>
    asRecord(
      resolver.resolve(resource.Properties ?? {}, `${logicalId}.Properties`),
      `${logicalId}.Properties`,
    );

  const buckets = deployed("AWS::S3::Bucket").map(([logicalId, resource]) => {
    const notifications = propertiesOf(logicalId, resource).NotificationConfiguration as
      | { EventBridgeConfiguration?: { EventBridgeEnabled?: unknown } }
      | undefined;
    const enabled = notifications?.EventBridgeConfiguration?.EventBridgeEnabled;
    const defaultKms = bucketKms(propertiesOf(logicalId, resource).BucketEncryption);
    return {
      logicalId,
      name: resolver.physicalName(logicalId),
      eventBridgeEnabled: enabled === true || enabled === "true",
      ...(defaultKms ? { defaultKms } : {}),
    };
  });
  const tables = deployed("AWS::DynamoDB::Table").map(([logicalId, resource]) => {
    const properties = propertiesOf(logicalId, resource);
    if (!Array.isArray(properties.KeySchema) || !Array.isArray(properties.AttributeDefinitions)) {
      throw new TemplateError(`${logicalId}: needs KeySchema and AttributeDefinitions`);
    }
    return {
      logicalId,
      name: resolver.physicalName(logicalId),
      keySchema: properties.KeySchema as LocalTable["keySchema"],
      attributeDefinitions: properties.AttributeDefinitions as LocalTable["attributeDefinitions"],
    };
  });
  const topics = deployed("AWS::SNS::Topic").map(([logicalId]) => ({
    logicalId,
    name: resolver.physicalName(logicalId),
    arn: resolver.attribute(logicalId, "TopicArn"),
  }));

  const globals = (template.Globals?.Function ?? {}) as Record<string, unknown>;
  const globalEnvironment = environmentOf(resolver, globals, "Globals.Function.Environment");
  const functions: LocalFunction[] = [];
  const eventRules: LocalEventRule[] = [];
  const schedules: LocalSchedule[] = [];
  for (const [logicalId, resource] of deployed("AWS::Serverless::Function")) {
    const properties = resource.Properties ?? {};
    functions.push({
      logicalId,
      name: resolver.physicalName(logicalId),
      arn: resolver.attribute(logicalId, "Arn"),
      ...functionModule(templateDir, logicalId, properties, resource),
      timeoutSeconds: Number(properties.Timeout ?? globals.Timeout ?? 3),
      memorySizeMb: Number(properties.MemorySize ?? globals.MemorySize ?? 128),
      environment: {
        ...globalEnvironment,
        ...environmentOf(resolver, properties, `${logicalId}.Environment`),
      },
      asyncInvoke: asyncInvokeOf(resolver, properties, globals, logicalId),
    });
    const events = (properties.Events ?? {}) as Record<
      string,
      { Type?: string; Properties?: unknown }
    >;
    for (const [eventName, event] of Object.entries(events)) {
      const id = `${logicalId}.${eventName}`;
      const eventProperties = asRecord(resolver.resolve(event.Properties ?? {}, id), id);
      if (event.Type === "Schedule") {
        const rateSeconds = scheduleRateSeconds(String(eventProperties.Schedule), id);
        schedules.push({ id, rateSeconds, targetFunction: logicalId });
      } else {
        const pattern = asRecord(eventProperties.Pattern, `${id}.Pattern`);
        eventRules.push({ id, pattern, targetFunction: logicalId });
      }
    }
  }

  const stateMachines = deployed("AWS::Serverless::StateMachine").map(([logicalId, resource]) => {
    const name = resolver.physicalName(logicalId);
    return {
      logicalId,
      name,
      arn: resolver.attribute(logicalId, "Arn"),
      roleArn: localArn("iam", `role/${name}-role`),
      definition: definitionOf(templateDir, logicalId, resource.Properties ?? {}, resolver),
    };
  });

  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    const { Condition: condition, Value: value } = asRecord(output, `Outputs.${name}`);
    if (typeof condition === "string" && !resolver.condition(condition)) continue;
    outputs[name] = resolver.text(value, `Outputs.${name}.Value`);
  }

  return {
    templateDir,
    buckets,
    tables,
    topics,
    functions,
    stateMachines,
    eventRules,
    schedules,
    endpointName: resolver.parameter("EndpointName"),
    outputs,
    functionEnvironment: mergedEnvironment(functions),
  };
}

/**
 * A bucket's SSE-KMS default encryption from its resolved BucketEncryption, or undefined for any
 * other (none, SSE-S3). A key given by id (a Ref to the template's key) becomes its local ARN.
 */
function bucketKms(encryption: unknown): BucketKms | undefined {
  const rules = isRecord(encryption) ? encryption.ServerSideEncryptionConfiguration : undefined;
  const rule = Array.isArray(rules) ? (rules[0] as unknown) : undefined;
  if (!isRecord(rule) || !isRecord(rule.ServerSideEncryptionByDefault)) return undefined;
  const { SSEAlgorithm, KMSMasterKeyID } = rule.ServerSideEncryptionByDefault;
  if (SSEAlgorithm !== "aws:kms" && SSEAlgorithm !== "aws:kms:dsse") return undefined;
  const key =
    typeof KMSMasterKeyID === "string" && KMSMasterKeyID ? KMSMasterKeyID : "alias/aws/s3";
  return {
    keyArn: key.startsWith("arn:")
      ? key
      : localArn("kms", key.startsWith("alias/") ? key : `key/${key}`),
    bucketKeyEnabled: rule.BucketKeyEnabled === true || rule.BucketKeyEnabled === "true",
  };
}
