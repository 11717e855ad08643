// SAM, CDK and the local stack run the same resources: one template, read three ways, compared here.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CfnQueue } from "aws-cdk-lib/aws-sqs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ObjectCreatedEventSchema } from "../../functions/start-lot/core.ts";
import { type BuildAppOptions, buildApp } from "../../infra/stack.ts";
import { loadTemplate, REPO_ROOT, TEMPLATE_PATH } from "../../infra/template.ts";
import { buildLocalModel } from "../../local/resource-model.ts";
import {
  DetectInputSchema,
  FailLotInputSchema,
  ImageRefSchema,
  PublishReportInputSchema,
  RecordLotInputSchema,
} from "../../schemas/workflow.ts";
import { loadDefinition } from "../../statemachine/definition.ts";

const template = loadTemplate();

/** CloudFormation takes `Fn::GetAtt` as "A.B" or ["A", "B"]; compare them as one. */
function normalised(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalised);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) =>
        key === "Fn::GetAtt" && typeof inner === "string"
          ? [key, [inner.slice(0, inner.indexOf(".")), inner.slice(inner.indexOf(".") + 1)]]
          : [key, normalised(inner)],
      ),
    );
  }
  return value;
}
const resourcesOfType = (type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
const functions = resourcesOfType("AWS::Serverless::Function");
const entryPoint = (resource: { Metadata?: Record<string, unknown> }) =>
  ((resource.Metadata?.BuildProperties as { EntryPoints?: string[] } | undefined)?.EntryPoints ??
    [])[0];

/** The properties CDK replaces with uploaded assets: every local path the template names. */
const LOCAL_PATH_PROPERTIES = ["CodeUri", "ContentUri", "DefinitionUri"];
const builtIds = Object.entries(template.Resources)
  .filter(([, r]) =>
    ["AWS::Serverless::Function", "AWS::Serverless::LayerVersion"].includes(r.Type),
  )
  .map(([id]) => id);

interface Synthesized {
  outdir: string;
  template: {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    Parameters?: Record<string, unknown>;
    Transform?: unknown;
  };
  validation?: { pluginReports: Array<{ pluginName: string; violations: unknown[] }> };
}

/** A stand-in `npm run build` output: each folder holds a file naming its logical id. */
function standInBuild(root: string, skip?: string): string {
  const buildDir = join(root, "build");
  for (const id of builtIds) {
    if (id === skip) continue;
    mkdirSync(join(buildDir, id), { recursive: true });
    writeFileSync(join(buildDir, id, "handler.mjs"), `// stand-in bundle of ${id}\n`);
  }
  return buildDir;
}

/**
 * Runs `synth` without aws-cdk-lib's built-in CloudFormation Validate plugin (its WASM rule engine
 * is built anew for every synth: about 2 s of CPU, a third of this file). Only for synths whose
 * checks are not about the template's validity: the shipping app's synth keeps it, and its
 * report is required to be there and clean.
 */
function withoutCfnValidation<T>(synth: () => T): T {
  const before = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = "false";
  try {
    return synth();
  } finally {
    if (before === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = before;
  }
}

function synthesize(root: string, options: Omit<BuildAppOptions, "outdir"> = {}): Synthesized {
  const outdir = join(root, "cdk.out");
  const { app, stack } = buildApp({ buildDir: standInBuild(root), ...options, outdir });
  let failure: unknown;
  let assembly: ReturnType<typeof app.synth> | undefined;
  try {
    assembly = app.synth();
  } catch (error) {
    failure = error;
  }
  const reportPath = join(outdir, "validation-report.json");
  const validation = existsSync(reportPath)
    ? (JSON.parse(readFileSync(reportPath, "utf8")) as Synthesized["validation"])
    : undefined;
  if (failure || !assembly) {
    throw new Error(
      `synth failed: ${String(failure)}\n${JSON.stringify(validation?.pluginReports, null, 1)}`,
    );
  }
  return {
    outdir,
    template: assembly.getStackByName(stack.stackName).template as Synthesized["template"],
    validation,
  };
}

describe("one template for SAM, CDK and the local stack", () => {
  // One synth of the shipping app (stand-in build, cdk-nag on) serves the checks that only read it.
  const sharedRoot = mkdtempSync(join(tmpdir(), "waferflow-cdk-"));
  let shared: Synthesized;
  beforeAll(() => {
    shared = synthesize(sharedRoot);
  }, 180_000);
  afterAll(() => rmSync(sharedRoot, { recursive: true, force: true }));

  // One more synth serves two tests: the app with a model image asset and one queue nobody
  // reviewed. cdk-nag refuses it after the assembly is written, so the image test reads the
  // template and the assets from its outdir. Neither test is about the template's validity
  // (checked on the shipping synth): CloudFormation Validate is off for it.
  const refusedRoot = join(sharedRoot, "refused");
  let refused: { outdir: string; failure: unknown } | undefined;
  const refusedSynth = () => {
    if (refused) return refused;
    const context = join(refusedRoot, "image");
    mkdirSync(join(context, "endpoint"), { recursive: true });
    writeFileSync(join(context, "endpoint", "Dockerfile"), "FROM scratch\n");
    const outdir = join(refusedRoot, "cdk.out");
    const { app, stack } = buildApp({
      buildDir: standInBuild(refusedRoot),
      outdir,
      modelImage: { directory: context },
    });
    new CfnQueue(stack, "QueueNobodyReviewed");
    let failure: unknown;
    try {
      withoutCfnValidation(() => app.synth());
    } catch (error) {
      failure = error;
    }
    refused = { outdir, failure };
    return refused;
  };

  it("CDK synthesises exactly template.yaml's resources, nothing redefined by hand", () => {
    {
      const synthesized = shared.template;
      assert.equal(synthesized.Transform, "AWS::Serverless-2016-10-31");
      const own = Object.keys(synthesized.Resources).filter((id) => id !== "CDKMetadata");
      assert.deepEqual(own.sort(), Object.keys(template.Resources).sort());
      const withoutLocalPaths = (resource: unknown) => {
        const copy = structuredClone(resource) as { Properties?: Record<string, unknown> };
        for (const name of LOCAL_PATH_PROPERTIES) delete copy.Properties?.[name];
        return normalised(copy);
      };
      for (const id of own) {
        assert.deepEqual(
          withoutLocalPaths(synthesized.Resources[id]),
          withoutLocalPaths(template.Resources[id]),
          id,
        );
      }
    }
  });

  it("no local path survives: code, layer and ASL are uploaded assets of the build output", () => {
    {
      const { outdir, template: synthesized } = shared;
      const replaced: string[] = [];
      for (const [id, resource] of Object.entries(synthesized.Resources)) {
        for (const name of LOCAL_PATH_PROPERTIES) {
          const value = resource.Properties?.[name];
          if (value === undefined) continue;
          assert.equal(typeof value, "object", `${id}.${name} is a local path: ${String(value)}`);
          const { Bucket, Key } = value as { Bucket?: unknown; Key?: unknown };
          assert.ok(Bucket && typeof Key === "string", `${id}.${name} is an S3 location`);
          // The staged asset is the folder of this very logical id (or the ASL file).
          const staged = join(outdir, `asset.${Key.replace(/\.(zip|json)$/, "")}`);
          if (name === "DefinitionUri") {
            assert.deepEqual(
              JSON.parse(readFileSync(`${staged}.json`, "utf8")),
              JSON.parse(readFileSync(resolve(REPO_ROOT, "statemachine/lot.asl.json"), "utf8")),
            );
          } else {
            assert.equal(
              readFileSync(join(staged, "handler.mjs"), "utf8"),
              `// stand-in bundle of ${id}\n`,
            );
          }
          replaced.push(id);
        }
      }
      assert.deepEqual(
        replaced.sort(),
        [...builtIds, "LotStateMachine"].sort(),
        "every function, layer and state machine",
      );
    }
  });

  it("refuses to synthesise without the build output, naming the missing folder", () => {
    const root = mkdtempSync(join(tmpdir(), "waferflow-cdk-"));
    try {
      const buildDir = standInBuild(root, "ExecutionEndedFunction");
      assert.throws(
        () => buildApp({ buildDir, outdir: join(root, "out") }),
        (error: Error) =>
          error.name === "MissingBuildError" &&
          error.message.includes(join(buildDir, "ExecutionEndedFunction")) &&
          /npm run build/.test(error.message),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("cdk-nag (AWS Solutions, Serverless) finds nothing that is not acknowledged with a reason", () => {
    {
      const { validation } = shared;
      // The shipping app's synth runs aws-cdk-lib's CloudFormation Validate too (the other synths
      // of this file skip it), and it reports (clean, below).
      assert.ok(
        validation?.pluginReports.some((report) => report.pluginName === "CloudFormation Validate"),
        "the shipping synth ran CloudFormation Validate",
      );
      for (const report of validation?.pluginReports ?? []) {
        assert.deepEqual(report.violations, [], `${report.pluginName} findings`);
      }
      // The packs really run: one queue added without encryption or redrive fails the synth.
      const { outdir, failure } = refusedSynth();
      assert.equal((failure as Error | undefined)?.name, "ValidationFailed", `refused: ${failure}`);
      const failed = JSON.parse(
        readFileSync(join(outdir, "validation-report.json"), "utf8"),
      ) as NonNullable<Synthesized["validation"]>;
      const findings = failed.pluginReports.flatMap((report) =>
        (report.violations as Array<{ ruleName: string; violatingConstructs: unknown[] }>).map(
          (violation) => `${report.pluginName}:${violation.ruleName}`,
        ),
      );
      assert.ok(findings.includes("AwsSolutions:AwsSolutions-SQS4"), findings.join(", "));
      assert.ok(findings.includes("Serverless:Serverless-SQSRedrivePolicy"), findings.join(", "));
      const acknowledgements = readFileSync(resolve(REPO_ROOT, "infra/nag.ts"), "utf8");
      for (const match of acknowledgements.matchAll(/reason:\s*\n?\s*"([^"]*)"/g)) {
        assert.ok((match[1] ?? "").length > 40, `a reason, not a placeholder: ${match[1]}`);
      }
    }
  });

  it("with a model image asset, the image becomes ModelImageUri and the endpoint is created", () => {
    {
      // The synth cdk-nag refused for its unreviewed queue: the assembly is written all the same.
      const { outdir } = refusedSynth();
      const synthesized = JSON.parse(
        readFileSync(join(outdir, "Waferflow.template.json"), "utf8"),
      ) as Synthesized["template"];
      assert.ok(synthesized.Resources.QueueNobodyReviewed, "the refused synth's own template");
      assert.equal(synthesized.Parameters?.ModelImageUri, undefined, "no longer a parameter");
      const model = synthesized.Resources.DetectorModel?.Properties as {
        PrimaryContainer: { Image: unknown };
      };
      assert.match(JSON.stringify(model.PrimaryContainer.Image), /dkr\.ecr\..*container-assets/);
      const assets = JSON.parse(readFileSync(join(outdir, "Waferflow.assets.json"), "utf8"));
      const images = Object.values(assets.dockerImages ?? {}) as Array<{
        source: { directory: string; dockerFile?: string };
      }>;
      assert.equal(images.length, 1);
      assert.equal(images[0]?.source.dockerFile, "endpoint/Dockerfile");
    }
  });

  it("the local stack runs every function, bucket, table, topic and the state machine of the template", () => {
    const model = buildLocalModel(template, TEMPLATE_PATH);
    assert.deepEqual(
      model.functions.map((f) => f.logicalId).sort(),
      functions.map(([id]) => id).sort(),
    );
    for (const [id, resource] of functions) {
      const local = model.functions.find((f) => f.logicalId === id);
      assert.equal(
        local?.modulePath,
        resolve(REPO_ROOT, entryPoint(resource) ?? ""),
        `${id} runs its EntryPoint`,
      );
      const variables = {
        ...((template.Globals?.Function?.Environment as { Variables?: object })?.Variables ?? {}),
        ...((resource.Properties?.Environment as { Variables?: object })?.Variables ?? {}),
      };
      for (const name of Object.keys(variables).filter((n) => n !== "NODE_OPTIONS")) {
        assert.ok(name in (local?.environment ?? {}), `${id} gets ${name} locally`);
      }
    }
    assert.deepEqual(
      model.buckets.map((b) => b.logicalId),
      resourcesOfType("AWS::S3::Bucket").map(([id]) => id),
    );
    assert.deepEqual(
      model.tables.map((t) => t.logicalId),
      resourcesOfType("AWS::DynamoDB::Table").map(([id]) => id),
    );
    assert.deepEqual(
      model.topics.map((t) => t.logicalId).sort(),
      resourcesOfType("AWS::SNS::Topic")
        .map(([id]) => id)
        .sort(),
    );
    const [machine] = model.stateMachines;
    const arns = Object.fromEntries(
      Object.entries(
        template.Resources.LotStateMachine?.Properties?.DefinitionSubstitutions as Record<
          string,
          { "Fn::GetAtt": [string, string] }
        >,
      ).map(([name, ref]) => [
        name,
        model.functions.find((f) => f.logicalId === ref["Fn::GetAtt"][0])?.arn ?? "?",
      ]),
    );
    assert.deepEqual(
      machine?.definition,
      loadDefinition(arns),
      "the local runner gets statemachine/lot.asl.json itself",
    );
  });

  it("every function's entry point exists and exports handler", async () => {
    for (const [id, resource] of functions) {
      const path = entryPoint(resource);
      assert.ok(path && existsSync(resolve(REPO_ROOT, path)), `${id}: ${path} exists`);
      assert.equal(resource.Properties?.Handler, "handler.handler", id);
      assert.match(
        readFileSync(resolve(REPO_ROOT, path ?? ""), "utf8"),
        /export const handler = lambdaHandler\(/,
        id,
      );
    }
  });

  it("encrypts and closes every data store", () => {
    const bucket = template.Resources.LotBucket?.Properties ?? {};
    assert.ok(bucket.BucketEncryption, "bucket encrypted");
    assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const tableEncryption = template.Resources.LotTable?.Properties?.SSESpecification as
      | { SSEEnabled?: boolean }
      | undefined;
    assert.equal(tableEncryption?.SSEEnabled, true);
    for (const [id, topic] of resourcesOfType("AWS::SNS::Topic"))
      assert.ok(topic.Properties?.KmsMasterKeyId, `${id} encrypted`);
    for (const [id, resource] of functions) {
      assert.equal(template.Globals?.Function?.Runtime, "nodejs22.x");
      assert.doesNotMatch(
        JSON.stringify(resource.Properties?.Policies ?? []),
        /"Resource":"\*"|AdministratorAccess|s3:\*"/,
        `${id} least privilege`,
      );
    }
  });
});

describe("nothing ends silently on AWS, and every grant is used", () => {
  const resources = template.Resources;
  const json = (value: unknown) => JSON.stringify(value);

  it("retains the bucket, the table and the key when the stack goes or replaces them", () => {
    for (const id of ["LotBucket", "LotTable", "DataKey"]) {
      const resource = resources[id] as unknown as Record<string, unknown>;
      assert.equal(resource.DeletionPolicy, "Retain", id);
      assert.equal(resource.UpdateReplacePolicy, "Retain", id);
    }
  });

  it("gives every function its own encrypted log group with a retention period, and an Errors alarm", () => {
    for (const [id, fn] of functions) {
      const logging = fn.Properties?.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined;
      const groupId = logging?.LogGroup?.Ref ?? "";
      const group = resources[groupId];
      assert.equal(group?.Type, "AWS::Logs::LogGroup", `${id} logs to a template log group`);
      assert.deepEqual(group?.Properties?.RetentionInDays, { Ref: "LogRetentionDays" }, id);
      assert.ok(group?.Properties?.KmsKeyId, `${groupId} encrypted`);
      const alarm = Object.values(resources).find(
        (r) =>
          r.Type === "AWS::CloudWatch::Alarm" &&
          r.Properties?.MetricName === "Errors" &&
          json(r.Properties?.Dimensions).includes(`{"Ref":"${id}"}`),
      );
      assert.deepEqual(alarm?.Properties?.AlarmActions, [{ Ref: "AlertTopic" }], `${id} alarm`);
    }
    for (const [id, group] of resourcesOfType("AWS::Logs::LogGroup")) {
      assert.ok(group.Properties?.RetentionInDays, `${id} expires`);
    }
  });

  it("sends what EventBridge or Lambda gives up on to encrypted dead-letter queues that alarm", () => {
    const start = resources.StartLotFunction?.Properties ?? {};
    const ended = resources.ExecutionEndedFunction?.Properties ?? {};
    for (const properties of [start, ended]) {
      assert.match(json(properties.DeadLetterQueue), /AsyncInvokeDeadLetterQueue/);
      for (const event of Object.values(properties.Events as Record<string, unknown>)) {
        assert.match(
          json(event),
          /"DeadLetterConfig":\{"Arn":\{"Fn::GetAtt":\["TriggerDeadLetterQueue"/,
        );
      }
    }
    for (const [id, queue] of resourcesOfType("AWS::SQS::Queue")) {
      assert.ok(queue.Properties?.KmsMasterKeyId, `${id} encrypted`);
      assert.ok(
        Object.values(resources).some(
          (r) => r.Type === "AWS::CloudWatch::Alarm" && json(r.Properties).includes(`"${id}"`),
        ),
        `${id} has an alarm`,
      );
    }
    const rule = (ended.Events as Record<string, { Properties: { Pattern: unknown } }>)
      .ExecutionEnded?.Properties.Pattern;
    assert.deepEqual(rule, {
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: {
        status: ["FAILED", "TIMED_OUT", "ABORTED"],
        stateMachineArn: [{ Ref: "LotStateMachine" }],
      },
    });
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"]) {
      assert.ok(
        Object.values(resources).some((r) => r.Properties?.MetricName === metric),
        `${metric} alarm`,
      );
    }
  });

  it("grants no managed catch-alls and reads only the prefixes each function's core reads", () => {
    const text = json(resources);
    assert.doesNotMatch(text, /CloudWatchLogsFullAccess|S3ReadPolicy|S3CrudPolicy|ReadOnly"/);
    /** Every key pattern a function may s3:GetObject, from statements of one or many resources. */
    const readsOf = (policies: unknown): string[] => {
      const found: string[] = [];
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) {
          for (const item of node) visit(item);
          return;
        }
        if (!node || typeof node !== "object") return;
        const statement = node as { Action?: unknown; Resource?: unknown };
        const actions = [statement.Action].flat();
        if (actions.includes("s3:GetObject")) {
          for (const resource of [statement.Resource].flat()) {
            const sub = (resource as { "Fn::Sub"?: unknown } | undefined)?.["Fn::Sub"];
            if (typeof sub === "string") found.push(sub.replace(/.*\$\{LotBucket\.Arn\}/, ""));
          }
          return;
        }
        for (const value of Object.values(node)) visit(value);
      };
      visit(policies);
      return found.sort();
    };
    const reads = Object.fromEntries(
      functions.map(([id, fn]) => [id, readsOf(fn.Properties?.Policies)]),
    );
    const manifest = "/lots/*/accepted-manifest.json";
    assert.deepEqual(reads, {
      StartLotFunction: [manifest, "/lots/*/manifest.json"],
      RecordLotFunction: [manifest],
      PreprocessImageFunction: [manifest, "/lots/*/images/*"],
      // every image goes to the endpoint by S3 reference; the endpoint's role reads it
      DetectDefectsFunction: [],
      PublishReportFunction: [manifest, "/lots/*/results/*"],
      // report.json only so that the presigned link in the failed lot's alert opens
      FailLotFunction: [manifest, "/lots/*/report.json"],
      ExecutionEndedFunction: [manifest],
      LotWatchFunction: [],
    });
  });

  it("grants each function the DynamoDB actions its core sends, and no other", () => {
    /** Every dynamodb: action of a function's policy statements. */
    const tableActionsOf = (policies: unknown): string[] => {
      const found = new Set<string>();
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) {
          for (const item of node) visit(item);
          return;
        }
        if (!node || typeof node !== "object") return;
        for (const action of [(node as { Action?: unknown }).Action].flat()) {
          if (typeof action === "string" && action.startsWith("dynamodb:")) found.add(action);
        }
        for (const value of Object.values(node)) visit(value);
      };
      visit(policies);
      return [...found].sort();
    };
    const actions = Object.fromEntries(
      functions.map(([id, fn]) => [id, tableActionsOf(fn.Properties?.Policies)]),
    );
    // The report writers update the lot's item and put its images' items 25 per BatchWriteItem
    // (functions/lot-report.ts); RecordLot puts the lot and its images the same way.
    const reportWriter = ["dynamodb:BatchWriteItem", "dynamodb:UpdateItem"];
    assert.deepEqual(actions, {
      StartLotFunction: [],
      RecordLotFunction: ["dynamodb:BatchWriteItem"],
      PreprocessImageFunction: [],
      DetectDefectsFunction: [],
      PublishReportFunction: reportWriter,
      FailLotFunction: reportWriter,
      ExecutionEndedFunction: reportWriter,
      LotWatchFunction: ["dynamodb:Scan", "dynamodb:UpdateItem"],
    });
  });

  it("lets services use the key only for this account", () => {
    const statements = (
      (resources.DataKey?.Properties?.KeyPolicy ?? { Statement: [] }) as {
        Statement: Array<{ Principal: { Service?: unknown }; Condition?: unknown }>;
      }
    ).Statement.filter((statement) => statement.Principal.Service);
    assert.ok(statements.length >= 3);
    for (const statement of statements) {
      assert.match(
        json(statement.Condition),
        /"aws:SourceAccount":\{"Ref":"AWS::AccountId"\}|kms:EncryptionContext:aws:logs:arn.*\$\{AWS::AccountId\}/,
        json(statement.Principal),
      );
    }
  });

  it("lets an edge host only upload and read back under lots/, with a certificate, never a key", () => {
    const role = resources.EdgeAgentRole;
    assert.equal(role?.Condition, "HasEdgeTrustAnchor");
    assert.match(json(role?.Properties?.AssumeRolePolicyDocument), /rolesanywhere\.amazonaws\.com/);
    const statements = (
      (role?.Properties?.Policies ?? []) as Array<{
        PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
      }>
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    assert.deepEqual(actions.sort(), [
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]);
    assert.match(json(statements), /lots\/\*/);
    assert.match(json(statements), /"kms:ViaService"/);
    assert.equal(resourcesOfType("AWS::IAM::AccessKey").length, 0);
    assert.equal(resourcesOfType("AWS::IAM::User").length, 0);
    for (const output of [
      "EdgeAgentRoleArn",
      "EdgeAgentProfileArn",
      "EdgeTrustAnchorArn",
      "DataKeyArn",
      "LotBucketName",
    ]) {
      assert.ok(template.Outputs?.[output], `output ${output}`);
    }
  });
});

describe("events/ for sam local invoke", () => {
  const event = (name: string) =>
    JSON.parse(readFileSync(resolve(REPO_ROOT, "events", `${name}.json`), "utf8"));
  it("each event is a valid input of its function", () => {
    assert.equal(ObjectCreatedEventSchema.safeParse(event("manifest-created")).success, true);
    assert.equal(RecordLotInputSchema.safeParse(event("record-lot")).success, true);
    assert.equal(ImageRefSchema.safeParse(event("preprocess-image")).success, true);
    assert.equal(DetectInputSchema.safeParse(event("detect-defects")).success, true);
    assert.equal(PublishReportInputSchema.safeParse(event("publish-report")).success, true);
    assert.equal(FailLotInputSchema.safeParse(event("fail-lot")).success, true);
    // The image list lives in the manifest only; the events carry where it is.
    const record = event("record-lot");
    assert.deepEqual(Object.keys(record).sort(), [
      "executionId",
      "lotId",
      "manifestKey",
      "startedAt",
    ]);
    assert.equal(event("detect-defects").index, event("preprocess-image").index);
  });
});

describe("type checking resolves aws-cdk-lib's root to aws-cdk-lib/core (tsconfig.json paths)", () => {
  /** Every .d.ts under a folder of node_modules. */
  const declarations = (dir: string): string[] =>
    readdirSync(resolve(REPO_ROOT, "node_modules", dir), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".d.ts"))
      .map((file) => readFileSync(resolve(REPO_ROOT, "node_modules", dir, file), "utf8"));

  it("nothing of ours imports the root, and every name cdk-nag takes from it is core's", () => {
    const tsconfig = readFileSync(resolve(REPO_ROOT, "tsconfig.json"), "utf8");
    assert.match(
      tsconfig,
      /"aws-cdk-lib": \["\.\/node_modules\/aws-cdk-lib\/core\/index\.d\.ts"\]/,
    );
    // Ours would silently be typed against core only: infra/ imports subpaths.
    for (const file of readdirSync(resolve(REPO_ROOT, "infra")).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(resolve(REPO_ROOT, "infra", file), "utf8");
      assert.doesNotMatch(source, /from "aws-cdk-lib"/, `infra/${file} imports the package root`);
    }
    // cdk-nag's declarations are not type-checked (skipLibCheck): a name missing from core would
    // quietly become `any`. Each name they import from the root must be declared in core.
    const wanted = new Set<string>();
    for (const text of declarations("cdk-nag/lib")) {
      for (const [, names] of text.matchAll(/import \{([^}]*)\} from 'aws-cdk-lib';/g)) {
        for (const name of (names ?? "").split(",")) {
          const bare = name.replace(/^\s*type\s+/, "").trim();
          if (bare) wanted.add(bare);
        }
      }
    }
    assert.ok(wanted.has("CfnResource"), "the declarations were read");
    const core = declarations("aws-cdk-lib/core/lib").join("\n");
    for (const name of wanted) {
      assert.match(
        core,
        new RegExp(
          `export (declare )?(abstract )?(class|interface|type|enum|function|const) ${name}\\b`,
        ),
        `cdk-nag imports ${name} from aws-cdk-lib, which core does not declare`,
      );
    }
    // The root re-exports core whole: core's declarations are the very ones the root gives.
    assert.match(
      readFileSync(resolve(REPO_ROOT, "node_modules/aws-cdk-lib/index.d.ts"), "utf8"),
      /export \* from '\.\/core';/,
    );
  });
});
