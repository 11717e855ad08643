// Resolves the CloudFormation intrinsics template.yaml uses (Ref, GetAtt, Sub, Equals, Not) to local names and ARNs; any other fails, naming where.
import type { Template, TemplateResource } from "../infra/template.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK_NAME, localArn } from "./account.ts";
import { TemplateError } from "./errors.ts";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Where a resource's physical name is declared, for the types whose name the stack uses. */
const NAME_PROPERTY: Record<string, string> = {
  "AWS::S3::Bucket": "BucketName",
  "AWS::DynamoDB::Table": "TableName",
  "AWS::SNS::Topic": "TopicName",
  "AWS::SQS::Queue": "QueueName",
  "AWS::Serverless::Function": "FunctionName",
  "AWS::Serverless::StateMachine": "Name",
};

export class IntrinsicResolver {
  private readonly resolving = new Set<string>();

  private readonly template: Template;

  constructor(template: Template) {
    this.template = template;
  }

  parameter(name: string): string {
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
    }
    if (this.template.Parameters?.[name]) return this.parameter(name);
    const type = this.resource(name).Type;
    if (type === "AWS::SNS::Topic" || type === "AWS::Serverless::StateMachine") {
      return this.attribute(name, "Arn");
    }
    return this.physicalName(name);
  }

  /** The name AWS would give the resource: its declared name, else one derived from its logical id. */
  physicalName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const nameProperty = NAME_PROPERTY[resource.Type];
    const declared = nameProperty ? resource.Properties?.[nameProperty] : undefined;
    if (declared !== undefined) {
      const key = `${logicalId}.name`;
      if (this.resolving.has(key))
        throw new TemplateError(`circular reference while resolving ${key}`);
      this.resolving.add(key);
      try {
        return this.text(declared, `${logicalId}.${nameProperty}`);
      } finally {
        this.resolving.delete(key);
      }
    }
    const derived = `${LOCAL_STACK_NAME}-${logicalId}`;
    return resource.Type === "AWS::S3::Bucket" ? derived.toLowerCase() : derived;
  }

  attribute(logicalId: string, attribute: string): string {
    const type = this.resource(logicalId).Type;
    const name = () => this.physicalName(logicalId);
    switch (`${type}.${attribute}`) {
      case "AWS::S3::Bucket.Arn":
        return localArn("s3", name());
      case "AWS::SNS::Topic.TopicArn":
      case "AWS::SNS::Topic.Arn":
        return localArn("sns", name());
      case "AWS::SQS::Queue.Arn":
        return localArn("sqs", name());
      case "AWS::Serverless::Function.Arn":
        return localArn("lambda", `function:${name()}`);
      case "AWS::Serverless::StateMachine.Arn":
        return localArn("states", `stateMachine:${name()}`);
      case "AWS::SNS::Topic.TopicName":
      case "AWS::SQS::Queue.QueueName":
      case "AWS::Serverless::StateMachine.Name":
        return name();
    }
    // Attributes of account-only resources (keys, roles, log groups, models) never reach code locally.
    if (attribute === "Arn") return localArn("local", logicalId);
    return `${logicalId}.${attribute}`;
  }

  /** Resolves a value and insists it is a string. */
  text(value: unknown, where: string): string {
    const resolved = this.resolve(value, where);
    if (typeof resolved !== "string" && typeof resolved !== "number") {
      throw new TemplateError(`${where}: expected a string, got ${JSON.stringify(resolved)}`);
    }
    return String(resolved);
  }

  resolve(value: unknown, where: string): unknown {
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

  private intrinsic(fn: string, argument: unknown, where: string): unknown {
    const args = (count: number): unknown[] => {
      if (!Array.isArray(argument) || argument.length !== count) {
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
        const parts = typeof argument === "string" ? argument.split(/\.(.*)/s) : args(2);
        return this.attribute(this.text(parts[0], where), this.text(parts[1], where));
      }
      case "Fn::Sub":
        return this.substitute(argument, where);
      case "Fn::Equals": {
        const [left, right] = args(2);
        return (
          JSON.stringify(this.resolve(left, where)) === JSON.stringify(this.resolve(right, where))
        );
      }
      case "Fn::Not":
        return !this.resolve(args(1)[0], where);
      default:
        throw new TemplateError(
          `${where}: the local stack cannot resolve ${fn} (it runs Ref, Fn::GetAtt, Fn::Sub, Fn::Equals, Fn::Not)`,
        );
    }
  }

  private substitute(argument: unknown, where: string): string {
    if (typeof argument !== "string") {
      throw new TemplateError(`${where}: the local stack runs only Fn::Sub with a plain string`);
    }
    return argument.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      if (name.startsWith("!")) return `\${${name.slice(1)}}`;
      if (!name) return whole;
      const dot = name.indexOf(".");
      if (dot > 0 && !name.startsWith("AWS::")) {
        return this.attribute(name.slice(0, dot), name.slice(dot + 1));
      }
      return this.ref(name);
    });
  }
}
