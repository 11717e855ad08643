// Turns template.yaml into the concrete local resources (names, ARNs, handlers, rules), resolving intrinsics.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Template, TemplateResource } from "../infra/template.ts";
import { SubstitutionError, substitute } from "../statemachine/definition.ts";
import { TemplateError } from "./errors.ts";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_STACK_NAME = "local";

/** Resource types the local stack builds, or that only matter to a real account (keys, roles, logs). */
const HANDLED_TYPES = new Set([
  "AWS::S3::Bucket",
  "AWS::DynamoDB::Table",
  "AWS::SNS::Topic",
  "AWS::Serverless::Function",
  "AWS::Serverless::StateMachine",
  "AWS::Events::Rule",
  "AWS::SageMaker::Endpoint",
  "AWS::SageMaker::EndpointConfig",
  "AWS::SageMaker::Model",
  "AWS::Serverless::LayerVersion",
  "AWS::S3::BucketPolicy",
  "AWS::SNS::Subscription",
  "AWS::SNS::TopicPolicy",
  "AWS::KMS::Key",
  "AWS::KMS::Alias",
  "AWS::IAM::Role",
  "AWS::IAM::Policy",
  "AWS::IAM::ManagedPolicy",
  "AWS::Logs::LogGroup",
  "AWS::CloudWatch::Alarm",
  "AWS::CloudWatch::Dashboard",
  "AWS::SQS::QueuePolicy",
  "AWS::ApplicationAutoScaling::ScalableTarget",
  "AWS::ApplicationAutoScaling::ScalingPolicy",
  "AWS::RolesAnywhere::TrustAnchor",
  "AWS::RolesAnywhere::Profile",
]);

/** Lambda's runtime owns these; copying them from the template into our process would misconfigure it. */
const RUNTIME_ONLY_VARIABLES = new Set(["NODE_OPTIONS"]);

export interface LocalBucket {
  logicalId: string;
  name: string;
  /** S3 sends a bucket's events to EventBridge only when its notification configuration says so. */
  eventBridgeEnabled: boolean;
}

export interface LocalTable {
  logicalId: string;
  name: string;
  properties: Record<string, unknown>;
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
}

export interface LocalStateMachine {
  logicalId: string;
  name: string;
  arn: string;
  /** The definition exactly as AWS would run it: DefinitionSubstitutions already applied. */
  definition: Record<string, unknown>;
}

/** A SAM `Schedule` event: EventBridge invokes the function every `rateSeconds`. */
export interface LocalSchedule {
  id: string;
  rateSeconds: number;
  targetFunction: string;
}

/** `rate(15 minutes)` in seconds; cron expressions are not emulated (the template uses none). */
export function scheduleRateSeconds(expression: string, where: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match)
    throw new TemplateError(`${where}: only rate(N minutes|hours|days) schedules run locally`);
  const unit = match[2]?.startsWith("minute") ? 60 : match[2]?.startsWith("hour") ? 3600 : 86400;
  return Number(match[1]) * unit;
}

export interface LocalEventRule {
  /** "<function logical id>.<event name>" for SAM events, the rule's logical id otherwise. */
  id: string;
  pattern: Record<string, unknown>;
  targetFunction: string;
}

export interface LocalModel {
  templateDir: string;
  /** Deployed resources the local stack does not emulate and that are not mere infrastructure. */
  notEmulated: string[];
  buckets: LocalBucket[];
  tables: LocalTable[];
  topics: LocalTopic[];
  functions: LocalFunction[];
  stateMachines: LocalStateMachine[];
  eventRules: LocalEventRule[];
  schedules: LocalSchedule[];
  endpointName: string;
  /** Every function's configuration variables, merged: all handlers share this one process. */
  functionEnvironment: Record<string, string>;
}

type Json = unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Resolves CloudFormation intrinsic functions to the names and ARNs the local stack uses. */
export class IntrinsicResolver {
  private readonly resolving = new Set<string>();

  constructor(
    private readonly template: Template,
    private readonly parameterOverrides: Record<string, string> = {},
  ) {}

  parameter(name: string): string {
    const override = this.parameterOverrides[name];
    if (override !== undefined) return override;
    const declared = this.template.Parameters?.[name];
    if (!declared) throw new TemplateError(`template has no parameter '${name}'`);
    if (declared.Default === undefined) {
      throw new TemplateError(`parameter '${name}' has no Default, which the local stack needs`);
    }
    return String(declared.Default);
  }

  resource(logicalId: string): TemplateResource {
    const found = this.template.Resources[logicalId];
    if (!found) throw new TemplateError(`template has no resource '${logicalId}'`);
    return found;
  }

  condition(name: string): boolean {
    const expression = this.template.Conditions?.[name];
    if (expression === undefined) throw new TemplateError(`template has no condition '${name}'`);
    return Boolean(this.resolve(expression, `Conditions.${name}`));
  }

  isDeployed(logicalId: string): boolean {
    const condition = this.resource(logicalId).Condition;
    return condition === undefined || this.condition(condition);
  }

  ref(name: string): string {
    switch (name) {
      case "AWS::Region":
        return LOCAL_REGION;
      case "AWS::AccountId":
        return LOCAL_ACCOUNT;
      case "AWS::StackName":
        return LOCAL_STACK_NAME;
      case "AWS::Partition":
        return "aws";
      case "AWS::URLSuffix":
        return "amazonaws.com";
      case "AWS::StackId":
        return `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stack/${LOCAL_STACK_NAME}/local`;
      case "AWS::NoValue":
        return "";
    }
    if (this.template.Parameters?.[name]) return this.parameter(name);
    const resource = this.resource(name);
    switch (resource.Type) {
      case "AWS::SNS::Topic":
      case "AWS::Serverless::StateMachine":
      case "AWS::StepFunctions::StateMachine":
      case "AWS::SageMaker::Endpoint":
        return this.attribute(name, "Arn");
      case "AWS::KMS::Key":
        return `00000000-0000-0000-0000-${name.toLowerCase().padEnd(12, "0").slice(0, 12)}`;
      default:
        return this.physicalName(name);
    }
  }

  /** The name AWS would give the resource: its declared name, else one derived from its logical id. */
  physicalName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const nameProperty = {
      "AWS::S3::Bucket": "BucketName",
      "AWS::DynamoDB::Table": "TableName",
      "AWS::SNS::Topic": "TopicName",
      "AWS::Serverless::Function": "FunctionName",
      "AWS::Lambda::Function": "FunctionName",
      "AWS::Serverless::StateMachine": "Name",
      "AWS::StepFunctions::StateMachine": "StateMachineName",
      "AWS::Logs::LogGroup": "LogGroupName",
      "AWS::SageMaker::Endpoint": "EndpointName",
    }[resource.Type];
    const declared = nameProperty ? resource.Properties?.[nameProperty] : undefined;
    if (declared !== undefined) {
      return this.guarded(`${logicalId}.name`, () =>
        this.text(declared, `${logicalId}.${nameProperty}`),
      );
    }
    const derived = `${LOCAL_STACK_NAME}-${logicalId}`;
    return resource.Type === "AWS::S3::Bucket" ? derived.toLowerCase() : derived;
  }

  attribute(logicalId: string, attribute: string): string {
    const resource = this.resource(logicalId);
    const region = LOCAL_REGION;
    const account = LOCAL_ACCOUNT;
    const name = () => this.physicalName(logicalId);
    switch (`${resource.Type}.${attribute}`) {
      case "AWS::S3::Bucket.Arn":
        return `arn:aws:s3:::${name()}`;
      case "AWS::DynamoDB::Table.Arn":
        return `arn:aws:dynamodb:${region}:${account}:table/${name()}`;
      case "AWS::SNS::Topic.TopicArn":
      case "AWS::SNS::Topic.Arn":
        return `arn:aws:sns:${region}:${account}:${name()}`;
      case "AWS::SNS::Topic.TopicName":
        return name();
      case "AWS::Serverless::Function.Arn":
      case "AWS::Lambda::Function.Arn":
        return `arn:aws:lambda:${region}:${account}:function:${name()}`;
      case "AWS::Serverless::StateMachine.Arn":
      case "AWS::StepFunctions::StateMachine.Arn":
        return `arn:aws:states:${region}:${account}:stateMachine:${name()}`;
      case "AWS::Serverless::StateMachine.Name":
      case "AWS::StepFunctions::StateMachine.Name":
        return name();
      case "AWS::KMS::Key.Arn":
        return `arn:aws:kms:${region}:${account}:key/${this.ref(logicalId)}`;
      case "AWS::KMS::Key.KeyId":
        return this.ref(logicalId);
      case "AWS::Logs::LogGroup.Arn":
        return `arn:aws:logs:${region}:${account}:log-group:${name()}:*`;
      case "AWS::SageMaker::Endpoint.Arn":
        return `arn:aws:sagemaker:${region}:${account}:endpoint/${name()}`;
      case "AWS::SageMaker::Endpoint.EndpointName":
        return name();
    }
    if (attribute === "Arn") return `arn:aws:local:${region}:${account}:${logicalId}`;
    return `${logicalId}.${attribute}`;
  }

  /** Resolves a value and insists it is a string. */
  text(value: Json, where: string): string {
    const resolved = this.resolve(value, where);
    if (typeof resolved !== "string" && typeof resolved !== "number") {
      throw new TemplateError(`${where}: expected a string, got ${JSON.stringify(resolved)}`);
    }
    return String(resolved);
  }

  resolve(value: Json, where: string): Json {
    if (Array.isArray(value)) return value.map((item, i) => this.resolve(item, `${where}[${i}]`));
    if (!isRecord(value)) return value;
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0] : undefined;
    if (only === "Ref" || only?.startsWith("Fn::") || only === "Condition") {
      return this.intrinsic(only, value[only], where);
    }
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, this.resolve(item, `${where}.${key}`)]),
    );
  }

  private guarded<T>(key: string, compute: () => T): T {
    if (this.resolving.has(key)) {
      throw new TemplateError(`circular reference while resolving ${key}`);
    }
    this.resolving.add(key);
    try {
      return compute();
    } finally {
      this.resolving.delete(key);
    }
  }

  private intrinsic(fn: string, argument: Json, where: string): Json {
    const args = (count: number): Json[] => {
      if (!Array.isArray(argument) || argument.length < count) {
        throw new TemplateError(`${where}: ${fn} needs a list of ${count} arguments`);
      }
      return argument;
    };
    switch (fn) {
      case "Ref":
        return this.ref(this.text(argument, where));
      case "Condition":
        return this.condition(this.text(argument, where));
      case "Fn::GetAtt": {
        const parts =
          typeof argument === "string" ? argument.split(/\.(.*)/s) : (args(2) as Json[]);
        return this.attribute(this.text(parts[0], where), this.text(parts[1], where));
      }
      case "Fn::Sub":
        return this.substitute(argument, where);
      case "Fn::Join": {
        const [separator, items] = args(2);
        const list = this.resolve(items, where);
        if (!Array.isArray(list)) throw new TemplateError(`${where}: Fn::Join needs a list`);
        return list.map(String).join(String(separator));
      }
      case "Fn::Select": {
        const [index, items] = args(2);
        const list = this.resolve(items, where);
        const i = Number(this.resolve(index, where));
        if (!Array.isArray(list) || list[i] === undefined) {
          throw new TemplateError(`${where}: Fn::Select index ${i} is out of range`);
        }
        return list[i];
      }
      case "Fn::Split": {
        const [separator, source] = args(2);
        return this.text(source, where).split(String(separator));
      }
      case "Fn::If": {
        const [condition, whenTrue, whenFalse] = args(3);
        return this.condition(this.text(condition, where))
          ? this.resolve(whenTrue, where)
          : this.resolve(whenFalse, where);
      }
      case "Fn::Equals": {
        const [left, right] = args(2);
        return (
          JSON.stringify(this.resolve(left, where)) === JSON.stringify(this.resolve(right, where))
        );
      }
      case "Fn::Not":
        return !this.resolve(args(1)[0], where);
      case "Fn::And":
        return (argument as Json[]).every((item) => Boolean(this.resolve(item, where)));
      case "Fn::Or":
        return (argument as Json[]).some((item) => Boolean(this.resolve(item, where)));
      case "Fn::FindInMap": {
        const [map, first, second] = args(3).map((item) => this.text(item, where));
        const mappings = (this.template as { Mappings?: Record<string, unknown> }).Mappings;
        const found = (mappings?.[map ?? ""] as Record<string, Record<string, Json>> | undefined)?.[
          first ?? ""
        ]?.[second ?? ""];
        if (found === undefined) {
          throw new TemplateError(
            `${where}: Fn::FindInMap found nothing at ${map}/${first}/${second}`,
          );
        }
        return found;
      }
      case "Fn::GetAZs":
        return [`${LOCAL_REGION}a`, `${LOCAL_REGION}b`, `${LOCAL_REGION}c`];
      case "Fn::Base64":
        return Buffer.from(this.text(argument, where)).toString("base64");
      default:
        throw new TemplateError(`${where}: the local stack cannot resolve ${fn}`);
    }
  }

  private substitute(argument: Json, where: string): string {
    const [pattern, variables] = Array.isArray(argument) ? argument : [argument, {}];
    if (typeof pattern !== "string") throw new TemplateError(`${where}: Fn::Sub needs a string`);
    const local = isRecord(variables) ? variables : {};
    return pattern.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      if (name.startsWith("!")) return `\${${name.slice(1)}}`;
      if (name in local) return this.text(local[name], `${where}.${name}`);
      const dot = name.indexOf(".");
      if (dot > 0 && !name.startsWith("AWS::")) {
        return this.attribute(name.slice(0, dot), name.slice(dot + 1));
      }
      if (!name) return whole;
      return this.ref(name);
    });
  }
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new TemplateError(`${where}: expected a mapping`);
  return value;
}

function resourcesOfType(template: Template, resolver: IntrinsicResolver, ...types: string[]) {
  return Object.entries(template.Resources).filter(
    ([logicalId, resource]) => types.includes(resource.Type) && resolver.isDeployed(logicalId),
  );
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

/**
 * Where a SAM function's code lives: an esbuild entry point when the template names one
 * (Metadata.BuildProperties.EntryPoints), else the handler file under CodeUri.
 */
function functionModule(
  templateDir: string,
  logicalId: string,
  properties: Record<string, unknown>,
  resource: TemplateResource,
  globals: Record<string, unknown>,
): { modulePath: string; exportName: string } {
  const handler = String(properties.Handler ?? globals.Handler ?? "");
  const dot = handler.lastIndexOf(".");
  if (dot <= 0) {
    throw new TemplateError(`${logicalId}: Handler '${handler}' is not of the form file.export`);
  }
  const exportName = handler.slice(dot + 1);
  const codeUri = String(properties.CodeUri ?? globals.CodeUri ?? ".");
  const buildProperties = (resource.Metadata?.BuildProperties ?? {}) as { EntryPoints?: unknown };
  const entryPoint = Array.isArray(buildProperties.EntryPoints)
    ? buildProperties.EntryPoints[0]
    : undefined;
  const candidates =
    typeof entryPoint === "string"
      ? [resolve(templateDir, codeUri, entryPoint)]
      : [".ts", ".mts", ".js", ".mjs"].map((extension) =>
          resolve(templateDir, codeUri, `${handler.slice(0, dot)}${extension}`),
        );
  const modulePath = candidates.find((candidate) => existsSync(candidate)) ?? candidates[0];
  if (!modulePath) throw new TemplateError(`${logicalId}: cannot tell where its code is`);
  return { modulePath, exportName };
}

function applySubstitutions(
  value: unknown,
  substitutions: Record<string, string>,
  where: string,
): unknown {
  try {
    return substitute(value, substitutions);
  } catch (cause) {
    if (!(cause instanceof SubstitutionError)) throw cause;
    throw new TemplateError(`${where}: ${cause.message}`, { cause });
  }
}

function loadDefinition(
  templateDir: string,
  logicalId: string,
  properties: Record<string, unknown>,
  resolver: IntrinsicResolver,
): Record<string, unknown> {
  const where = `${logicalId}.Properties`;
  let raw: unknown = properties.Definition;
  if (raw === undefined) {
    const uri = properties.DefinitionUri;
    if (typeof uri !== "string") {
      throw new TemplateError(`${where}: needs Definition or a local DefinitionUri path`);
    }
    const path = resolve(templateDir, uri);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (cause) {
      throw new TemplateError(`${where}.DefinitionUri: cannot read ${path}`, { cause });
    }
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      throw new TemplateError(`${where}.DefinitionUri: ${path} is not valid JSON`, { cause });
    }
  }
  const substitutions = properties.DefinitionSubstitutions
    ? asRecord(
        resolver.resolve(properties.DefinitionSubstitutions, `${where}.DefinitionSubstitutions`),
        `${where}.DefinitionSubstitutions`,
      )
    : {};
  const asText = Object.fromEntries(
    Object.entries(substitutions).map(([key, value]) => [key, String(value)]),
  );
  return asRecord(applySubstitutions(raw, asText, `${logicalId} definition`), where);
}

/** Queues named only as dead-letter targets of functions (DeadLetterQueue) or their rules (DeadLetterConfig). */
function deadLetterQueuesOf(template: Template): Set<string> {
  const queueOf = (arn: unknown): string | undefined => {
    const getAtt = isRecord(arn) ? arn["Fn::GetAtt"] : undefined;
    return Array.isArray(getAtt) && typeof getAtt[0] === "string" ? getAtt[0] : undefined;
  };
  const found = new Set<string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== "AWS::Serverless::Function") continue;
    const properties = resource.Properties ?? {};
    const direct = queueOf((properties.DeadLetterQueue as { TargetArn?: unknown })?.TargetArn);
    if (direct) found.add(direct);
    for (const event of Object.values((properties.Events ?? {}) as Record<string, unknown>)) {
      const config = (event as { Properties?: { DeadLetterConfig?: { Arn?: unknown } } }).Properties
        ?.DeadLetterConfig;
      const queue = queueOf(config?.Arn);
      if (queue) found.add(queue);
    }
  }
  for (const id of found) {
    if (template.Resources[id]?.Type !== "AWS::SQS::Queue") found.delete(id);
  }
  return found;
}

export function buildLocalModel(
  template: Template,
  templatePath: string,
  parameterOverrides: Record<string, string> = {},
): LocalModel {
  const templateDir = dirname(resolve(templatePath));
  const resolver = new IntrinsicResolver(template, parameterOverrides);
  const globals = (template.Globals?.Function ?? {}) as Record<string, unknown>;
  const globalEnvironment = environmentOf(resolver, globals, "Globals.Function.Environment");

  const buckets = resourcesOfType(template, resolver, "AWS::S3::Bucket").map(
    ([logicalId, resource]) => {
      const notifications = resolver.resolve(
        resource.Properties?.NotificationConfiguration ?? {},
        `${logicalId}.NotificationConfiguration`,
      ) as { EventBridgeConfiguration?: { EventBridgeEnabled?: unknown } };
      const enabled = notifications.EventBridgeConfiguration?.EventBridgeEnabled;
      return {
        logicalId,
        name: resolver.physicalName(logicalId),
        eventBridgeEnabled: enabled === true || enabled === "true",
      };
    },
  );
  const tables = resourcesOfType(template, resolver, "AWS::DynamoDB::Table").map(
    ([logicalId, resource]) => ({
      logicalId,
      name: resolver.physicalName(logicalId),
      properties: asRecord(
        resolver.resolve(resource.Properties ?? {}, `${logicalId}.Properties`),
        `${logicalId}.Properties`,
      ),
    }),
  );
  const topics = resourcesOfType(template, resolver, "AWS::SNS::Topic").map(([logicalId]) => ({
    logicalId,
    name: resolver.physicalName(logicalId),
    arn: resolver.attribute(logicalId, "TopicArn"),
  }));

  const functions: LocalFunction[] = [];
  const eventRules: LocalEventRule[] = [];
  const schedules: LocalSchedule[] = [];
  const unsupportedEvents: string[] = [];
  for (const [logicalId, resource] of resourcesOfType(
    template,
    resolver,
    "AWS::Serverless::Function",
  )) {
    const properties = resource.Properties ?? {};
    const environment = {
      ...globalEnvironment,
      ...environmentOf(resolver, properties, `${logicalId}.Environment`),
    };
    functions.push({
      logicalId,
      name: resolver.physicalName(logicalId),
      arn: resolver.attribute(logicalId, "Arn"),
      ...functionModule(templateDir, logicalId, properties, resource, globals),
      timeoutSeconds: Number(properties.Timeout ?? globals.Timeout ?? 3),
      memorySizeMb: Number(properties.MemorySize ?? globals.MemorySize ?? 128),
      environment,
    });
    for (const [eventName, event] of Object.entries(
      (properties.Events ?? {}) as Record<string, { Type?: string; Properties?: unknown }>,
    )) {
      if (event.Type === "Schedule") {
        const where = `${logicalId}.Events.${eventName}`;
        const expression = asRecord(event.Properties ?? {}, where).Schedule;
        schedules.push({
          id: `${logicalId}.${eventName}`,
          rateSeconds: scheduleRateSeconds(String(expression), where),
          targetFunction: logicalId,
        });
        continue;
      }
      if (event.Type !== "EventBridgeRule" && event.Type !== "CloudWatchEvent") {
        unsupportedEvents.push(`${logicalId}.Events.${eventName} (${event.Type})`);
        continue;
      }
      const where = `${logicalId}.Events.${eventName}`;
      const eventProperties = asRecord(event.Properties ?? {}, where);
      eventRules.push({
        id: `${logicalId}.${eventName}`,
        pattern: asRecord(resolver.resolve(eventProperties.Pattern, `${where}.Pattern`), where),
        targetFunction: logicalId,
      });
    }
  }
  for (const [logicalId, resource] of resourcesOfType(template, resolver, "AWS::Events::Rule")) {
    const properties = asRecord(
      resolver.resolve(resource.Properties ?? {}, `${logicalId}.Properties`),
      logicalId,
    );
    for (const target of (properties.Targets ?? []) as Array<{ Arn?: string }>) {
      const targetFunction = functions.find((fn) => fn.arn === target.Arn);
      if (targetFunction && properties.EventPattern) {
        eventRules.push({
          id: logicalId,
          pattern: asRecord(properties.EventPattern, `${logicalId}.EventPattern`),
          targetFunction: targetFunction.logicalId,
        });
      }
    }
  }

  const stateMachines = resourcesOfType(template, resolver, "AWS::Serverless::StateMachine").map(
    ([logicalId, resource]) => ({
      logicalId,
      name: resolver.physicalName(logicalId),
      arn: resolver.attribute(logicalId, "Arn"),
      definition: loadDefinition(templateDir, logicalId, resource.Properties ?? {}, resolver),
    }),
  );

  const endpointName = template.Parameters?.EndpointName
    ? resolver.parameter("EndpointName")
    : (resourcesOfType(template, resolver, "AWS::SageMaker::Endpoint").map(([logicalId]) =>
        resolver.physicalName(logicalId),
      )[0] ?? "");
  if (!endpointName) {
    throw new TemplateError("template names no SageMaker endpoint: add an EndpointName parameter");
  }

  const functionEnvironment: Record<string, string> = {};
  const firstSetBy: Record<string, string> = {};
  for (const fn of functions) {
    for (const [key, value] of Object.entries(fn.environment)) {
      if (RUNTIME_ONLY_VARIABLES.has(key)) continue;
      const previous = functionEnvironment[key];
      if (previous !== undefined && previous !== value) {
        throw new TemplateError(
          `environment variable ${key} is '${previous}' in ${firstSetBy[key]} but '${value}' in ${fn.logicalId}; locally all handlers share one process, so it must agree`,
        );
      }
      functionEnvironment[key] = value;
      firstSetBy[key] = fn.logicalId;
    }
  }

  // A queue that only receives dead letters needs no emulation: locally the trigger logs a delivery that gives up.
  const deadLetterQueues = deadLetterQueuesOf(template);
  const notEmulated = Object.entries(template.Resources)
    .filter(
      ([logicalId, resource]) =>
        !HANDLED_TYPES.has(resource.Type) &&
        !deadLetterQueues.has(logicalId) &&
        resolver.isDeployed(logicalId),
    )
    .map(([logicalId, resource]) => `${logicalId} (${resource.Type})`)
    .concat(unsupportedEvents);

  return {
    templateDir,
    notEmulated,
    buckets,
    tables,
    topics,
    functions,
    stateMachines,
    eventRules,
    schedules,
    endpointName,
    functionEnvironment,
  };
}
