// The local S3's request bodies and object files: the digests S3 checks on receipt (Content-MD5, the signed payload hash, x-amz-checksum-sha256), each body hashed once as it streams to its file, objects written and read in large pieces.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, type Dirent } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type S3Reply, s3Error } from "./s3-uploads.ts";

const require = createRequire(import.meta.url);

/**
 * Bodies other than PutObject's (parts, XML documents) up to this size are read whole before
 * s3rver sees them, so their digests are checked before anything is stored (as S3 does); a larger
 * one (a multi-GiB part) is streamed to s3rver unchecked rather than held in memory. PutObject's
 * body is checked as it streams to its file, at any size.
 */
export const CHECKED_BODY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * PutObject's file buffers up to this much while a write is under way, written then in one writev:
 * s3rver wrote each 64 KiB socket chunk with its own write.
 */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Read size for objects served: s3rver's streams read 64 KiB at a time, so a 4 MiB image was 64
 * reads, 64 socket writes and their callbacks and buffers; 1 MiB makes that 4.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/** The signed payload hash when it is one (not UNSIGNED-PAYLOAD or a STREAMING-* marker). */
export function declaredPayloadSha256(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const payloadHash = String(headers["x-amz-content-sha256"] ?? "");
  return /^[0-9a-f]{64}$/.test(payloadHash) ? payloadHash : undefined;
}

type Headers = Record<string, string | string[] | undefined>;

/** The flexible checksum S3 checks a body against and echoes in its answer (the agent's PUTs carry it). */
export const CHECKSUM_SHA256_HEADER = "x-amz-checksum-sha256";

/** The declared x-amz-checksum-sha256 (base64 of the body's SHA-256), when the request has one. */
export function declaredChecksumSha256(headers: Headers): string | undefined {
  const value = headers[CHECKSUM_SHA256_HEADER];
  return value === undefined ? undefined : String(value).trim();
}

/** True when the body's SHA-256 must be taken: a hex payload hash or an x-amz-checksum-sha256 to check. */
export function needsSha256(headers: Headers): boolean {
  return (
    declaredPayloadSha256(headers) !== undefined || declaredChecksumSha256(headers) !== undefined
  );
}

/** The digests a body read whole must be checked against (digestRefusal): only those its request declares. */
export function digestsOf(body: Buffer, headers: Headers): { md5?: Buffer; sha256?: Buffer } {
  const digest = (algorithm: string) => createHash(algorithm).update(body).digest();
  return {
    ...(headers["content-md5"] !== undefined ? { md5: digest("md5") } : {}),
    ...(needsSha256(headers) ? { sha256: digest("sha256") } : {}),
  };
}

/** InvalidRequest when x-amz-checksum-sha256 is not the base64 of 32 bytes (S3 refuses it before the body). */
function malformedChecksumSha256(headers: Headers): S3Reply | undefined {
  const declared = declaredChecksumSha256(headers);
  if (declared === undefined) return undefined;
  const bytes = Buffer.from(declared, "base64");
  if (bytes.length === 32 && bytes.toString("base64") === declared) return undefined;
  return s3Error(400, "InvalidRequest", `Value for ${CHECKSUM_SHA256_HEADER} header is invalid.`);
}

/**
 * A digest header that cannot be one, refused before the body is read: InvalidDigest for a
 * Content-MD5 that is not the base64 of 16 bytes, InvalidRequest for such an x-amz-checksum-sha256.
 */
export function malformedDigestHeader(headers: Headers): S3Reply | undefined {
  const contentMd5 = headers["content-md5"];
  if (contentMd5 === undefined) return malformedChecksumSha256(headers);
  const declared = Buffer.from(String(contentMd5), "base64");
  if (declared.length === 16 && declared.toString("base64") === String(contentMd5).trim()) {
    return malformedChecksumSha256(headers);
  }
  return s3Error(400, "InvalidDigest", "The Content-MD5 you specified was not valid.");
}

/**
 * Checks a body's digests against those its request declares, as S3 does before storing it:
 * Content-MD5 (BadDigest when it is another body's), a hex x-amz-content-sha256 (the SigV4
 * payload hash, whose header the signature covers: XAmzContentSHA256Mismatch) and
 * x-amz-checksum-sha256 (BadDigest). Returns S3's error document, or undefined when all hold.
 * The headers' form was checked before the body was read (malformedDigestHeader).
 */
export function digestRefusal(
  headers: Headers,
  computed: { md5?: Buffer; sha256?: Buffer },
): S3Reply | undefined {
  const contentMd5 = headers["content-md5"];
  if (contentMd5 !== undefined) {
    if (!computed.md5) throw new Error("a Content-MD5 was declared but the body's MD5 not taken");
    if (!Buffer.from(String(contentMd5), "base64").equals(computed.md5)) {
      return s3Error(
        400,
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        { ExpectedDigest: String(contentMd5), CalculatedDigest: computed.md5.toString("base64") },
      );
    }
  }
  const sha256Hex = computed.sha256?.toString("hex") ?? "";
  const payloadHash = declaredPayloadSha256(headers);
  if (payloadHash !== undefined && sha256Hex !== payloadHash) {
    return s3Error(
      400,
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: sha256Hex },
    );
  }
  const checksum = declaredChecksumSha256(headers);
  if (checksum !== undefined && computed.sha256?.toString("base64") !== checksum) {
    return s3Error(
      400,
      "BadDigest",
      "The SHA256 you specified did not match the calculated checksum.",
    );
  }
  return undefined;
}

/** A body refused for its digests while the store wrote it: the child answers with `reply`. */
export class BodyDigestError extends Error {
  override name = "BodyDigestError";
  readonly reply: S3Reply;
  constructor(reply: S3Reply) {
    super("the body does not match its declared digests");
    this.reply = reply;
  }
}

/**
 * How a PutObject's body is to be stored: the headers declaring its digests, and whether its ETag
 * may be opaque (an SSE-KMS bucket's, whose ETags S3 does not make MD5s of the data).
 */
interface StoringRules {
  headers: Headers;
  opaqueEtag: boolean;
}

/** PutObject bodies and how to store them, for the store override below. */
const declaredDigests = new WeakMap<object, StoringRules>();

/**
 * Marks a PutObject's body stream: the store checks it against these headers as it writes it.
 * With `opaqueEtag` (an SSE-KMS bucket) the body's MD5 is taken only when a Content-MD5 is to be
 * checked or no SHA-256 is taken; the ETag is then the first 16 bytes of the SHA-256 taken anyway.
 */
export function checkWhileStoring(
  body: Readable,
  headers: Headers,
  options: { opaqueEtag: boolean },
): Readable {
  declaredDigests.set(body, { headers, opaqueEtag: options.opaqueEtag });
  return body;
}

let uploadsStarted = 0;

interface StoredObject {
  bucket: string;
  key: string;
  content: unknown;
  metadata: Record<string, string>;
}

interface ObjectMetadata extends Record<string, string | number | undefined> {
  "content-length"?: number | string;
}

/** A PutObject's body before it is checked and renamed over its object (fastObjectFiles). */
const PARTIAL_UPLOAD = /\.upload-\d+-\d+$/;

/**
 * Removes the partial bodies a PutObject left when the S3 process died mid-write (a crash or
 * kill -9 of the stack): no object was replaced by them, listings skip them, and at start no
 * PutObject is in flight, so every one found is a leftover. Returns how many it removed.
 */
export async function removeInterruptedUploads(directory: string): Promise<number> {
  let removed = 0;
  let entries: Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return 0;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isFile() || !PARTIAL_UPLOAD.test(entry.name)) continue;
    await rm(join(entry.parentPath, entry.name), { force: true });
    removed++;
  }
  return removed;
}

/** The part of s3rver's filesystem store whose object reads and writes are replaced here. */
export interface ObjectFileStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<ObjectMetadata>;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5: string,
  ): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<unknown>;
}

type S3ObjectClass = new (
  bucket: string,
  key: string,
  content: unknown,
  metadata: ObjectMetadata,
) => { range?: { start: number; end: number } };

/**
 * s3rver's PutObject pipes the body through an MD5 transform into the object's file, one write
 * per 64 KiB chunk; here a marked body (checkWhileStoring) is hashed (SHA-256 when signed or
 * declared as its checksum, MD5 where checkWhileStoring says it is needed) as it streams to a file
 * beside the object, in writes of up to 1 MiB, and renamed into place only when its digests hold.
 * Its GetObject serves the file in 64 KiB reads; here in 1 MiB reads.
 * Files, metadata and answers are s3rver's own otherwise.
 */
export function fastObjectFiles(store: ObjectFileStore): void {
  const S3Object = require("s3rver/lib/models/object") as S3ObjectClass;
  const putObject = store.putObject.bind(store);
  store.putObject = async (object) => {
    const rules =
      typeof object.content === "object" && object.content !== null
        ? declaredDigests.get(object.content)
        : undefined;
    if (!rules) return putObject(object);
    const { headers } = rules;
    const objectPath = store.getResourcePath(object.bucket, object.key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    // Written beside the object and renamed over it once checked: a refused body leaves the key
    // as it was, and a reader never sees half an object (s3rver wrote in place).
    const partial = `${objectPath}.upload-${process.pid}-${++uploadsStarted}`;
    const sha256 = needsSha256(headers) ? createHash("sha256") : undefined;
    // The MD5 (5.5 ms per 4 MiB, the largest CPU cost of a PUT here) only where something needs
    // it: a Content-MD5 to check, an ETag S3 makes the MD5 (plain and SSE-S3 buckets), or no
    // SHA-256 to make an opaque ETag of.
    const md5 =
      !rules.opaqueEtag || headers["content-md5"] !== undefined || !sha256
        ? createHash("md5")
        : undefined;
    let size = 0;
    try {
      await pipeline(
        object.content as AsyncIterable<Buffer>,
        async function* hashed(chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            md5?.update(chunk);
            sha256?.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(partial, { highWaterMark: WRITE_BATCH_BYTES }),
      );
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const computed = {
      ...(md5 ? { md5: md5.digest() } : {}),
      ...(sha256 ? { sha256: sha256.digest() } : {}),
    };
    const refusal = digestRefusal(headers, computed);
    if (refusal) {
      await rm(partial, { force: true });
      throw new BodyDigestError(refusal);
    }
    await rename(partial, objectPath);
    // s3rver keeps the ETag in the object's .md5 file and answers it as it is found there.
    const etag = (computed.md5 ?? computed.sha256?.subarray(0, 16))?.toString("hex") ?? "";
    await store.putMetadata(object.bucket, object.key, object.metadata, etag);
    return { size, md5: etag };
  };

  // s3rver's getObject, with the read size as the only change (ranges and 416 as it answers them).
  store.getObject = async (bucket, key, options) => {
    try {
      const metadata = await store.getMetadata(bucket, key);
      const lastByte = Math.max(0, Number(metadata["content-length"]) - 1);
      const ranged = options !== undefined && (options.start !== undefined || Boolean(options.end));
      const range = {
        start: options?.start || 0,
        end: Math.min(options?.end || Number.POSITIVE_INFINITY, lastByte),
      };
      if (range.start < 0 || Math.min(range.end, lastByte) < range.start) {
        const object = new S3Object(bucket, key, null, metadata);
        if (ranged) object.range = range;
        return object;
      }
      const content = await new Promise((resolveStream, reject) => {
        const stream = createReadStream(store.getResourcePath(bucket, key, "object"), {
          ...range,
          highWaterMark: READ_CHUNK_BYTES,
        })
          .on("error", reject)
          .on("open", () => resolveStream(stream));
      });
      const object = new S3Object(bucket, key, content, metadata);
      if (ranged) object.range = range;
      return object;
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return null;
      throw error;
    }
  };
}
