// How the local stack reads template.yaml: intrinsics, names and ARNs, handler modules, substitutions, and what it refuses to run.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, it } from "vitest";
import { loadTemplate, parseTemplate, TEMPLATE_PATH } from "../../infra/template.ts";
import { TemplateError } from "../../local/errors.ts";
import { IntrinsicResolver } from "../../local/intrinsics.ts";
import { buildLocalModel } from "../../local/resource-model.ts";

describe("IntrinsicResolver", () => {
  const template = parseTemplate(`
Parameters:
  Stage: { Type: String, Default: dev }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Equals [!Ref Stage, prod]]
Resources:
  Bucket: { Type: AWS::S3::Bucket, Properties: { BucketName: !Sub "data-\${Stage}-\${AWS::AccountId}" } }
  Topic: { Type: AWS::SNS::Topic }
  Machine: { Type: AWS::Serverless::StateMachine, Properties: { Name: machine } }
  Fn: { Type: AWS::Serverless::Function, Properties: { FunctionName: my-fn } }
`);
  const resolver = new IntrinsicResolver(template);

  it("resolves Ref, GetAtt and Sub to local names and ARNs", () => {
    assert.equal(resolver.resolve({ Ref: "Bucket" }, "t"), "data-dev-000000000000");
    assert.equal(
      resolver.resolve({ "Fn::GetAtt": ["Bucket", "Arn"] }, "t"),
      "arn:aws:s3:::data-dev-000000000000",
    );
    assert.equal(
      resolver.resolve({ Ref: "Topic" }, "t"),
      "arn:aws:sns:us-east-1:000000000000:local-Topic",
    );
    assert.equal(
      resolver.resolve({ Ref: "Machine" }, "t"),
      "arn:aws:states:us-east-1:000000000000:stateMachine:machine",
    );
    assert.equal(
      resolver.resolve({ "Fn::GetAtt": ["Fn", "Arn"] }, "t"),
      "arn:aws:lambda:us-east-1:000000000000:function:my-fn",
    );
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation/SAM placeholder syntax, not a JS template
      resolver.resolve({ "Fn::Sub": "${Bucket.Arn}/*-${!Literal}" }, "t"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation/SAM placeholder syntax, not a JS template
      "arn:aws:s3:::data-dev-000000000000/*-${Literal}",
    );
  });

  it("evaluates Equals and Not conditions", () => {
    assert.equal(resolver.condition("IsProd"), false);
    assert.equal(resolver.condition("NotProd"), true);
  });

  it("names what it cannot resolve, and any intrinsic template.yaml does not use", () => {
    assert.throws(() => resolver.resolve({ Ref: "Nope" }, "t"), /no resource 'Nope'/);
    assert.throws(
      () => resolver.resolve({ "Fn::Join": ["-", ["a", "b"]] }, "Fn.Environment.X"),
      (error: Error) =>
        error instanceof TemplateError &&
        /Fn\.Environment\.X: the local stack cannot resolve Fn::Join/.test(error.message),
    );
  });
});

describe("buildLocalModel on the repository's template.yaml", () => {
  const model = buildLocalModel(loadTemplate(), TEMPLATE_PATH);

  it("finds the lot bucket, table, topics, state machine and endpoint", () => {
    assert.deepEqual(
      model.buckets.map((bucket) => [bucket.logicalId, bucket.eventBridgeEnabled]),
      [["LotBucket", true]],
    );
    assert.deepEqual(
      model.tables.map((table) => table.logicalId),
      ["LotTable"],
    );
    assert.deepEqual(model.topics.map((topic) => topic.logicalId).sort(), [
      "AlertTopic",
      "ReportTopic",
    ]);
    assert.deepEqual(
      model.stateMachines.map((sm) => [sm.logicalId, sm.roleArn]),
      [["LotStateMachine", "arn:aws:iam::000000000000:role/waferflow-lot-local-role"]],
    );
    assert.equal(model.endpointName, "waferflow-detector");
  });

  it("reads the lot bucket's SSE-KMS default encryption: the template's key, as a local ARN, with a Bucket Key", () => {
    assert.deepEqual(model.buckets[0]?.defaultKms, {
      keyArn: "arn:aws:kms:us-east-1:000000000000:key/local-DataKey",
      bucketKeyEnabled: true,
    });
  });

  it("resolves the template's Outputs to the same names and ARNs as its resources", () => {
    assert.equal(model.outputs.LotBucketName, model.buckets[0]?.name);
    assert.equal(model.outputs.LotTableName, model.tables[0]?.name);
    assert.equal(model.outputs.LotStateMachineArn, model.stateMachines[0]?.arn);
    assert.equal(
      model.outputs.AlertTopicArn,
      model.topics.find((topic) => topic.logicalId === "AlertTopic")?.arn,
    );
    assert.equal(model.outputs.EdgeAgentRoleArn, undefined, "a conditional output not deployed");
  });

  it("targets every function's handler module, which exists", () => {
    for (const fn of model.functions) {
      assert.match(fn.modulePath, /functions\/[a-z-]+\/handler\.ts$/, fn.logicalId);
      assert.equal(fn.exportName, "handler");
    }
  });

  it("substitutes every placeholder of the definition with a template function's ARN", () => {
    const text = JSON.stringify(model.stateMachines[0]?.definition);
    assert.doesNotMatch(text, /\$\{/);
    const resources = [...text.matchAll(/"Resource":"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(resources.length > 0);
    for (const resource of resources) {
      assert.ok(
        model.functions.some((fn) => fn.arn === resource),
        `${resource} is a template function`,
      );
    }
  });

  it("routes S3 object-created and execution status-change events to their rules' functions", () => {
    assert.deepEqual(
      model.eventRules.map((rule) => [rule.id, rule.targetFunction]),
      [
        ["StartLotFunction.ManifestCreated", "StartLotFunction"],
        ["ExecutionEndedFunction.ExecutionEnded", "ExecutionEndedFunction"],
      ],
    );
    assert.deepEqual(model.eventRules[1]?.pattern, {
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: {
        status: ["FAILED", "TIMED_OUT", "ABORTED"],
        stateMachineArn: [model.stateMachines[0]?.arn],
      },
    });
    assert.deepEqual(
      model.schedules.map((schedule) => [schedule.id, schedule.rateSeconds]),
      [["LotWatchFunction.EveryQuarterHour", 900]],
    );
  });

  it("reads each triggered function's EventInvokeConfig and dead-letter queue", () => {
    const resolver = new IntrinsicResolver(loadTemplate());
    const queueNamed = (logicalId: string) => resolver.physicalName(logicalId);
    const triggered = model.eventRules.map((rule) =>
      model.functions.find((fn) => fn.logicalId === rule.targetFunction),
    );
    for (const fn of triggered) {
      assert.deepEqual(fn?.asyncInvoke, {
        maximumRetryAttempts: 2,
        maximumEventAgeSeconds: 3600,
        deadLetterQueue: queueNamed("AsyncInvokeDeadLetterQueue"),
      });
    }
  });
});

describe("buildLocalModel refusals", () => {
  const dir = mkdtempSync(join(tmpdir(), "waferflow-model-"));
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "a.ts"), "export const handler = () => 1;\n");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const templateWith = (resources: string) => {
    const path = join(dir, "template.yaml");
    writeFileSync(
      path,
      `Parameters:\n  EndpointName: { Type: String, Default: e }\nResources:\n${resources}`,
    );
    return path;
  };
  const entry = "Metadata: { BuildProperties: { EntryPoints: [src/a.ts] } }";

  it("refuses two functions that disagree on a shared environment variable", () => {
    const path = templateWith(`
  A: { Type: AWS::Serverless::Function, Properties: { Handler: a.handler, Environment: { Variables: { MODE: one } } }, ${entry} }
  B: { Type: AWS::Serverless::Function, Properties: { Handler: b.handler, Environment: { Variables: { MODE: two } } }, ${entry} }
`);
    assert.throws(
      () => buildLocalModel(loadTemplate(path), path),
      /MODE is 'one' in A but 'two' in B/,
    );
  });

  it("refuses an EventInvokeConfig Lambda would refuse, naming the field", () => {
    const withConfig = (config: string) =>
      templateWith(`
  A: { Type: AWS::Serverless::Function, Properties: { Handler: a.handler, ${config} }, ${entry} }
`);
    const invokeConfig = withConfig("EventInvokeConfig: { MaximumRetryAttempts: 3 }");
    assert.throws(
      () => buildLocalModel(loadTemplate(invokeConfig), invokeConfig),
      /A\.EventInvokeConfig\.MaximumRetryAttempts: 3 is not a whole number from 0 to 2/,
    );
    const defaults = withConfig("Timeout: 5");
    assert.deepEqual(buildLocalModel(loadTemplate(defaults), defaults).functions[0]?.asyncInvoke, {
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: 21_600,
    });
  });

  it("refuses a definition placeholder without a substitution, naming it", () => {
    writeFileSync(
      join(dir, "sm.json"),
      JSON.stringify({
        StartAt: "A",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation/SAM placeholder syntax, not a JS template
        States: { A: { Type: "Task", Resource: "${Missing}", End: true } },
      }),
    );
    const path = templateWith(`
  M: { Type: AWS::Serverless::StateMachine, Properties: { DefinitionUri: sm.json } }
`);
    assert.throws(
      () => buildLocalModel(loadTemplate(path), path),
      /'\$\{Missing\}' has no DefinitionSubstitutions entry/,
    );
  });

  it("fails at start on every type, property, event source and pattern operator it cannot run, naming each", () => {
    const path = join(dir, "template.yaml");
    writeFileSync(
      path,
      `Parameters:\n  EndpointName: { Type: String, Default: e }\nConditions:\n  Off: !Equals [a, b]\nResources:
  Q: { Type: AWS::SQS::Queue }
  D: { Type: AWS::SQS::Queue }
  V: { Type: AWS::EC2::VPC }
  Never: { Type: AWS::EC2::VPC, Condition: Off }
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      GlobalSecondaryIndexes: []
  G: { Type: AWS::Serverless::Function, Properties: { Handler: a.handler, DeadLetterQueue: { Type: SQS, TargetArn: !GetAtt D.Arn } }, ${entry} }
  F:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a.handler
      ReservedConcurrentExecutions: 2
      Events:
        Api: { Type: Api }
        Images:
          Type: EventBridgeRule
          Properties:
            Pattern: { detail: { object: { key: [{ prefix: "lots/" }] } } }
    ${entry}
  K: { Type: AWS::KMS::Key }
`,
    );
    assert.throws(
      () => buildLocalModel(loadTemplate(path), path),
      (error: Error) => {
        assert.ok(error instanceof TemplateError);
        const lines = error.message
          .split("\n")
          .slice(1)
          .map((line) => line.trim());
        assert.deepEqual(lines, [
          "Q: an SQS queue that is not a dead-letter queue",
          "V: resource type AWS::EC2::VPC",
          "T: property GlobalSecondaryIndexes",
          "F: property ReservedConcurrentExecutions",
          "F.Events.Api: event source Api",
          "F.Events.Images.Pattern.detail.object.key: operator prefix (only exact values and wildcard run)",
        ]);
        return true;
      },
    );
  });

  it("resolves a function's module from its esbuild entry point, relative to the template and CodeUri", () => {
    const path = templateWith(`
  F: { Type: AWS::Serverless::Function, Properties: { CodeUri: ./, Handler: index.run }, ${entry} }
`);
    const [fn] = buildLocalModel(loadTemplate(path), path).functions;
    assert.equal(fn?.modulePath, resolve(dir, "src/a.ts"));
    assert.equal(fn?.exportName, "run");
  });
});
