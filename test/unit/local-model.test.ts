// How the local stack reads template.yaml: intrinsic functions, names, handler modules, state machine substitutions.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, it } from "vitest";
import { loadTemplate, parseTemplate, TEMPLATE_PATH } from "../../infra/template.ts";
import { TemplateError } from "../../local/errors.ts";
import { buildLocalModel, IntrinsicResolver } from "../../local/model.ts";

describe("IntrinsicResolver", () => {
  const template = parseTemplate(`
Parameters:
  Stage: { Type: String, Default: dev }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Mappings:
  Sizes: { dev: { memory: 512 } }
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
      resolver.resolve({ "Fn::Sub": "${Bucket.Arn}/*" }, "t"),
      "arn:aws:s3:::data-dev-000000000000/*",
    );
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation/SAM placeholder syntax, not a JS template
      resolver.resolve({ "Fn::Sub": ["${X}-${!Literal}", { X: "x" }] }, "t"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation/SAM placeholder syntax, not a JS template
      "x-${Literal}",
    );
  });

  it("evaluates conditions, If, Join, Select, Split and FindInMap", () => {
    assert.equal(resolver.condition("IsProd"), false);
    assert.equal(resolver.resolve({ "Fn::If": ["IsProd", "a", "b"] }, "t"), "b");
    assert.equal(resolver.resolve({ "Fn::Join": ["-", ["a", { Ref: "Stage" }]] }, "t"), "a-dev");
    assert.equal(
      resolver.resolve({ "Fn::Select": [1, { "Fn::Split": [",", "a,b,c"] }] }, "t"),
      "b",
    );
    assert.equal(resolver.resolve({ "Fn::FindInMap": ["Sizes", "dev", "memory"] }, "t"), 512);
  });

  it("names what it cannot resolve", () => {
    assert.throws(() => resolver.resolve({ Ref: "Nope" }, "t"), /no resource 'Nope'/);
    assert.throws(() => resolver.resolve({ "Fn::ImportValue": "x" }, "Outputs.X"), TemplateError);
  });
});

describe("buildLocalModel on the repository's template.yaml", () => {
  const model = buildLocalModel(loadTemplate(), TEMPLATE_PATH);

  it("finds the lot bucket, table, topics, state machine and endpoint", () => {
    assert.ok(model.buckets.some((bucket) => bucket.logicalId === "LotBucket"));
    assert.ok(model.tables.some((table) => table.logicalId === "LotTable"));
    assert.deepEqual(model.topics.map((topic) => topic.logicalId).sort(), [
      "AlertTopic",
      "ReportTopic",
    ]);
    assert.ok(model.stateMachines.some((sm) => sm.logicalId === "LotStateMachine"));
    assert.ok(model.endpointName.length > 0);
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
  });

  it("emulates everything the template deploys by default (dead-letter queues are logged deliveries)", () => {
    assert.deepEqual(model.notEmulated, []);
  });
});

describe("buildLocalModel refusals", () => {
  const dir = mkdtempSync(join(tmpdir(), "waferflow-model-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const templateWith = (resources: string) => {
    const path = join(dir, "template.yaml");
    writeFileSync(
      path,
      `Parameters:\n  EndpointName: { Type: String, Default: e }\nResources:\n${resources}`,
    );
    return path;
  };

  it("refuses two functions that disagree on a shared environment variable", () => {
    const path = templateWith(`
  A: { Type: AWS::Serverless::Function, Properties: { Handler: a.handler, Environment: { Variables: { MODE: one } } } }
  B: { Type: AWS::Serverless::Function, Properties: { Handler: b.handler, Environment: { Variables: { MODE: two } } } }
`);
    assert.throws(
      () => buildLocalModel(loadTemplate(path), path),
      /MODE is 'one' in A but 'two' in B/,
    );
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

  it("lists what it does not emulate, so nobody mistakes it for AWS", () => {
    const path = templateWith(`
  Q: { Type: AWS::SQS::Queue }
  D: { Type: AWS::SQS::Queue }
  G: { Type: AWS::Serverless::Function, Properties: { Handler: g.handler, DeadLetterQueue: { Type: SQS, TargetArn: !GetAtt D.Arn } } }
  F: { Type: AWS::Serverless::Function, Properties: { Handler: f.handler, Events: { Api: { Type: Api } } } }
  K: { Type: AWS::KMS::Key }
`);
    assert.deepEqual(buildLocalModel(loadTemplate(path), path).notEmulated, [
      "Q (AWS::SQS::Queue)",
      "F.Events.Api (Api)",
    ]);
  });

  it("resolves a function's module under its CodeUri, relative to the template", () => {
    const path = templateWith(`
  F: { Type: AWS::Serverless::Function, Properties: { CodeUri: src/f/, Handler: index.run } }
`);
    const [fn] = buildLocalModel(loadTemplate(path), path).functions;
    assert.equal(fn?.modulePath, resolve(dir, "src/f/index.ts"));
    assert.equal(fn?.exportName, "run");
  });
});
