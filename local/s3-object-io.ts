// The local S3's request bodies and object files: the digests S3 checks on receipt (Content-MD5, the signed payload hash), each body hashed once, objects written and read in large pieces.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { type S3Reply, s3Error } from "./s3-uploads.ts";

const require = createRequire(import.meta.url);

/**
 * Bodies up to this size are read whole before s3rver sees them, so their digests are checked
 * before anything is stored (as S3 does); a larger body (a multi-GiB part) is streamed to s3rver
 * unchecked rather than held in memory. Every image of a lot is far below it.
 */
export const CHECKED_BODY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Read size for objects served: s3rver's streams read 64 KiB at a time, so a 4 MiB image was 64
 * reads, 64 socket writes and their callbacks and buffers; 1 MiB makes that 4.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/** A request body as it arrived (the socket's chunks, never concatenated), with its MD5. */
export interface CheckedBody {
  chunks: Buffer[];
  bytes: number;
  /** MD5 of the body, hex: the ETag S3 gives a single PUT. */
  md5Hex: string;
}

/**
 * Reads a body up to `limit` bytes, hashing each chunk as it arrives (MD5 always, for the ETag
 * and Content-MD5; SHA-256 when the signed payload hash is one), keeping the chunks as they came:
 * a 4 MiB image copied into one Buffer cost more CPU (fresh pages) than hashing it.
 */
export function readHashedBody(
  request: Readable,
  options: { sha256: boolean; limit: number; tooLarge: (limit: number) => Error },
): Promise<{ chunks: Buffer[]; bytes: number; md5: Buffer; sha256Hex?: string }> {
  return new Promise((resolveBody, reject) => {
    const md5 = createHash("md5");
    const sha256 = options.sha256 ? createHash("sha256") : undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > options.limit) {
        settled = true;
        request.off("data", onData);
        // Paused, not destroyed: the server can still answer on the same connection.
        request.pause();
        reject(options.tooLarge(options.limit));
        return;
      }
      md5.update(chunk);
      sha256?.update(chunk);
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => {
      if (settled) return;
      settled = true;
      resolveBody({
        chunks,
        bytes,
        md5: md5.digest(),
        ...(sha256 ? { sha256Hex: sha256.digest("hex") } : {}),
      });
    });
    request.once("error", (cause) => {
      if (!settled) reject(cause);
      settled = true;
    });
  });
}

/** The signed payload hash when it is one (not UNSIGNED-PAYLOAD or a STREAMING-* marker). */
export function declaredPayloadSha256(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const payloadHash = String(headers["x-amz-content-sha256"] ?? "");
  return /^[0-9a-f]{64}$/.test(payloadHash) ? payloadHash : undefined;
}

/**
 * Checks a body against the digests its request declares, as S3 does before storing it:
 * Content-MD5 (InvalidDigest when it is not a base64 MD5, BadDigest when it is another body's)
 * and a hex x-amz-content-sha256 (the SigV4 payload hash, whose header the signature covers:
 * XAmzContentSHA256Mismatch). Returns S3's error document, or undefined when both hold.
 */
export function digestRefusal(
  headers: Record<string, string | string[] | undefined>,
  computed: { md5: Buffer; sha256Hex?: string },
): S3Reply | undefined {
  const contentMd5 = headers["content-md5"];
  if (contentMd5 !== undefined) {
    const declared = Buffer.from(String(contentMd5), "base64");
    if (declared.length !== 16 || declared.toString("base64") !== String(contentMd5).trim()) {
      return s3Error(400, "InvalidDigest", "The Content-MD5 you specified was not valid.");
    }
    if (!declared.equals(computed.md5)) {
      return s3Error(
        400,
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        { ExpectedDigest: String(contentMd5), CalculatedDigest: computed.md5.toString("base64") },
      );
    }
  }
  const payloadHash = declaredPayloadSha256(headers);
  if (payloadHash !== undefined && computed.sha256Hex !== payloadHash) {
    return s3Error(
      400,
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      {
        ClientComputedContentSHA256: payloadHash,
        S3ComputedContentSHA256: computed.sha256Hex ?? "",
      },
    );
  }
  return undefined;
}

/** Single PUTs' bodies, checked and hashed: the store writes their chunks without hashing again. */
const checkedBodies = new WeakMap<object, CheckedBody>();

/**
 * The stream s3rver reads a checked body from; for PutObject the store override below finds the
 * chunks and MD5 behind it and writes them in one call instead.
 */
export function checkedBodyStream(body: CheckedBody): Readable {
  const stream = Readable.from(body.chunks, { objectMode: false });
  checkedBodies.set(stream, body);
  return stream;
}

/** The chunks left after the first `written` bytes of them. */
function remainingChunks(chunks: Buffer[], written: number): Buffer[] {
  let skip = written;
  let index = 0;
  while (index < chunks.length && skip >= (chunks[index] as Buffer).length) {
    skip -= (chunks[index] as Buffer).length;
    index++;
  }
  const rest = chunks.slice(index);
  if (skip > 0 && rest[0]) rest[0] = rest[0].subarray(skip);
  return rest;
}

interface StoredObject {
  bucket: string;
  key: string;
  content: unknown;
  metadata: Record<string, string>;
}

interface ObjectMetadata extends Record<string, string | number | undefined> {
  "content-length"?: number | string;
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
 * s3rver's PutObject pipes the body through an MD5 transform into a file stream, a chunk at a
 * time; a checked body has its MD5 already and is written in one call (and, unlike s3rver's own
 * Buffer path, the answer waits until the file is written). Its GetObject serves the file in
 * 64 KiB reads; here in 1 MiB reads. Files, metadata and answers are s3rver's own otherwise.
 */
export function fastObjectFiles(store: ObjectFileStore): void {
  const S3Object = require("s3rver/lib/models/object") as S3ObjectClass;
  const putObject = store.putObject.bind(store);
  store.putObject = async (object) => {
    const body =
      typeof object.content === "object" && object.content !== null
        ? checkedBodies.get(object.content)
        : undefined;
    if (!body) return putObject(object);
    const objectPath = store.getResourcePath(object.bucket, object.key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    const file = await open(objectPath, "w");
    try {
      // writev writes what it can per call; go on from where it stopped.
      let written = 0;
      let chunks = body.chunks;
      while (written < body.bytes) {
        const { bytesWritten } = await file.writev(chunks);
        written += bytesWritten;
        chunks = remainingChunks(chunks, bytesWritten);
      }
    } finally {
      await file.close();
    }
    await store.putMetadata(object.bucket, object.key, object.metadata, body.md5Hex);
    return { size: body.bytes, md5: body.md5Hex };
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
