// Reads the images that requests name by S3 reference: one bucket, only lot image keys, bytes checked against their SHA-256.
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { readConfig } from "../lib/config.ts";
import { LOTS_PREFIX } from "../lib/keys.ts";
import type { ImageReference } from "../schemas/detection.ts";
import { ImageChecksumError, ImageReferenceError, ImageSourceError } from "./errors.ts";

/** docs/wafer-images.md: at most 8192 x 8192 px at 16 bit; an encoded image this large is not a wafer. */
export const DEFAULT_MAX_REFERENCED_BYTES = 256 * 1024 * 1024;

export interface ImageSource {
  /** The bucket references may name; anything else is refused before S3 is asked. */
  readonly bucket: string;
  read(reference: ImageReference): Promise<Uint8Array>;
}

/** Only the originals the edge agent uploads (lots/<lotId>/images/<file>), never reports or manifests. */
const IMAGE_KEY = new RegExp(`^${LOTS_PREFIX}[A-Za-z0-9._-]+/images/[A-Za-z0-9._-]+$`);

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match?.[1] || !match[2]) {
    throw new ImageReferenceError(`'${uri}' is not an s3://<bucket>/<key> URI`);
  }
  return { bucket: match[1], key: match[2] };
}

/**
 * `s3` may be a promise: imageSourceFromEnv loads the AWS SDK only when references can come (the
 * SDK's import is most of a bare `waferflow endpoint` start's CPU otherwise).
 */
export function createS3ImageSource(options: {
  s3: S3Client | Promise<S3Client>;
  bucket: string;
  maxBytes?: number;
}): ImageSource {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_REFERENCED_BYTES;
  // The client and the SDK's command class, resolved once for every read (a source exists only
  // where references can come, so loading the SDK here loads nothing an endpoint would not use).
  const sdk = Promise.all([options.s3, import("@aws-sdk/client-s3")]);
  // Observed by each read; a failure here must not count as unhandled before the first one.
  sdk.catch(() => {});
  return {
    bucket: options.bucket,
    async read(reference) {
      const { bucket, key } = parseS3Uri(reference.s3Uri);
      if (bucket !== options.bucket) {
        throw new ImageReferenceError(
          `bucket '${bucket}' is not the one this endpoint reads images from ('${options.bucket}')`,
        );
      }
      if (!IMAGE_KEY.test(key)) {
        throw new ImageReferenceError(
          `key '${key}' is not a lot image (${LOTS_PREFIX}<lotId>/images/<file>)`,
        );
      }
      let bytes: Uint8Array;
      try {
        const [s3, { GetObjectCommand }] = await sdk;
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
          response.Body?.transformToWebStream().cancel();
          throw new ImageReferenceError(
            `${reference.s3Uri} is ${response.ContentLength} bytes, over the ${maxBytes} byte limit`,
          );
        }
        if (!response.Body) throw new ImageSourceError(`${reference.s3Uri} has no body`);
        bytes = await readBody(response.Body, response.ContentLength, reference.s3Uri);
      } catch (error) {
        if (error instanceof ImageReferenceError || error instanceof ImageSourceError) throw error;
        const name = (error as { name?: string }).name;
        if (name === "NoSuchKey" || name === "NotFound") {
          throw new ImageReferenceError(`${reference.s3Uri} does not exist`, { cause: error });
        }
        throw new ImageSourceError(
          `reading ${reference.s3Uri} failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      if (reference.sha256 !== undefined) {
        const actual = createHash("sha256").update(bytes).digest("hex");
        if (actual !== reference.sha256) {
          throw new ImageChecksumError(
            `${reference.s3Uri} has SHA-256 ${actual}, the request says ${reference.sha256}`,
          );
        }
      }
      return bytes;
    },
  };
}

/**
 * The object's bytes in one buffer of its announced length, filled as the chunks arrive: the
 * SDK's transformToByteArray keeps every chunk and copies them into a new buffer at the end (one
 * more copy of each image, and its garbage, on the server's thread). The buffer is shared memory,
 * so the inference pool offers it to every thread without copying it (endpoint/inference-pool.ts).
 * A body that is not a Node stream, or of unknown length, goes the SDK's way.
 */
async function readBody(
  body: { transformToByteArray(): Promise<Uint8Array> },
  length: number | undefined,
  uri: string,
): Promise<Uint8Array> {
  if (length === undefined || !(Symbol.asyncIterator in body)) return body.transformToByteArray();
  const bytes = new Uint8Array(new SharedArrayBuffer(length));
  let filled = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (filled + chunk.length > length) {
      throw new ImageSourceError(`${uri} sent more than the ${length} bytes it announced`);
    }
    bytes.set(chunk, filled);
    filled += chunk.length;
  }
  if (filled !== length) {
    throw new ImageSourceError(`${uri} ended after ${filled} of the ${length} bytes it announced`);
  }
  return bytes;
}

/**
 * WAFERFLOW_IMAGE_BUCKET names the one bucket S3 references may point into (the stack sets it on
 * the SageMaker model); unset, the endpoint takes images in the request body only.
 */
export function imageSourceFromEnv(
  env: Record<string, string | undefined> = process.env,
): ImageSource | undefined {
  const config = readConfig(
    z.object({
      WAFERFLOW_IMAGE_BUCKET: z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name")
        .optional()
        .or(z.literal("").transform(() => undefined)),
    }),
    env,
  );
  if (!config.WAFERFLOW_IMAGE_BUCKET) return undefined;
  // The SDK's import (about 1 s of CPU) starts now, so the first reference does not wait for it;
  // an endpoint that takes images in the body only never loads it.
  const s3 = import("../lib/aws.ts").then(({ createS3Client }) => createS3Client());
  return createS3ImageSource({ s3, bucket: config.WAFERFLOW_IMAGE_BUCKET });
}
