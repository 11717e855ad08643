// Sends one image so that S3 ends up holding exactly its scanned bytes: skipped when already there, whole or in parts, confirmed after.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { JournalFile } from "../schemas/agent-journal.ts";
import { ChecksumMismatchError, SourceChangedError, UploadError } from "./errors.ts";
import type { ScannedImage } from "./lot.ts";
import { putMultipart } from "./multipart.ts";
import {
  checkEtag,
  describe,
  errorName,
  objectMatches,
  type Run,
  refuseUnlessSame,
  type StoredAnswer,
  send,
  unquote,
} from "./s3-calls.ts";

/** SigV4's payload-hash header: S3 refuses a body whose SHA-256 is not this value. */
export const PAYLOAD_SHA256_HEADER = "x-amz-content-sha256";

/**
 * Gives the signer the SHA-256 just computed over the body as the payload hash, so the SDK does
 * not hash the same bytes once more; S3 still checks the body against it (and refuses the PUT).
 */
function signWithPayloadSha256(command: PutObjectCommand, sha256Hex: string): PutObjectCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[PAYLOAD_SHA256_HEADER] = sha256Hex;
      return next(args);
    },
    { step: "build", name: "agentPayloadSha256" },
  );
  return command;
}

/** S3's answers when a body is not the one its checksum or signed payload hash describes. */
const DIGEST_REFUSALS = new Set(["BadDigest", "XAmzContentSHA256Mismatch"]);

/**
 * Sends the image in one PUT. Resolves "stored" when S3 confirms the bytes it stored are the
 * scanned ones: its answer echoes the x-amz-checksum-sha256 the PUT carried (S3 checked the body
 * against it on receipt; under any encryption), or, from a store that echoes no checksum, its
 * ETag is the MD5 of the bytes sent (plain or SSE-S3). The size and sha256 metadata went in that
 * same request, so the object is confirmed without a HEAD. "sent" when the answer says nothing of
 * the bytes: the caller confirms by a HEAD. "present" when the conditional PUT found the key taken
 * by these very bytes (checked by a HEAD): nothing was sent, and S3 already holds the image.
 *
 * The bytes are not hashed here: the PUT carries the scan's SHA-256 twice, as the signed payload
 * hash and as x-amz-checksum-sha256, and S3 refuses a body that is not the one they describe (no
 * Content-MD5: its MD5 would be a third pass over the image, and confirms nothing the checksum does
 * not). A file rewritten since the scan is caught before sending by its size and modification
 * time, and otherwise by that refusal; only then is the file hashed again, to tell a changed file
 * (SourceChangedError) from bytes damaged on the way (ChecksumMismatchError, retried).
 */
export async function putWhole(
  run: Run,
  image: ScannedImage,
  file: JournalFile,
): Promise<"stored" | "sent" | "present"> {
  return run.semaphore.use(async () => {
    const body = await readFile(image.path);
    if (body.length !== file.bytes || image.sha256 !== file.sha256) {
      throw new SourceChangedError(
        `${image.path} changed since it was scanned; the lot is still being written`,
      );
    }
    await assertSourceUnchanged(image);
    const checksumSha256 = Buffer.from(file.sha256, "hex").toString("base64");
    try {
      return await send(run, `uploading ${file.key}`, async (abortSignal) => {
        try {
          const put = await run.s3.send(
            signWithPayloadSha256(
              new PutObjectCommand({
                Bucket: run.bucket,
                Key: file.key,
                Body: body,
                ContentLength: body.length,
                ContentType: file.contentType,
                ChecksumSHA256: checksumSha256,
                Metadata: { sha256: file.sha256 },
                ...(run.replaceable.has(file.key) ? {} : { IfNoneMatch: "*" }),
              }),
              file.sha256,
            ),
            { abortSignal },
          );
          return confirmStored(run, `uploading ${file.key}`, put, checksumSha256, body);
        } catch (error) {
          // Refused by S3 (AWS and the local S3 check the digests on receipt), or stored and
          // answered with a checksum or ETag that is not the scanned bytes' (a store that checks none).
          const stored = error instanceof ChecksumMismatchError;
          if (stored || DIGEST_REFUSALS.has(errorName(error))) {
            await explainDigestRefusal(image, error);
            // The file is as scanned: the bytes were damaged on the way. What S3 stored under the
            // key is this run's own write, so the next try replaces it instead of finding the key
            // taken (a conditional PUT would answer 412 and the HEAD match the metadata we sent).
            if (stored) run.replaceable.add(file.key);
            throw new ChecksumMismatchError(
              `${image.path}: S3 received other bytes than were sent (${describe(error)}); sending again`,
              { cause: error },
            );
          }
          throw error;
        }
      });
    } catch (error) {
      await refuseUnlessSame(run, file, error);
      return "present";
    }
  });
}

/**
 * What a PutObject's answer says of the bytes stored: its checksum, when the store echoes the one
 * sent (AWS S3 and the local S3 do); else its ETag where that is an MD5, taken only now (a store
 * that echoes no checksum is the rare case); else nothing ("sent": the caller HEADs the object).
 * Other bytes than the body's throw ChecksumMismatchError.
 */
export function confirmStored(
  run: Run,
  what: string,
  answer: StoredAnswer & { ChecksumSHA256?: string },
  checksumSha256: string,
  body: Buffer,
): "stored" | "sent" {
  if (answer.ChecksumSHA256 !== undefined) {
    if (answer.ChecksumSHA256 === checksumSha256) return "stored";
    throw new ChecksumMismatchError(
      `${what}: S3 acknowledged checksum ${answer.ChecksumSHA256} but the bytes sent have SHA-256 ${checksumSha256} (base64)`,
    );
  }
  if (!run.settings.checkEtagMd5) return "sent";
  const md5Hex = createHash("md5").update(body).digest("hex");
  checkEtag(run, what, answer, md5Hex);
  return unquote(answer.ETag) === md5Hex ? "stored" : "sent";
}

/**
 * What S3 holds or refused is not the scanned bytes: a file changed since the scan (its size and
 * time kept) fails here as SourceChangedError; a file still as scanned returns (damage on the way).
 */
async function explainDigestRefusal(image: ScannedImage, error: unknown): Promise<void> {
  const now = await readFile(image.path);
  if (createHash("sha256").update(now).digest("hex") !== image.sha256) {
    throw new SourceChangedError(
      `${image.path} changed since it was scanned (S3 did not get the scanned bytes: ${describe(error)}); the lot is still being written`,
      { cause: error },
    );
  }
}

/**
 * Marks the file sent. On disk at once only when it ends a multipart upload (its upload id must
 * not be resumed); a whole file's mark rides on the journal's next write (upload.ts writes it when
 * the run ends or fails). A mark lost to a crash costs nothing: a resumed run checks every image
 * in S3 before sending it, marked or not. Written per image, the 1000-image lot of
 * test/e2e/lot-limits rewrote its whole journal some 440 times.
 */
async function markDone(run: Run, file: JournalFile): Promise<void> {
  const hadUpload = file.multipart !== undefined;
  file.done = true;
  file.multipart = undefined;
  if (hadUpload) await run.store.save();
}

export async function assertSourceUnchanged(image: ScannedImage): Promise<void> {
  const now = await stat(image.path);
  if (now.size !== image.bytes || now.mtimeMs !== image.mtimeMs) {
    throw new SourceChangedError(
      `${image.path} changed while it was uploaded (size ${image.bytes} -> ${now.size}); the lot is still being written`,
    );
  }
}

export async function ensureImage(
  run: Run,
  image: ScannedImage,
  counts: { uploaded: number; skipped: number },
): Promise<"uploaded" | "skipped"> {
  const file = run.store.journal.files[image.fileName];
  if (!file) throw new UploadError(`journal has no entry for ${image.fileName}`);
  const whole = file.bytes <= run.settings.multipartThresholdBytes;
  // A lot this folder never sent, one PUT conditional on the key being free: the PUT itself finds
  // an object already there (and refuseUnlessSame checks it), so a HEAD first would only double
  // the requests (1000 HEADs for the 1000-image lot of test/e2e/lot-limits).
  const conditionalFirstSend =
    run.freshLot && whole && !file.done && !file.multipart && !run.replaceable.has(file.key);
  // Otherwise checked even when the journal does not say done: a crash may have come between the
  // upload and the journal write.
  if (!conditionalFirstSend && (await objectMatches(run, file))) {
    await markDone(run, file);
    counts.skipped++;
    return "skipped";
  }
  if (file.done) {
    run.log(`lot ${run.lotId}: ${file.key} is missing or different in S3; uploading it again`);
    file.done = false;
  }
  let sent: "stored" | "sent" | "present" = "sent";
  if (!whole) await putMultipart(run, image, file);
  else sent = await putWhole(run, image, file);
  if (sent === "present") {
    await markDone(run, file);
    counts.skipped++;
    return "skipped";
  }
  await assertSourceUnchanged(image);
  // A multipart object's ETag is not its MD5, nor is an SSE-KMS object's: those are confirmed here.
  if (sent !== "stored" && !(await objectMatches(run, file))) {
    throw new ChecksumMismatchError(
      `${file.key} in S3 does not have the size and sha256 just uploaded`,
    );
  }
  await markDone(run, file);
  counts.uploaded++;
  return "uploaded";
}
