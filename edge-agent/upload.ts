// Uploads one lot to S3, resumably: every image checksummed and confirmed, the manifest strictly last.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { lotKeys } from "../lib/keys.ts";
import { forEachLimited, Semaphore } from "../lib/pool.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import type { JournalFile, JournalMultipart, JournalPart } from "../schemas/agent-journal.ts";
import {
  MANIFEST_SCHEMA_VERSION,
  MAX_FILE_NAME_LENGTH,
  MAX_LOT_IMAGES,
  type Manifest,
  ManifestSchema,
} from "../schemas/lot.ts";
import {
  AgentConfigError,
  ChecksumMismatchError,
  EmptyLotError,
  LotIdTakenError,
  RequestTimeoutError,
  SourceChangedError,
  TooManyImagesError,
  UploadError,
} from "./errors.ts";
import { acquireLotLock, JournalStore, journalPath, loadJournal, planJournal } from "./journal.ts";
import { type LotScan, type RejectedFile, type ScannedImage, scanLot } from "./lot.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry } from "./retry.ts";

const MIB = 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 8 * MIB;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 8 * MIB;
/** S3 refuses smaller parts (except the last one). */
export const MIN_PART_SIZE_BYTES = 5 * MIB;
const MAX_PART_SIZE_BYTES = 5 * 1024 * MIB;
const MAX_PARTS = 10_000;
const MAX_MANIFEST_IMAGES = MAX_LOT_IMAGES;
export const DEFAULT_CONCURRENCY = 4;
/** Long enough for an 8 MiB part over a 1 Mbit/s uplink, with room to spare. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

export interface UploadLotOptions {
  dir: string;
  s3: S3Client;
  bucket: string;
  /** Where journals live; survives restarts, so it must not be a temp directory in production. */
  stateDir: string;
  partSizeBytes?: number;
  /** Files up to this size go in one PutObject, read whole into memory; larger ones in parts. */
  multipartThresholdBytes?: number;
  /** Requests in flight at once, across files and parts; also bounds memory to this many parts. */
  concurrency?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /**
   * Re-send the manifest of a lot already finished. A lot whose images or metadata differ from
   * the lot already in S3 under its id is refused even so (LotIdTakenError): give it its own id.
   */
  force?: boolean;
  /** Parts under S3's 5 MiB minimum; only for servers that accept them (s3rver in tests). */
  allowSmallParts?: boolean;
  retry?: Partial<RetryPolicy>;
  /**
   * Compare each ETag with the MD5 of the bytes sent. True by default; turn off for buckets
   * encrypted with SSE-KMS, whose ETags are not MD5s (Content-MD5 still guards the transfer).
   */
  checkEtagMd5?: boolean;
  /** Deadline of one S3 request; a silent link fails the attempt (then retried) instead of hanging. */
  requestTimeoutMs?: number;
  now?: () => Date;
}

export interface UploadLotResult {
  lotId: string;
  manifestKey: string;
  manifest: Manifest;
  /** Images sent in this run. */
  uploaded: number;
  /** Images already in S3 (confirmed by size and sha256), not sent again. */
  skipped: number;
  rejected: RejectedFile[];
  /** Files in the lot directory that are not images (hidden files, other extensions). */
  ignored: string[];
  /** False when the manifest was already in S3 and left alone. */
  manifestWritten: boolean;
}

let agentVersion: string | undefined;
/** "waferflow-edge-agent/<package version>", so a manifest says which agent wrote it. */
export function agentName(): string {
  if (agentVersion === undefined) {
    const path = fileURLToPath(new URL("../package.json", import.meta.url));
    agentVersion = (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  }
  return `waferflow-edge-agent/${agentVersion}`;
}

interface Settings {
  partSizeBytes: number;
  multipartThresholdBytes: number;
  concurrency: number;
  retry: RetryPolicy;
  checkEtagMd5: boolean;
  requestTimeoutMs: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new AgentConfigError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function settingsFrom(options: UploadLotOptions): Settings {
  if (!options.bucket) throw new AgentConfigError("bucket must name the S3 bucket lots go to");
  if (!options.dir) throw new AgentConfigError("dir must name the lot directory to upload");
  if (!options.stateDir) throw new AgentConfigError("stateDir must name where journals are kept");
  const partSizeBytes = positiveInteger(
    "partSizeBytes",
    options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES,
  );
  if (partSizeBytes < MIN_PART_SIZE_BYTES && !options.allowSmallParts) {
    throw new AgentConfigError(
      `partSizeBytes must be at least ${MIN_PART_SIZE_BYTES} (5 MiB, the S3 minimum), got ${partSizeBytes}`,
    );
  }
  if (partSizeBytes > MAX_PART_SIZE_BYTES) {
    throw new AgentConfigError(`partSizeBytes must be at most 5 GiB, got ${partSizeBytes}`);
  }
  const multipartThresholdBytes = positiveInteger(
    "multipartThresholdBytes",
    options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES,
  );
  if (multipartThresholdBytes > MAX_PART_SIZE_BYTES) {
    throw new AgentConfigError(
      `multipartThresholdBytes must be at most 5 GiB (the PutObject limit)`,
    );
  }
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  positiveInteger("retry.attempts", retry.attempts);
  return {
    partSizeBytes,
    multipartThresholdBytes,
    concurrency: positiveInteger("concurrency", options.concurrency ?? DEFAULT_CONCURRENCY),
    retry,
    checkEtagMd5: options.checkEtagMd5 ?? true,
    requestTimeoutMs: positiveInteger(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    ),
  };
}

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? "Error";
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function describe(error: unknown): string {
  return `${errorName(error)}: ${(error as Error)?.message ?? String(error)}`;
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}

interface Run {
  s3: S3Client;
  bucket: string;
  settings: Settings;
  store: JournalStore;
  /** One slot per part in flight across all files: the holder may have one part's bytes in memory. */
  semaphore: Semaphore;
  signal: AbortSignal | undefined;
  log: (line: string) => void;
  lotId: string;
  /**
   * Image keys this run may overwrite: ones this folder uploaded before with other content
   * (per its journal) and, when the lot's manifest is already out, the lot's own images being
   * restored. Every other image write is conditional (If-None-Match: *), so bytes of another
   * lot under the same id are never replaced in place.
   */
  replaceable: Set<string>;
}

/**
 * One S3 call with retries. Each attempt gets its own deadline besides the run's signal: a
 * link that goes silent (no reset, no answer) would otherwise hold the upload forever.
 */
function send<T>(
  run: Run,
  what: string,
  request: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withRetry(
    async () => {
      const deadline = AbortSignal.timeout(run.settings.requestTimeoutMs);
      const abortSignal = run.signal ? AbortSignal.any([run.signal, deadline]) : deadline;
      try {
        return await request(abortSignal);
      } catch (error) {
        if (deadline.aborted && !run.signal?.aborted) {
          throw new RequestTimeoutError(
            `${what}: no answer within ${run.settings.requestTimeoutMs} ms`,
            { cause: error },
          );
        }
        throw error;
      }
    },
    {
      policy: run.settings.retry,
      signal: run.signal,
      onRetry: (error, attempt, delayMs) =>
        run.log(
          `lot ${run.lotId}: ${what} failed (${describe(error)}); retry ${attempt} in ${delayMs} ms`,
        ),
    },
  );
}

function checkEtag(run: Run, what: string, etag: string | undefined, md5Hex: string): void {
  if (!run.settings.checkEtagMd5 || unquote(etag) === md5Hex) return;
  throw new ChecksumMismatchError(
    `${what}: S3 acknowledged ETag ${etag ?? "(none)"} but the bytes sent have MD5 ${md5Hex}`,
  );
}

/** True when S3 holds this exact object: same size and the sha256 we stored with it. */
async function objectMatches(
  run: Run,
  object: { key: string; bytes: number; sha256: string },
): Promise<boolean> {
  try {
    const head = await send(run, `checking ${object.key}`, (abortSignal) =>
      run.s3.send(new HeadObjectCommand({ Bucket: run.bucket, Key: object.key }), {
        abortSignal,
      }),
    );
    return head.ContentLength === object.bytes && head.Metadata?.sha256 === object.sha256;
  } catch (error) {
    if (
      errorName(error) === "NotFound" ||
      errorName(error) === "NoSuchKey" ||
      httpStatus(error) === 404
    ) {
      return false;
    }
    throw error;
  }
}

async function abortUpload(run: Run, key: string, uploadId: string): Promise<void> {
  try {
    await send(run, `aborting the stale upload of ${key}`, (abortSignal) =>
      run.s3.send(
        new AbortMultipartUploadCommand({ Bucket: run.bucket, Key: key, UploadId: uploadId }),
        { abortSignal },
      ),
    );
  } catch (error) {
    // Best effort: a bucket lifecycle rule should clean up what is left; it costs space, not data.
    run.log(
      `lot ${run.lotId}: could not abort stale multipart upload of ${key} (${describe(error)})`,
    );
  }
}

async function putWhole(run: Run, image: ScannedImage, file: JournalFile): Promise<void> {
  await run.semaphore.use(async () => {
    const body = await readFile(image.path);
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (sha256 !== file.sha256 || body.length !== file.bytes) {
      throw new SourceChangedError(
        `${image.path} changed since it was scanned; the lot is still being written`,
      );
    }
    const md5 = createHash("md5").update(body).digest();
    try {
      await send(run, `uploading ${file.key}`, async (abortSignal) => {
        const put = await run.s3.send(
          new PutObjectCommand({
            Bucket: run.bucket,
            Key: file.key,
            Body: body,
            ContentLength: body.length,
            ContentType: file.contentType,
            ContentMD5: md5.toString("base64"),
            Metadata: { sha256: file.sha256 },
            ...(run.replaceable.has(file.key) ? {} : { IfNoneMatch: "*" }),
          }),
          { abortSignal },
        );
        checkEtag(run, `uploading ${file.key}`, put.ETag, md5.toString("hex"));
      });
    } catch (error) {
      await refuseUnlessSame(run, file, error);
    }
  });
}

/** The part size for one file: the configured one, raised when the file would need over 10,000 parts. */
function partSizeFor(bytes: number, configured: number): number {
  return Math.max(configured, Math.ceil(bytes / MAX_PARTS));
}

/**
 * Which journalled parts S3 still has, with the same ETag and size. "gone" means the upload no
 * longer exists (completed, aborted or expired) and must start over.
 */
async function confirmParts(
  run: Run,
  file: JournalFile,
  multipart: JournalMultipart,
): Promise<JournalPart[] | "gone"> {
  const listed = new Map<number, { etag: string; size: number | undefined }>();
  try {
    let marker: string | undefined;
    do {
      const page = await send(run, `listing parts of ${file.key}`, (abortSignal) =>
        run.s3.send(
          new ListPartsCommand({
            Bucket: run.bucket,
            Key: file.key,
            UploadId: multipart.uploadId,
            PartNumberMarker: marker,
          }),
          { abortSignal },
        ),
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber !== undefined)
          listed.set(part.PartNumber, { etag: unquote(part.ETag), size: part.Size });
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
  } catch (error) {
    const status = httpStatus(error);
    if (errorName(error) === "NoSuchUpload" || status === 404) return "gone";
    if (
      status === 405 ||
      status === 501 ||
      errorName(error) === "NotImplemented" ||
      errorName(error) === "MethodNotAllowed"
    ) {
      // Some S3 look-alikes (s3rver) cannot list parts; the journal is then the only record.
      run.log(
        `lot ${run.lotId}: the server cannot list parts; trusting the journal for ${file.key}`,
      );
      return multipart.parts;
    }
    throw error;
  }
  return multipart.parts.filter((part) => {
    const found = listed.get(part.partNumber);
    return (
      found !== undefined &&
      found.etag === unquote(part.etag) &&
      (found.size === undefined || found.size === part.bytes)
    );
  });
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== length) {
      throw new SourceChangedError(
        `${path} is shorter than when it was scanned; the lot is still being written`,
      );
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

async function putMultipart(run: Run, image: ScannedImage, file: JournalFile): Promise<void> {
  const partSizeBytes = partSizeFor(file.bytes, run.settings.partSizeBytes);
  let multipart = file.multipart;
  if (multipart && multipart.partSizeBytes !== partSizeBytes) {
    await abortUpload(run, file.key, multipart.uploadId);
    multipart = undefined;
  }
  if (multipart) {
    const kept = await confirmParts(run, file, multipart);
    if (kept === "gone") {
      run.log(`lot ${run.lotId}: multipart upload of ${file.key} is gone; starting it over`);
      multipart = undefined;
    } else {
      if (kept.length !== multipart.parts.length) {
        run.log(
          `lot ${run.lotId}: ${multipart.parts.length - kept.length} journalled parts of ${file.key} are missing in S3; re-sending them`,
        );
      }
      multipart.parts = kept;
      run.log(`lot ${run.lotId}: resuming ${file.key} with ${kept.length} parts already sent`);
    }
  }
  if (!multipart) {
    const created = await send(run, `starting the upload of ${file.key}`, (abortSignal) =>
      run.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: run.bucket,
          Key: file.key,
          ContentType: file.contentType,
          Metadata: { sha256: file.sha256 },
        }),
        { abortSignal },
      ),
    );
    if (!created.UploadId) throw new UploadError(`S3 returned no UploadId for ${file.key}`);
    multipart = { uploadId: created.UploadId, partSizeBytes, parts: [] };
  }
  const active = multipart;
  file.multipart = active;
  // The UploadId is on disk before any part is sent, so a crash never orphans sent parts.
  await run.store.save();

  const partCount = Math.ceil(file.bytes / partSizeBytes);
  const sent = new Set(active.parts.map((part) => part.partNumber));
  const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !sent.has(n));
  const failures = await forEachLimited(
    missing,
    run.settings.concurrency,
    async (partNumber) => {
      await run.semaphore.use(async () => {
        const offset = (partNumber - 1) * partSizeBytes;
        const length = Math.min(partSizeBytes, file.bytes - offset);
        const body = await readRange(image.path, offset, length);
        const md5 = createHash("md5").update(body).digest();
        const what = `uploading part ${partNumber}/${partCount} of ${file.key}`;
        const etag = await send(run, what, async (abortSignal) => {
          const part = await run.s3.send(
            new UploadPartCommand({
              Bucket: run.bucket,
              Key: file.key,
              UploadId: active.uploadId,
              PartNumber: partNumber,
              Body: body,
              ContentLength: length,
              ContentMD5: md5.toString("base64"),
            }),
            { abortSignal },
          );
          checkEtag(run, what, part.ETag, md5.toString("hex"));
          return part.ETag ?? md5.toString("hex");
        });
        active.parts.push({ partNumber, etag, bytes: length });
        await run.store.save();
      });
    },
    run.signal,
  );
  const failure = failures[0];
  if (failure) throw failure.error;

  const parts = [...active.parts].sort((a, b) => a.partNumber - b.partNumber);
  try {
    await send(run, `completing ${file.key}`, (abortSignal) =>
      run.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: run.bucket,
          Key: file.key,
          UploadId: active.uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })),
          },
          ...(run.replaceable.has(file.key) ? {} : { IfNoneMatch: "*" }),
        }),
        { abortSignal },
      ),
    );
  } catch (error) {
    if (isPreconditionFailed(error)) {
      await abortUpload(run, file.key, active.uploadId);
      file.multipart = undefined;
      await run.store.save();
      await refuseUnlessSame(run, file, error);
      return;
    }
    // A completion whose answer was lost leaves no upload behind; the object tells the truth.
    if (errorName(error) === "NoSuchUpload" && (await objectMatches(run, file))) return;
    // S3 refused these parts for good: the next run must start this file over, not retry them.
    if (
      ["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"].includes(
        errorName(error),
      )
    ) {
      file.multipart = undefined;
      await run.store.save();
    }
    throw error;
  }
}

function isPreconditionFailed(error: unknown): boolean {
  return errorName(error) === "PreconditionFailed" || httpStatus(error) === 412;
}

/**
 * After a conditional write found the key taken: the same bytes there (an earlier run of this
 * lot, or a lost answer) are fine; other bytes belong to another lot with this id and stay.
 */
async function refuseUnlessSame(run: Run, file: JournalFile, error: unknown): Promise<void> {
  if (!isPreconditionFailed(error)) throw error;
  if (await objectMatches(run, file)) return;
  throw new LotIdTakenError(
    `lot id ${run.lotId} is taken: s3://${run.bucket}/${file.key} already holds other bytes than ${file.sha256}; ` +
      "nothing was overwritten. Give this lot its own lotId in lot.json",
    { cause: error },
  );
}

/** The image set a manifest describes: file name to SHA-256 and size. */
function imageSet(images: ReadonlyArray<{ fileName: string; sha256: string; bytes: number }>) {
  return new Map(images.map((image) => [image.fileName, `${image.sha256}/${image.bytes}`]));
}

/** An object's text, or undefined when the bucket has no such key. */
async function readTextIfPresent(run: Run, key: string): Promise<string | undefined> {
  try {
    return await send(run, `reading ${key}`, async (abortSignal) => {
      const object = await run.s3.send(new GetObjectCommand({ Bucket: run.bucket, Key: key }), {
        abortSignal,
      });
      return (await object.Body?.transformToString("utf8")) ?? "";
    });
  } catch (error) {
    if (errorName(error) === "NoSuchKey" || httpStatus(error) === 404) return undefined;
    throw error;
  }
}

async function readManifestAt(run: Run, key: string): Promise<Manifest | undefined> {
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

/**
 * Lot ids are identities. Before any byte goes up: when S3 already has a lot under this id
 * (its accepted manifest, or its manifest), the folder must hold exactly that lot's images;
 * otherwise the upload is refused with the differences, and the lot in S3 stays as it is.
 * Returns the manifest found (the same lot), if any.
 */
async function refuseReusedLotId(run: Run, scan: LotScan): Promise<Manifest | undefined> {
  const existing =
    (await readManifestAt(run, lotKeys.acceptedManifest(run.lotId))) ??
    (await readManifestAt(run, lotKeys.manifest(run.lotId)));
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

async function assertSourceUnchanged(image: ScannedImage): Promise<void> {
  const now = await stat(image.path);
  if (now.size !== image.bytes || now.mtimeMs !== image.mtimeMs) {
    throw new SourceChangedError(
      `${image.path} changed while it was uploaded (size ${image.bytes} -> ${now.size}); the lot is still being written`,
    );
  }
}

async function ensureImage(
  run: Run,
  image: ScannedImage,
  counts: { uploaded: number; skipped: number },
): Promise<void> {
  const file = run.store.journal.files[image.fileName];
  if (!file) throw new UploadError(`journal has no entry for ${image.fileName}`);
  // Checked even when the journal does not say done: a crash may have come between the upload and the journal write.
  if (await objectMatches(run, file)) {
    if (!file.done || file.multipart) {
      file.done = true;
      file.multipart = undefined;
      await run.store.save();
    }
    counts.skipped++;
    return;
  }
  if (file.done) {
    run.log(`lot ${run.lotId}: ${file.key} is missing or different in S3; uploading it again`);
    file.done = false;
  }
  if (file.bytes > run.settings.multipartThresholdBytes) await putMultipart(run, image, file);
  else await putWhole(run, image, file);
  await assertSourceUnchanged(image);
  if (!(await objectMatches(run, file))) {
    throw new ChecksumMismatchError(
      `${file.key} in S3 does not have the size and sha256 just uploaded`,
    );
  }
  file.done = true;
  file.multipart = undefined;
  await run.store.save();
  counts.uploaded++;
}

/** The manifest this agent sent earlier, if S3 still holds exactly it (sha256 of its bytes). */
async function readSentManifest(
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

function buildManifest(run: Run, scan: LotScan, createdAt: string): Manifest {
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
 * Uploads the lot in `dir`: scans and checksums it, sends every image not already in S3
 * (resuming multipart uploads from the journal), confirms each one, and only then writes the
 * manifest that triggers processing. Running it again over a finished lot only confirms.
 */
export async function uploadLot(options: UploadLotOptions): Promise<UploadLotResult> {
  const settings = settingsFrom(options);
  const log = options.log ?? (() => {});
  options.signal?.throwIfAborted();

  const scan = await scanLot(options.dir, { signal: options.signal });
  for (const rejected of scan.rejected)
    log(`lot ${options.dir}: not uploading ${rejected.fileName}: ${rejected.reason}`);
  if (scan.ignored.length) log(`lot ${options.dir}: ignoring ${scan.ignored.join(", ")}`);
  if (scan.images.length === 0) {
    throw new EmptyLotError(`lot directory ${options.dir} holds no PNG or TIFF image to upload`);
  }
  if (scan.images.length > MAX_MANIFEST_IMAGES) {
    throw new TooManyImagesError(
      `lot directory ${options.dir} holds ${scan.images.length} images; a lot may have at most ${MAX_MANIFEST_IMAGES}`,
    );
  }

  const path = journalPath(options.stateDir, options.dir);
  const release = await acquireLotLock(path);
  try {
    return await uploadScannedLot(options, settings, scan, path);
  } finally {
    await release();
  }
}

async function uploadScannedLot(
  options: UploadLotOptions,
  settings: Settings,
  scan: LotScan,
  path: string,
): Promise<UploadLotResult> {
  const log = options.log ?? (() => {});
  const now = options.now ?? (() => new Date());
  const { signal } = options;
  const plan = planJournal({
    existing: await loadJournal(path),
    scan,
    bucket: options.bucket,
    now: now(),
    force: options.force,
  });
  const store = new JournalStore(path, plan.journal);
  // The lot id is on disk before anything goes to S3, so a restart can never pick another.
  await store.save();
  const run: Run = {
    s3: options.s3,
    bucket: options.bucket,
    settings,
    store,
    semaphore: new Semaphore(settings.concurrency),
    signal,
    log,
    lotId: plan.journal.lotId,
    replaceable: new Set(
      plan.changed.flatMap((fileName) => {
        const file = plan.journal.files[fileName];
        return file ? [file.key] : [];
      }),
    ),
  };
  log(
    `lot ${run.lotId}: ${plan.freshLot ? "new" : "resuming"} upload of ${scan.images.length} images from ${options.dir}`,
  );
  if (plan.changed.length)
    log(`lot ${run.lotId}: changed since the last run, starting over: ${plan.changed.join(", ")}`);
  const sameLotInS3 = await refuseReusedLotId(run, scan);
  // The lot is already out: a differing object under its keys is damage, restored from here.
  if (sameLotInS3)
    for (const file of Object.values(store.journal.files)) run.replaceable.add(file.key);
  for (const stale of plan.staleUploads) await abortUpload(run, stale.key, stale.uploadId);

  const counts = { uploaded: 0, skipped: 0 };
  const failures = await forEachLimited(
    scan.images,
    settings.concurrency,
    (image) => ensureImage(run, image, counts),
    signal,
  );
  if (failures.length > 0) {
    const detail = failures
      .map(({ item, error }) => `${item.fileName}: ${describe(error)}`)
      .join("; ");
    throw new UploadError(
      `lot ${run.lotId}: upload stopped after ${failures.length} of ${scan.images.length} images failed, manifest not written (${detail})`,
      { cause: failures[0]?.error },
    );
  }

  const manifestKey = lotKeys.manifest(run.lotId);
  const journal = store.journal;
  if (journal.manifest && !options.force) {
    const manifest = await readSentManifest(run, manifestKey, journal.manifest.sha256);
    if (manifest) {
      log(`lot ${run.lotId}: already uploaded; manifest ${manifestKey} confirmed`);
      return {
        lotId: run.lotId,
        manifestKey,
        manifest,
        ...counts,
        rejected: scan.rejected,
        ignored: scan.ignored,
        manifestWritten: false,
      };
    }
    log(
      `lot ${run.lotId}: manifest ${manifestKey} is missing or different in S3; writing it again`,
    );
  }
  const manifest = buildManifest(run, scan, journal.manifest?.createdAt ?? now().toISOString());
  if (sameLotInS3 && !options.force) {
    // Another run (or another folder with the same images) already sent this lot: a no-op.
    log(`lot ${run.lotId}: already in S3 with the same images; manifest left as it is`);
    return {
      lotId: run.lotId,
      manifestKey,
      manifest: sameLotInS3,
      ...counts,
      rejected: scan.rejected,
      ignored: scan.ignored,
      manifestWritten: false,
    };
  }
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
        // Two folders racing for a new id: only the first manifest lands.
        ...(sameLotInS3 ? {} : { IfNoneMatch: "*" }),
      }),
      { abortSignal },
    );
    checkEtag(run, `writing ${manifestKey}`, put.ETag, md5.toString("hex"));
  }).catch((error: unknown) => {
    if (!isPreconditionFailed(error)) throw error;
    throw new LotIdTakenError(
      `lot id ${run.lotId} was taken by another manifest while this lot uploaded; its manifest was not written`,
      { cause: error },
    );
  });
  journal.manifest = { key: manifestKey, createdAt: manifest.createdAt, sha256 };
  await store.save();
  log(
    `lot ${run.lotId}: ${counts.uploaded} images uploaded, ${counts.skipped} already there; manifest ${manifestKey} written`,
  );
  return {
    lotId: run.lotId,
    manifestKey,
    manifest,
    ...counts,
    rejected: scan.rejected,
    ignored: scan.ignored,
    manifestWritten: true,
  };
}
