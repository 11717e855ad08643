// `npm run make:events`: writes events/*.json (one event per function) and events/env.json from the committed e2e lot and template.yaml.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { inspectImageBytes } from "../functions/preprocess-image/core.ts";
import { loadTemplate, REPO_ROOT, TEMPLATE_PATH, type Template } from "../infra/template.ts";
import { lotKeys } from "../lib/keys.ts";
import { buildLocalModel, LOCAL_ACCOUNT, LOCAL_REGION } from "../local/resource-model.ts";
import { LotFileSchema, type Manifest, ManifestSchema } from "../schemas/lot.ts";
import { TruthSchema } from "../schemas/truth.ts";
import type { ImageOutcome } from "../schemas/workflow.ts";

export const LOT_DIR = resolve(REPO_ROOT, "test/fixtures/lot-e2e");
export const EVENTS_DIR = resolve(REPO_ROOT, "events");

/**
 * Every function's variables for `sam local invoke --env-vars`: a value the template gives as a
 * reference to a resource becomes `${<Output>}`, the stack output holding the same reference (fill
 * them from `aws cloudformation describe-stacks`); a parameter becomes its default; text stays.
 */
export function envVarsFile(template: Template): Record<string, Record<string, string>> {
  const outputs = Object.entries(template.Outputs ?? {}) as Array<[string, { Value?: unknown }]>;
  const placeholder = (value: unknown, where: string): string => {
    if (typeof value === "string" || typeof value === "number") return String(value);
    const output = outputs.find(([, o]) => JSON.stringify(o.Value) === JSON.stringify(value));
    if (output) return `\${${output[0]}}`;
    const ref = (value as { Ref?: string } | null)?.Ref;
    const parameter = ref ? template.Parameters?.[ref] : undefined;
    if (parameter?.Default !== undefined) return String(parameter.Default);
    throw new Error(
      `${where}: add a stack output for ${JSON.stringify(value)} so env.json can name it`,
    );
  };
  const variablesOf = (properties: Record<string, unknown> | undefined, where: string) =>
    Object.fromEntries(
      Object.entries(
        ((properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables ?? {}) as Record<string, unknown>,
      ).map(([name, value]) => [name, placeholder(value, `${where}.${name}`)]),
    );
  const file: Record<string, Record<string, string>> = {
    Parameters: variablesOf(template.Globals?.Function, "Globals.Function.Environment"),
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== "AWS::Serverless::Function") continue;
    const own = variablesOf(resource.Properties, `${logicalId}.Environment`);
    if (Object.keys(own).length > 0) file[logicalId] = own;
  }
  return file;
}

function fillPlaceholders(
  file: Record<string, Record<string, string>>,
  outputs: Record<string, string> | undefined,
): Record<string, Record<string, string>> {
  if (!outputs) return file;
  return Object.fromEntries(
    Object.entries(file).map(([section, variables]) => [
      section,
      Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [
          name,
          value.replace(/\$\{(\w+)\}/g, (whole, key: string) => outputs[key] ?? whole),
        ]),
      ),
    ]),
  );
}

/** `aws cloudformation describe-stacks --query Stacks[0].Outputs` as OutputKey to OutputValue. */
function readStackOutputs(path: string): Record<string, string> {
  const outputs = JSON.parse(readFileSync(path, "utf8")) as Array<{
    OutputKey: string;
    OutputValue: string;
  }>;
  if (!Array.isArray(outputs)) throw new Error(`${path}: expected the stack's Outputs list`);
  return Object.fromEntries(outputs.map((output) => [output.OutputKey, output.OutputValue]));
}

/**
 * The fixture lot's manifest as the events name it: its exact text (what StartLot accepts byte
 * for byte) and SHA-256. A stack seeded with this text (images + manifest.json) replays every event.
 */
export function fixtureManifest() {
  const lotFile = LotFileSchema.parse(JSON.parse(readFileSync(join(LOT_DIR, "lot.json"), "utf8")));
  const truth = TruthSchema.parse(JSON.parse(readFileSync(join(LOT_DIR, "truth.json"), "utf8")));
  const lotId = lotFile.lotId ?? truth.lotId;
  const { lotId: _lotId, ...metadata } = lotFile;
  const images = readdirSync(LOT_DIR)
    .filter((name) => /\.(png|tiff?)$/i.test(name))
    .sort()
    .map((fileName) => {
      const bytes = readFileSync(join(LOT_DIR, fileName));
      return {
        fileName,
        key: lotKeys.image(lotId, fileName),
        sha256: createHash("sha256").update(bytes).digest("hex"),
        bytes: bytes.length,
        contentType: fileName.endsWith(".png") ? ("image/png" as const) : ("image/tiff" as const),
      };
    });
  const manifest: Manifest = ManifestSchema.parse({
    schemaVersion: 1,
    lotId,
    createdAt: "2026-11-26T08:00:00.000Z",
    source: { agent: "waferflow-edge-agent/0.1.0", host: "line-7" },
    metadata,
    images,
  });
  /** The manifest as the agent writes it (2-space JSON); RecordLot returns its checksum. */
  const manifestText = JSON.stringify(manifest, null, 2);
  const manifestSha256 = createHash("sha256").update(manifestText).digest("hex");
  return { lotId, metadata, truth, images, manifest, manifestText, manifestSha256 };
}

/**
 * Every file of events/, by name, as JSON text. `bucket` defaults to the local stack's lot bucket;
 * `stackOutputs` (OutputKey to OutputValue of a deployed stack) fills env.json's placeholders.
 */
export async function makeEvents(
  options: { bucket?: string; stackOutputs?: Record<string, string> } = {},
): Promise<Map<string, string>> {
  const template = loadTemplate(TEMPLATE_PATH);
  const model = buildLocalModel(template, TEMPLATE_PATH);
  const bucket = options.bucket ?? model.buckets.find((b) => b.logicalId === "LotBucket")?.name;
  const stateMachine = model.stateMachines.find((sm) => sm.logicalId === "LotStateMachine");
  if (!bucket || !stateMachine) throw new Error("template.yaml lacks LotBucket or LotStateMachine");
  // The template names the bucket waferflow-lots-<account>-<region>: the event's account and region follow it.
  const named = /-(\d{12})-([a-z]{2}(?:-[a-z]+)+-\d)$/.exec(bucket);
  const account = named?.[1] ?? LOCAL_ACCOUNT;
  const region = named?.[2] ?? LOCAL_REGION;

  const { lotId, metadata, truth, images, manifest, manifestSha256 } = fixtureManifest();
  const [first] = manifest.images;
  if (!first) throw new Error("the fixture lot has no images");
  // What PreprocessImage reads of the first image (its header), so DetectDefects gets the real sizes.
  const preprocessed = await inspectImageBytes(readFileSync(join(LOT_DIR, first.fileName)));
  const stateMachineArn = options.stackOutputs?.LotStateMachineArn ?? stateMachine.arn;
  const executionId = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${lotId}`;
  const defectsOf = (fileName: string) =>
    truth.wafers.find((wafer) => wafer.fileName === fileName)?.defects.length ?? 0;

  const events: Record<string, unknown> = {
    "manifest-created": {
      version: "0",
      id: "7bf73129-1428-4cd3-a780-95db273d1602",
      "detail-type": "Object Created",
      source: "aws.s3",
      account,
      time: "2026-11-26T08:00:01Z",
      region,
      resources: [`arn:aws:s3:::${bucket}`],
      detail: {
        version: "0",
        bucket: { name: bucket },
        object: {
          key: lotKeys.manifest(lotId),
          size: Buffer.byteLength(JSON.stringify(manifest)),
          etag: "d41d8cd98f00b204e9800998ecf8427e",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        requester: account,
        reason: "PutObject",
      },
    },
    "record-lot": {
      lotId,
      manifestKey: lotKeys.acceptedManifest(lotId),
      executionId,
      startedAt: "2026-11-26T08:00:02.000Z",
    },
    "preprocess-image": {
      lotId,
      manifestKey: lotKeys.acceptedManifest(lotId),
      manifestSha256,
      index: 0,
    },
    "detect-defects": {
      lotId,
      index: 0,
      metadata,
      image: first,
      preprocessed,
    },
    "publish-report": {
      lotId,
      executionId,
      manifestKey: lotKeys.acceptedManifest(lotId),
      manifestSha256,
      results: images.map((image, index): ImageOutcome => {
        const defectCount = defectsOf(image.fileName);
        return { index, status: defectCount > 0 ? "defects_found" : "clean", defectCount };
      }),
    },
    "fail-lot": {
      lotId,
      executionId,
      manifestKey: lotKeys.acceptedManifest(lotId),
      error: { Error: "States.Timeout", Cause: "the lot did not finish within 3600 s" },
    },
    env: fillPlaceholders(envVarsFile(template), options.stackOutputs),
  };
  return new Map(
    Object.entries(events).map(([name, event]) => [
      `${name}.json`,
      `${JSON.stringify(event, null, 2)}\n`,
    ]),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      bucket: { type: "string" },
      "stack-outputs": { type: "string" },
    },
  });
  const out = resolve(values.out ?? EVENTS_DIR);
  const stackOutputs = values["stack-outputs"]
    ? readStackOutputs(values["stack-outputs"])
    : undefined;
  const files = await makeEvents({
    bucket: values.bucket ?? stackOutputs?.LotBucketName,
    stackOutputs,
  });
  mkdirSync(out, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(out, name), text);
  console.log(`wrote ${[...files.keys()].join(", ")} to ${relative(process.cwd(), out) || "."}`);
}
