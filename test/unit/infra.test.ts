// SAM, CDK and the local stack run the same resources: one template, read three ways, compared here.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "vitest";
import { ObjectCreatedEventSchema } from "../../functions/start-lot/core.ts";
import { buildApp } from "../../infra/stack.ts";
import { loadTemplate, REPO_ROOT, TEMPLATE_PATH } from "../../infra/template.ts";
import { buildLocalModel } from "../../local/model.ts";
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

describe("one template for SAM, CDK and the local stack", () => {
  it("CDK synthesises exactly template.yaml's resources, nothing redefined by hand", () => {
    const outdir = mkdtempSync(join(tmpdir(), "waferflow-cdk-"));
    try {
      const { app, stack } = buildApp(outdir);
      const synthesized = app.synth().getStackByName(stack.stackName).template as {
        Resources: Record<string, unknown>;
        Transform?: unknown;
      };
      assert.equal(synthesized.Transform, "AWS::Serverless-2016-10-31");
      const own = Object.keys(synthesized.Resources).filter((id) => id !== "CDKMetadata");
      assert.deepEqual(own.sort(), Object.keys(template.Resources).sort());
      for (const id of own) {
        assert.deepEqual(
          normalised(synthesized.Resources[id]),
          normalised(template.Resources[id]),
          id,
        );
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
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
        /export async function handler\(/,
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
