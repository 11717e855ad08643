// Multipart uploads that survive a restart: the UploadId and each part's ETag are journalled, and confirmed against S3 on resume.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { forEachLimited } from "../lib/pool.ts";
import type { JournalFile, JournalMultipart, JournalPart } from "../schemas/agent-journal.ts";
import { SourceChangedError, UploadError } from "./errors.ts";
import type { ScannedImage } from "./lot.ts";
import {
  abortUpload,
  checkEtag,
  errorName,
  httpStatus,
  isPreconditionFailed,
  objectMatches,
  type Run,
  refuseUnlessSame,
  send,
  unquote,
} from "./s3-calls.ts";

const MAX_PARTS = 10_000;

/** The part size for one file: the configured one, raised when the file would need over 10,000 parts. */
export function partSizeFor(bytes: number, configured: number): number {
  return Math.max(configured, Math.ceil(bytes / MAX_PARTS));
}

/**
 * Which journalled parts S3 still has, with the same ETag and size. "gone" means the upload no
 * longer exists (completed, aborted or expired) and must start over.
 */
export async function confirmParts(
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

export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
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

export async function putMultipart(
  run: Run,
  image: ScannedImage,
  file: JournalFile,
): Promise<void> {
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
      const part = await run.semaphore.use(async () => {
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
          checkEtag(run, what, part, md5.toString("hex"));
          return part.ETag ?? md5.toString("hex");
        });
        return { partNumber, etag, bytes: length };
      });
      // Journalled once the request slot is free: its fsync no longer holds up another image's
      // PUT. The part is in the journal before the upload is completed, as before.
      active.parts.push(part);
      await run.store.save();
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
