// Reads a lot's manifest from S3 for the states that need its image list, verified against the checksum the lot was recorded with.
import { createHash } from "node:crypto";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { describeZodError } from "../lib/zod-issues.ts";
import { type Manifest, ManifestSchema } from "../schemas/lot.ts";
import {
  dependencyFailure,
  ManifestChangedError,
  ManifestInvalidError,
  ManifestMissingError,
} from "./errors.ts";

export interface LoadedManifest {
  manifest: Manifest;
  sha256: string;
}

/**
 * Every Map iteration of a lot needs the same manifest: a warm Lambda (and the local stack,
 * whose handlers share a process) keeps the last few by checksum, which names their content.
 */
const CACHE_SIZE = 4;
const cache = new Map<string, Manifest>();

function remember(sha256: string, manifest: Manifest): void {
  cache.delete(sha256);
  cache.set(sha256, manifest);
  while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
}

/** Reads and validates the manifest at `key`; with `expectedSha256`, refuses any other bytes. */
export async function loadManifest(
  s3: S3Client,
  bucket: string,
  key: string,
  expectedSha256?: string,
): Promise<LoadedManifest> {
  if (expectedSha256) {
    const cached = cache.get(expectedSha256);
    if (cached) return { manifest: cached, sha256: expectedSha256 };
  }
  let text: string;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await object.Body?.transformToString("utf8")) ?? "";
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") {
      throw new ManifestMissingError(`manifest s3://${bucket}/${key} does not exist`, {
        cause: error,
      });
    }
    throw dependencyFailure(`reading manifest s3://${bucket}/${key}`, error);
  }
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (expectedSha256 && sha256 !== expectedSha256) {
    throw new ManifestChangedError(
      `manifest ${key} has SHA-256 ${sha256}, the lot was recorded with ${expectedSha256}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ManifestInvalidError(`manifest ${key} is not JSON`, { cause });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new ManifestInvalidError(
      `manifest ${key} is invalid: ${describeZodError(parsed.error)}`,
      {
        cause: parsed.error,
      },
    );
  }
  remember(sha256, parsed.data);
  return { manifest: parsed.data, sha256 };
}
