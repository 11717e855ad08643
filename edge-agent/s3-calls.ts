// One upload run and its S3 calls: retries with a deadline per attempt, ETag checks, and what a refused conditional write means.
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { Semaphore } from "../lib/pool.ts";
import type { JournalFile } from "../schemas/agent-journal.ts";
import { ChecksumMismatchError, LotIdTakenError, RequestTimeoutError } from "./errors.ts";
import type { JournalStore } from "./journal.ts";
import { type RetryPolicy, withRetry } from "./retry.ts";

/** The upload settings, checked (upload.ts). */
export interface Settings {
  partSizeBytes: number;
  multipartThresholdBytes: number;
  concurrency: number;
  retry: RetryPolicy;
  checkEtagMd5: boolean;
  requestTimeoutMs: number;
}

export function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? "Error";
}

export function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function describe(error: unknown): string {
  return `${errorName(error)}: ${(error as Error)?.message ?? String(error)}`;
}

export function unquote(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}

export interface Run {
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
  /**
   * True when this folder's journal had no record of the lot: no earlier run of this agent sent
   * any of its images, so checking for each before sending it is one request per image for
   * nothing. A conditional PUT (If-None-Match: *) still finds an object someone else put there.
   */
  freshLot: boolean;
}

/**
 * One S3 call with retries. Each attempt gets its own deadline besides the run's signal: a
 * link that goes silent (no reset, no answer) would otherwise hold the upload forever.
 */
export function send<T>(
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

/** What a PutObject or UploadPart answer says about the bytes S3 stored. */
export interface StoredAnswer {
  ETag?: string;
  ServerSideEncryption?: string;
  SSECustomerAlgorithm?: string;
}

/**
 * Compares S3's ETag with the MD5 of the bytes sent, where the ETag is one: S3 makes an object's
 * (or part's) ETag the MD5 of its data only when it is stored plain or SSE-S3 (AES256). Under
 * SSE-KMS (the lot bucket's default encryption) or SSE-C it is not, so there is nothing to compare;
 * S3 has checked the Content-MD5 and the signed payload hash on receipt either way.
 */
export function checkEtag(run: Run, what: string, answer: StoredAnswer, md5Hex: string): void {
  if (!run.settings.checkEtagMd5 || unquote(answer.ETag) === md5Hex) return;
  if (answer.SSECustomerAlgorithm || answer.ServerSideEncryption?.startsWith("aws:kms")) return;
  throw new ChecksumMismatchError(
    `${what}: S3 acknowledged ETag ${answer.ETag ?? "(none)"} but the bytes sent have MD5 ${md5Hex}`,
  );
}

/** True when S3 holds this exact object: same size and the sha256 we stored with it. */
export async function objectMatches(
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

export async function abortUpload(run: Run, key: string, uploadId: string): Promise<void> {
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

export function isPreconditionFailed(error: unknown): boolean {
  return errorName(error) === "PreconditionFailed" || httpStatus(error) === 412;
}

/**
 * After a conditional write found the key taken: the same bytes there (an earlier run of this
 * lot, or a lost answer) are fine; other bytes belong to another lot with this id and stay.
 */
export async function refuseUnlessSame(run: Run, file: JournalFile, error: unknown): Promise<void> {
  if (!isPreconditionFailed(error)) throw error;
  if (await objectMatches(run, file)) return;
  throw new LotIdTakenError(
    `lot id ${run.lotId} is taken: s3://${run.bucket}/${file.key} already holds other bytes than ${file.sha256}; ` +
      "nothing was overwritten. Give this lot its own lotId in lot.json",
    { cause: error },
  );
}

/** An object's text, or undefined when the bucket has no such key. */
export async function readTextIfPresent(run: Run, key: string): Promise<string | undefined> {
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
