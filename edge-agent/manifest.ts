// The lot's manifest: who else holds the lot id, what the agent sent before, and the manifest written last.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { lotKeys } from "../lib/keys.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import {
  MANIFEST_SCHEMA_VERSION,
  MAX_FILE_NAME_LENGTH,
  MAX_LOT_IMAGES,
  type Manifest,
  ManifestSchema,
} from "../schemas/lot.ts";
import { LotIdTakenError, UploadError } from "./errors.ts";
import type { LotScan } from "./lot.ts";
import { checkEtag, isPreconditionFailed, type Run, readTextIfPresent, send } from "./s3-calls.ts";

let agentVersion: string | undefined;

/** "waferflow-edge-agent/<package version>", so a manifest says which agent wrote it. */
export function agentName(): string {
  if (agentVersion === undefined) {
    const path = fileURLToPath(new URL("../package.json", import.meta.url));
    agentVersion = (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  }
  return `waferflow-edge-agent/${agentVersion}`;
}

/** The image set a manifest describes: file name to SHA-256 and size. */
export function imageSet(
  images: ReadonlyArray<{ fileName: string; sha256: string; bytes: number }>,
) {
  return new Map(images.map((image) => [image.fileName, `${image.sha256}/${image.bytes}`]));
}

export async function readManifestAt(run: Run, key: string): Promise<Manifest | undefined> {
  const text = await readTextIfPresent(run, key);
  if (text === undefined) return undefined;
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: below
  }
  throw new LotIdTakenError(
    `lot id ${run.lotId} is taken: s3://${run.bucket}/${key} holds a manifest this agent cannot read; nothing was uploaded`,
  );
}

/** The lot S3 holds under the run's id (its accepted manifest, or its manifest), if any. */
export async function lotInS3(run: Run): Promise<Manifest | undefined> {
  return (
    (await readManifestAt(run, lotKeys.acceptedManifest(run.lotId))) ??
    (await readManifestAt(run, lotKeys.manifest(run.lotId)))
  );
}

/**
 * Lot ids are identities. Before any byte goes up: when S3 already has a lot under this id
 * (its accepted manifest, or its manifest), the folder must hold exactly that lot's images;
 * otherwise the upload is refused with the differences, and the lot in S3 stays as it is.
 * Returns the manifest found (the same lot), if any.
 */
export async function refuseReusedLotId(run: Run, scan: LotScan): Promise<Manifest | undefined> {
  const existing = await lotInS3(run);
  if (!existing) return undefined;
  const there = imageSet(existing.images);
  const here = imageSet(scan.images);
  const differences: string[] = [];
  for (const [fileName, identity] of here) {
    const other = there.get(fileName);
    if (other === undefined) differences.push(`${fileName} is not in it`);
    else if (other !== identity) differences.push(`${fileName} has other content`);
  }
  for (const fileName of there.keys()) {
    if (!here.has(fileName)) differences.push(`its ${fileName} is not in this folder`);
  }
  if (JSON.stringify(existing.metadata) !== JSON.stringify(scan.metadata)) {
    differences.push(`its lot.json metadata is ${JSON.stringify(existing.metadata)}`);
  }
  if (differences.length === 0) return existing;
  const shown = differences.slice(0, 10).join("; ");
  const more = differences.length > 10 ? `; and ${differences.length - 10} more` : "";
  throw new LotIdTakenError(
    `lot id ${run.lotId} is already taken by another lot in s3://${run.bucket}/${lotKeys.prefix(run.lotId)} ` +
      `(${shown}${more}); nothing was uploaded. Give this lot its own lotId in lot.json`,
  );
}

/** The manifest this agent sent earlier, if S3 still holds exactly it (sha256 of its bytes). */
export async function readSentManifest(
  run: Run,
  key: string,
  sha256: string,
): Promise<Manifest | undefined> {
  const text = await readTextIfPresent(run, key);
  if (text === undefined) return undefined;
  if (createHash("sha256").update(text).digest("hex") !== sha256) return undefined;
  const parsed = ManifestSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

export function buildManifest(run: Run, scan: LotScan, createdAt: string): Manifest {
  const rejected = scan.rejected.slice(0, MAX_LOT_IMAGES).map((file) => ({
    fileName: file.fileName.slice(0, MAX_FILE_NAME_LENGTH),
    reason: file.reason.slice(0, 500),
  }));
  const parsed = ManifestSchema.safeParse({
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    lotId: run.lotId,
    createdAt,
    source: { agent: agentName(), host: hostname() },
    metadata: scan.metadata,
    ...(rejected.length ? { rejected } : {}),
    images: [...scan.images]
      .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0))
      .map((image) => {
        const file = run.store.journal.files[image.fileName];
        return {
          fileName: image.fileName,
          key: file?.key,
          sha256: image.sha256,
          bytes: image.bytes,
          contentType: image.contentType,
        };
      }),
  });
  if (!parsed.success) {
    throw new UploadError(
      `the manifest of lot ${run.lotId} would be invalid: ${describeZodError(parsed.error)}`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

/**
 * Writes the manifest, the object whose arrival starts processing, and returns its SHA-256.
 * Conditional (If-None-Match) unless the same lot is already out: of two folders racing for a
 * new id, only the first manifest lands.
 */
export async function writeManifest(
  run: Run,
  manifest: Manifest,
  replace: boolean,
): Promise<string> {
  const manifestKey = lotKeys.manifest(run.lotId);
  const body = JSON.stringify(manifest, null, 2);
  const sha256 = createHash("sha256").update(body).digest("hex");
  const md5 = createHash("md5").update(body).digest();
  await send(run, `writing ${manifestKey}`, async (abortSignal) => {
    const put = await run.s3.send(
      new PutObjectCommand({
        Bucket: run.bucket,
        Key: manifestKey,
        Body: body,
        ContentType: "application/json",
        ContentMD5: md5.toString("base64"),
        Metadata: { sha256 },
        ...(replace ? {} : { IfNoneMatch: "*" }),
      }),
      { abortSignal },
    );
    checkEtag(run, `writing ${manifestKey}`, put, md5.toString("hex"));
  }).catch((error: unknown) => {
    if (!isPreconditionFailed(error)) throw error;
    throw new LotIdTakenError(
      `lot id ${run.lotId} was taken by another manifest while this lot uploaded; its manifest was not written`,
      { cause: error },
    );
  });
  return sha256;
}
