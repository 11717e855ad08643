// Turns a manifest that landed in S3 into one Step Functions execution, or quarantines and alerts on it.

import { createHash } from "node:crypto";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { SNSClient } from "@aws-sdk/client-sns";
import { z } from "zod";
import { lotIdFromManifestKey, lotKeys, quarantineKey } from "../../lib/keys.ts";
import { issueWords } from "../../lib/zod-issues.ts";
import type { Alert } from "../../schemas/alert.ts";
import { type Manifest, ManifestSchema } from "../../schemas/lot.ts";
import type { LotExecutionInput } from "../../schemas/workflow.ts";
import { publish } from "../aws-io.ts";
import { dependencyFailure } from "../errors.ts";
import type { CoreLog } from "../lambda-handler.ts";

/** The EventBridge "Object Created" event S3 sends (and the local stack imitates). */
export const ObjectCreatedEventSchema = z.object({
  "detail-type": z.literal("Object Created"),
  source: z.literal("aws.s3"),
  detail: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({ key: z.string(), size: z.number().optional() }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof ObjectCreatedEventSchema>;

export interface StartLotConfig {
  bucket: string;
  stateMachineArn: string;
  alertTopicArn: string;
}

export interface StartLotDeps {
  s3: S3Client;
  sfn: SFNClient;
  sns: SNSClient;
  config: StartLotConfig;
  now?: () => Date;
  log?: CoreLog;
}

export type StartLotResult =
  | { outcome: "started"; lotId: string; executionArn: string }
  | { outcome: "already_started"; lotId: string }
  | { outcome: "quarantined"; key: string; quarantineKey: string; problems: string[] }
  | {
      outcome: "lot_id_reused";
      lotId: string;
      key: string;
      quarantineKey: string;
      problems: string[];
    }
  | { outcome: "ignored"; key: string; reason: string };

/** Everything wrong with a manifest's text, in words an operator can act on; empty when valid. */
export function manifestProblems(
  key: string,
  text: string,
): { manifest?: Manifest; problems: string[] } {
  const keyLotId = lotIdFromManifestKey(key);
  if (!keyLotId)
    return { problems: [`key '${key}' is not lots/<lotId>/manifest.json with a valid lot id`] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problems: [`manifest is not JSON: ${(error as Error).message}`] };
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    return {
      problems: issueWords(parsed.error, { limit: Number.POSITIVE_INFINITY }),
    };
  }
  const manifest = parsed.data;
  const problems: string[] = [];
  if (manifest.lotId !== keyLotId) {
    problems.push(`lotId '${manifest.lotId}' does not match the key's lot '${keyLotId}'`);
  }
  const seen = new Set<string>();
  for (const [index, image] of manifest.images.entries()) {
    let expected: string | undefined;
    try {
      expected = lotKeys.image(keyLotId, image.fileName);
    } catch (error) {
      problems.push(`images.${index}.fileName: ${(error as Error).message}`);
      continue;
    }
    if (image.key !== expected) {
      problems.push(`images.${index}.key '${image.key}' is not the lot's image key '${expected}'`);
    }
    if (seen.has(image.key)) problems.push(`images.${index}.key '${image.key}' is listed twice`);
    seen.add(image.key);
  }
  return problems.length ? { problems } : { manifest, problems };
}

/**
 * How a manifest differs from the one accepted for its lot id, as problems an operator can read;
 * empty when both describe the same lot (the same images with the same SHA-256, the same
 * metadata and refused files: a re-sent manifest differs only in createdAt or source).
 */
export function lotDifferences(accepted: Manifest, candidate: Manifest): string[] {
  const problems: string[] = [];
  const before = new Map(accepted.images.map((image) => [image.fileName, image]));
  const after = new Map(candidate.images.map((image) => [image.fileName, image]));
  for (const [fileName, image] of after) {
    const old = before.get(fileName);
    if (!old) problems.push(`image ${fileName} is not in the accepted lot`);
    else if (old.sha256 !== image.sha256 || old.bytes !== image.bytes) {
      problems.push(
        `image ${fileName} has SHA-256 ${image.sha256}, the accepted lot's has ${old.sha256}`,
      );
    }
  }
  for (const fileName of before.keys()) {
    if (!after.has(fileName)) problems.push(`image ${fileName} of the accepted lot is missing`);
  }
  if (JSON.stringify(accepted.metadata) !== JSON.stringify(candidate.metadata)) {
    problems.push(
      `metadata ${JSON.stringify(candidate.metadata)} differs from the accepted ${JSON.stringify(accepted.metadata)}`,
    );
  }
  const rejected = (m: Manifest) =>
    JSON.stringify([...(m.rejected ?? [])].sort((a, b) => a.fileName.localeCompare(b.fileName)));
  if (rejected(accepted) !== rejected(candidate)) {
    problems.push("the files refused by the agent differ from the accepted lot's");
  }
  // A long list helps nobody: the first few say enough, and the count says the rest.
  return problems.length > 20
    ? [...problems.slice(0, 20), `... and ${problems.length - 20} more differences`]
    : problems;
}

function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412;
}

/**
 * The manifest accepted for `lotId`: the one stored at its accepted key, or `text` itself,
 * stored there now with If-None-Match so two manifests racing for a new lot id cannot both win.
 */
async function acceptedManifestFor(
  s3: S3Client,
  bucket: string,
  lotId: string,
  text: string,
): Promise<{ key: string; text: string }> {
  const key = lotKeys.acceptedManifest(lotId);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { key, text: (await object.Body?.transformToString("utf8")) ?? "" };
    } catch (error) {
      if ((error as { name?: string }).name !== "NoSuchKey") {
        throw dependencyFailure(`reading s3://${bucket}/${key}`, error);
      }
    }
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: text,
          ContentType: "application/json",
          IfNoneMatch: "*",
        }),
      );
      return { key, text };
    } catch (error) {
      // Someone accepted a manifest for this id a moment ago: compare with theirs.
      if (!isPreconditionFailed(error)) {
        throw dependencyFailure(`writing s3://${bucket}/${key}`, error);
      }
    }
  }
  throw dependencyFailure(
    `accepting the manifest of lot ${lotId}`,
    new Error("the accepted manifest keeps changing"),
  );
}

async function alert(sns: SNSClient, topicArn: string, body: Alert, subject: string) {
  await publish(sns, topicArn, { subject, body, attributes: { kind: body.kind } });
}

/** The PUT that keeps a refused manifest under quarantine/, naming where it came from. */
function quarantineCopy(bucket: string, key: string, target: string, text: string) {
  return new PutObjectCommand({
    Bucket: bucket,
    Key: target,
    Body: text,
    ContentType: "application/json",
    Metadata: { "original-key": key },
  });
}

export async function startLot(
  event: ObjectCreatedEvent,
  deps: StartLotDeps,
): Promise<StartLotResult> {
  const { s3, sfn, sns, config } = deps;
  const now = deps.now ?? (() => new Date());
  const { key } = event.detail.object;
  const bucket = event.detail.bucket.name;
  if (bucket !== config.bucket) {
    return { outcome: "ignored", key, reason: `bucket '${bucket}' is not ${config.bucket}` };
  }

  let text: string;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await object.Body?.transformToString("utf8")) ?? "";
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") {
      // Events are at-least-once: a redelivery after quarantine finds nothing left to do.
      deps.log?.warn("manifest no longer exists", { key });
      return { outcome: "ignored", key, reason: "manifest no longer exists" };
    }
    throw dependencyFailure(`reading manifest s3://${bucket}/${key}`, error);
  }

  const { manifest, problems } = manifestProblems(key, text);
  if (!manifest) {
    const target = quarantineKey(key, now());
    try {
      await s3.send(quarantineCopy(bucket, key, target, text));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      throw dependencyFailure(`quarantining s3://${bucket}/${key}`, error);
    }
    const alert: Alert = {
      schemaVersion: 1,
      kind: "manifest_quarantined",
      at: now().toISOString(),
      lotId: lotIdFromManifestKey(key),
      message: `manifest ${key} is invalid and was moved to ${target}`,
      key: target,
      problems,
    };
    await publish(sns, config.alertTopicArn, {
      subject: "waferflow: manifest quarantined",
      body: alert,
      attributes: { kind: alert.kind },
    });
    deps.log?.warn("manifest quarantined", { key, quarantineKey: target, problems });
    return { outcome: "quarantined", key, quarantineKey: target, problems };
  }

  // Lot ids are identities: a different lot under an id already taken is refused, and the
  // lot that owns the id keeps its manifest.
  const accepted = await acceptedManifestFor(s3, bucket, manifest.lotId, text);
  if (accepted.text !== text) {
    const acceptedManifest = manifestProblems(key, accepted.text).manifest;
    const differences = acceptedManifest
      ? lotDifferences(acceptedManifest, manifest)
      : [`the accepted manifest ${accepted.key} is unreadable`];
    if (differences.length > 0) {
      const target = quarantineKey(key, now());
      try {
        await s3.send(quarantineCopy(bucket, key, target, text));
        // Put back the manifest of the lot that owns the id (its event is then a no-op here).
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: accepted.text,
            ContentType: "application/json",
          }),
        );
      } catch (error) {
        throw dependencyFailure(`quarantining s3://${bucket}/${key}`, error);
      }
      const sha256 = createHash("sha256").update(text).digest("hex");
      await alert(
        sns,
        config.alertTopicArn,
        {
          schemaVersion: 1,
          kind: "manifest_quarantined",
          at: now().toISOString(),
          lotId: manifest.lotId,
          message: `lot id ${manifest.lotId} is already taken by another lot: manifest ${key} (SHA-256 ${sha256}) was refused and moved to ${target}; the first lot is kept as it was. Give the new lot its own id.`,
          key: target,
          problems: differences,
        },
        `waferflow: lot id ${manifest.lotId} reused`,
      );
      deps.log?.warn("lot id reused; manifest quarantined", {
        lotId: manifest.lotId,
        quarantineKey: target,
        differences,
      });
      return {
        outcome: "lot_id_reused",
        lotId: manifest.lotId,
        key,
        quarantineKey: target,
        problems: differences,
      };
    }
  }

  const input: LotExecutionInput = { lotId: manifest.lotId, manifestKey: accepted.key };
  try {
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: config.stateMachineArn,
        name: manifest.lotId,
        input: JSON.stringify(input),
      }),
    );
    deps.log?.info("lot execution started", { lotId: manifest.lotId });
    return { outcome: "started", lotId: manifest.lotId, executionArn: started.executionArn ?? "" };
  } catch (error) {
    if ((error as { name?: string }).name === "ExecutionAlreadyExists") {
      deps.log?.info("lot execution already exists", { lotId: manifest.lotId });
      return { outcome: "already_started", lotId: manifest.lotId };
    }
    throw dependencyFailure(`starting the execution of lot ${manifest.lotId}`, error);
  }
}
