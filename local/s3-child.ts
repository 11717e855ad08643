// Child process running s3rver, started with --openssl-legacy-provider because its ListObjectsV2 tokens use DES.
import { AsyncLocalStorage } from "node:async_hooks";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable } from "node:stream";
import { readBodyUpTo } from "../lib/http-body.ts";
import { LOCAL_CREDENTIALS } from "./account.ts";
import { decodeAwsChunked, isAwsChunked, withoutAwsChunked } from "./aws-chunked.ts";
import { bodyTooLarge, closeServer, listen } from "./http.ts";
import type { BucketKms } from "./resource-model.ts";
import type { S3ChildConfig, S3ChildMessage, S3ObjectCreated } from "./s3.ts";
import { type BucketConfigStore, cacheBucketConfig } from "./s3-config-cache.ts";
import {
  BodyDigestError,
  CHECKED_BODY_MAX_BYTES,
  CHECKSUM_SHA256_HEADER,
  checkWhileStoring,
  declaredChecksumSha256,
  digestRefusal,
  digestsOf,
  fastObjectFiles,
  malformedDigestHeader,
  type ObjectFileStore,
  removeInterruptedUploads,
} from "./s3-object-io.ts";
import { abortUpload, listParts, type S3Reply, s3Error } from "./s3-uploads.ts";
import { SignatureError, s3Refusal, verifySignature } from "./sigv4.ts";

const require = createRequire(import.meta.url);
/** S3's largest single PUT (and part). */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3;
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverApp;

interface KoaContext {
  req: unknown;
  method: string;
  originalUrl: string;
  querystring: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  response: {
    get(field: string): string;
    set(field: string, value: string): void;
    remove(field: string): void;
  };
}

interface S3rverApp {
  store: {
    getResourcePath(bucket: string, key: undefined, resource: string): string;
    existsObject(bucket: string, key: string): Promise<boolean>;
  } & BucketConfigStore;
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  callback(): (request: unknown, response: unknown) => void;
  configureBuckets(): Promise<void>;
  on(event: "event", listener: (event: S3EventNotification) => void): void;
}

/** The S3 notification record s3rver emits (the shape of a real S3 event notification). */
interface S3EventNotification {
  Records: Array<{
    eventName: string;
    eventTime: string;
    responseElements: Record<string, string>;
    requestParameters: { sourceIPAddress?: string };
    s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
  }>;
}

function reply(ctx: KoaContext, answer: S3Reply): void {
  ctx.status = answer.status;
  if (answer.contentType) ctx.type = answer.contentType;
  ctx.body = answer.body || null;
}

function send(message: S3ChildMessage): void {
  process.send?.(message);
}

/**
 * s3rver reports a completed multipart upload and a browser POST upload alike ("Post"); the URL
 * of the request that caused the event tells them apart, and it is still in scope when s3rver emits.
 */
const currentRequestUrl = new AsyncLocalStorage<string>();

function reasonFor(eventName: string, url: string | undefined): string | undefined {
  if (eventName === "ObjectCreated:Put") return "PutObject";
  if (eventName === "ObjectCreated:Copy") return "CopyObject";
  if (eventName === "ObjectCreated:Post") {
    return url && /[?&]uploadId=/.test(url) ? "CompleteMultipartUpload" : "PostObject";
  }
  return undefined;
}

/**
 * What a path-style request addresses: its bucket and key ("" at the service or bucket level) and
 * its subresources (query names, less the SDK's `x-id` and GetObject's `versionId`/`response-*`).
 */
function targetOf(ctx: KoaContext) {
  const [, bucket = "", ...key] = (ctx.originalUrl.split("?")[0] ?? "").split("/");
  const query = new URLSearchParams(ctx.querystring);
  const subresources = [...query.keys()].filter(
    (name) => name !== "x-id" && name !== "versionId" && !name.startsWith("response-"),
  );
  const only = (...allowed: string[]) => subresources.every((name) => allowed.includes(name));
  return {
    bucket: decodeURIComponent(bucket),
    key: key.map(decodeURIComponent).join("/"),
    query,
    subresources,
    only,
  };
}
type Target = ReturnType<typeof targetOf>;

/** PutObject: a PUT to a key with no subresource and no copy source. */
const isPutObject = (ctx: KoaContext, target: Target) =>
  ctx.method === "PUT" &&
  target.key !== "" &&
  target.subresources.length === 0 &&
  ctx.headers["x-amz-copy-source"] === undefined;

/**
 * Requests S3 answers with the object's encryption (x-amz-server-side-encryption and its key):
 * PutObject, CopyObject, UploadPart, Create/CompleteMultipartUpload, GetObject and HeadObject.
 */
function answersWithEncryption(ctx: KoaContext, { key, subresources, only }: Target): boolean {
  if (key === "") return false;
  if (ctx.method === "PUT") return only("partNumber", "uploadId");
  if (ctx.method === "GET" || ctx.method === "HEAD") return only("partNumber");
  return ctx.method === "POST" && subresources.length === 1 && only("uploads", "uploadId");
}

/**
 * s3rver answers ListParts and AbortMultipartUpload with MethodNotAllowed, after it has checked
 * the signature and the bucket; those two are answered here instead.
 */
async function uploadOperationS3rverLacks(
  app: S3rverApp,
  ctx: KoaContext,
  error: unknown,
): Promise<S3Reply | undefined> {
  const { bucket, key, query } = targetOf(ctx);
  const uploadId = query.get("uploadId");
  if ((error as { code?: string }).code !== "MethodNotAllowed" || !uploadId || !bucket || !key) {
    return undefined;
  }
  const uploadDir = join(app.store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  if (ctx.method === "GET") return listParts({ uploadDir, bucket, key, uploadId, query });
  if (ctx.method === "DELETE") return abortUpload({ uploadDir, key, uploadId });
  return undefined;
}

/**
 * Conditional writes: s3rver ignores If-None-Match on writes; AWS S3 (since 2024) answers a
 * PutObject or CompleteMultipartUpload with `If-None-Match: *` 412 PreconditionFailed when the key
 * already holds an object. Writes to one key are serialised so two such writes racing cannot both
 * succeed.
 */
function conditionalWrites(app: S3rverApp) {
  const busy = new Map<string, Promise<void>>();
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const { bucket, key, query } = targetOf(ctx);
    const isPut = ctx.method === "PUT" && !query.has("uploadId") && !query.has("partNumber");
    const isComplete = ctx.method === "POST" && query.has("uploadId");
    if (ctx.headers["if-none-match"] !== "*" || !(isPut || isComplete) || !bucket || !key) {
      await next();
      return;
    }
    const id = `${bucket}/${key}`;
    while (busy.has(id)) await busy.get(id);
    let release = () => {};
    busy.set(id, new Promise<void>((resolve) => (release = resolve)));
    try {
      if (await app.store.existsObject(bucket, key)) {
        const condition = { Condition: "If-None-Match" };
        const message = "At least one of the pre-conditions you specified did not hold";
        reply(ctx, s3Error(412, "PreconditionFailed", message, condition));
        return;
      }
      await next();
    } finally {
      busy.delete(id);
      release();
    }
  };
}

/**
 * Checks a request's body against its Content-MD5 and signed payload hash, as S3 does before
 * storing anything. PutObject's body streams on to the store, which checks it as it writes it
 * (fastObjectFiles); any other body (a part, an XML document) is read whole first, up to
 * CHECKED_BODY_MAX_BYTES (a larger one streams on unchecked). aws-chunked bodies are decoded.
 * Returns S3's refusal, or undefined with ctx.req the body s3rver is to read.
 */
async function checkBody(
  ctx: KoaContext,
  request: Readable,
  kmsBuckets: Record<string, BucketKms>,
): Promise<S3Reply | undefined> {
  const malformed = malformedDigestHeader(ctx.headers);
  if (malformed) return malformed;
  const chunked = isAwsChunked(ctx.headers);
  const length = Number(ctx.headers["content-length"] ?? Number.NaN);
  const target = targetOf(ctx);
  if (isPutObject(ctx, target)) {
    const body = chunked
      ? Readable.from([await decodedAwsChunked(request)], { objectMode: false })
      : request;
    // An SSE-KMS bucket's ETags are no MD5s on S3: the store need not take one for them.
    const opaqueEtag = Object.hasOwn(kmsBuckets, target.bucket);
    ctx.req = checkWhileStoring(body, ctx.headers, { opaqueEtag });
    return undefined;
  }
  if (!chunked && !(Number.isInteger(length) && length <= CHECKED_BODY_MAX_BYTES)) return undefined;
  // The framing is not the body: decoded first, then hashed (its payload hash is a STREAMING-*
  // marker, so only a Content-MD5 or a checksum header applies).
  const body = chunked
    ? await decodedAwsChunked(request)
    : await readBodyUpTo(request, CHECKED_BODY_MAX_BYTES, bodyTooLarge);
  const refusal = digestRefusal(ctx.headers, digestsOf(body, ctx.headers));
  if (refusal) return refusal;
  ctx.req = Readable.from([body], { objectMode: false });
  return undefined;
}

async function decodedAwsChunked(request: Readable): Promise<Buffer> {
  return decodeAwsChunked(await readBodyUpTo(request, MAX_OBJECT_BYTES, bodyTooLarge));
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as S3ChildConfig;
  const kmsBuckets = config.kmsBuckets ?? {};
  const app = new S3rver({
    address: "127.0.0.1",
    port: config.port,
    directory: config.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: config.buckets.map((name) => ({ name })),
  });
  await removeInterruptedUploads(config.directory);
  cacheBucketConfig(app.store);
  fastObjectFiles(app.store as unknown as ObjectFileStore);
  // s3rver's first middleware is koa-logger, formatting (with colours) a line per request for a
  // winston logger that `silent` mutes: pure CPU, about 6% of the S3 process in a large lot.
  if (app.middleware[0]?.name === "logger") app.middleware.shift();
  await app.configureBuckets();
  app.on("event", (notification) => {
    const url = currentRequestUrl.getStore();
    for (const record of notification.Records) {
      const reason = reasonFor(record.eventName, url);
      if (!reason) continue;
      const created: S3ObjectCreated = {
        bucket: record.s3.bucket.name,
        // s3rver puts the raw key here, not the URL-encoded one real notifications carry.
        key: record.s3.object.key,
        size: record.s3.object.size ?? 0,
        etag: record.s3.object.eTag?.replace(/"/g, "") ?? "",
        requestId: record.responseElements["x-amz-request-id"] ?? "",
        sourceIp: record.requestParameters.sourceIPAddress ?? "127.0.0.1",
        time: record.eventTime,
        reason,
      };
      send({ type: "object-created", object: created });
    }
  });

  // Behind the signature check and framing decoder below (unshifted after this): If-None-Match on
  // writes, as AWS S3 answers it, only for requests already known to be signed.
  app.middleware.unshift(conditionalWrites(app));
  // First in line: s3rver lets anonymous requests through and checks no V4 signature, so an
  // unsigned or wrongly signed request is refused here, before s3rver sees it. S3 signs the
  // payload's hash as the x-amz-content-sha256 header; the body is then read and checked against
  // it and its Content-MD5 (checkBody), and aws-chunked bodies are decoded, so s3rver's object and
  // part handlers see plain bytes (the framing's trailing checksum is not verified; our manifests
  // carry SHA-256).
  app.middleware.unshift(async (ctx, next) => {
    const request = ctx.req as { rawHeaders: string[] };
    try {
      await verifySignature(
        { method: ctx.method, url: ctx.originalUrl, rawHeaders: request.rawHeaders },
        { credentials: LOCAL_CREDENTIALS, doubleEncodePath: false },
      );
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      const { code, status } = s3Refusal(error);
      reply(ctx, s3Error(status, code, error.message));
      return;
    }
    if (ctx.req instanceof Readable) {
      const refusal = await checkBody(ctx, ctx.req, kmsBuckets);
      if (refusal) {
        reply(ctx, refusal);
        return;
      }
    }
    try {
      await next();
    } catch (error) {
      if (error instanceof BodyDigestError) {
        reply(ctx, error.reply);
        return;
      }
      const answer = await uploadOperationS3rverLacks(app, ctx, error);
      if (!answer) throw error;
      reply(ctx, answer);
      return;
    }
    // s3rver answers a range of an empty object with "bytes 0-0/0" and a length of 1 it never
    // sends, so the client sees the connection reset; S3 answers 416 InvalidRange (an empty
    // object has no byte 0), which is what PreprocessImage's ranged read expects.
    if (ctx.status === 206 && /\/0$/.test(ctx.response.get("content-range"))) {
      (ctx.body as { destroy?: () => void } | null)?.destroy?.();
      ctx.response.remove("content-range");
      const message = "The requested range is not satisfiable";
      reply(ctx, s3Error(416, "InvalidRange", message, { ActualObjectSize: "0" }));
      return;
    }
    // S3 answers a PutObject that declared x-amz-checksum-sha256 with it (checked on receipt):
    // the client's confirmation that the object is those bytes, whatever its ETag is.
    const target = targetOf(ctx);
    const checksum = declaredChecksumSha256(ctx.headers);
    if (checksum !== undefined && ctx.status === 200 && isPutObject(ctx, target)) {
      ctx.response.set(CHECKSUM_SHA256_HEADER, checksum);
      ctx.response.set("x-amz-checksum-type", "FULL_OBJECT");
    }
    // A bucket whose default encryption is SSE-KMS: S3 names the algorithm and key on every
    // object it stores or serves (and clients such as the agent then know its ETags are no MD5s).
    const kms = Object.hasOwn(kmsBuckets, target.bucket) ? kmsBuckets[target.bucket] : undefined;
    if (kms && ctx.status >= 200 && ctx.status < 300 && answersWithEncryption(ctx, target)) {
      ctx.response.set("x-amz-server-side-encryption", "aws:kms");
      ctx.response.set("x-amz-server-side-encryption-aws-kms-key-id", kms.keyArn);
      if (kms.bucketKeyEnabled) {
        ctx.response.set("x-amz-server-side-encryption-bucket-key-enabled", "true");
      }
    }
    const encoding = ctx.response.get("content-encoding");
    if (encoding.includes("aws-chunked")) {
      const rest = withoutAwsChunked(encoding);
      if (rest) ctx.response.set("content-encoding", rest);
      else ctx.response.remove("content-encoding");
    }
  });
  const handle = app.callback();
  const server = createServer((request, response) => {
    currentRequestUrl.run(request.url ?? "", () => handle(request, response));
  });
  send({ type: "ready", port: await listen(server, config.port, "S3") });

  const stop = () => closeServer(server).then(() => process.exit(0));
  process.on("message", (message: { type?: string }) => {
    if (message.type === "stop") stop();
  });
  // Without its parent nobody can reach or stop this server: do not linger as an orphan.
  process.on("disconnect", stop);
  // Ctrl-C reaches the whole process group; the parent stops us once its own work has drained.
  process.on("SIGINT", () => {});
}

main().catch((error: unknown) => {
  send({ type: "failed", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
