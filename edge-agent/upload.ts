// Uploads one lot to S3, resumably: the upload loop (settings, journal, images in parallel, the manifest strictly last).
import type { S3Client } from "@aws-sdk/client-s3";
import { lotKeys } from "../lib/keys.ts";
import { forEachLimited, Semaphore } from "../lib/pool.ts";
import { MAX_LOT_IMAGES, type Manifest } from "../schemas/lot.ts";
import { AgentConfigError, EmptyLotError, TooManyImagesError, UploadError } from "./errors.ts";
import { ensureImage } from "./image-upload.ts";
import { acquireLotLock, JournalStore, journalPath, loadJournal, planJournal } from "./journal.ts";
import { type LotScan, type RejectedFile, scanLot } from "./lot.ts";
import { buildManifest, readSentManifest, refuseReusedLotId, writeManifest } from "./manifest.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";
import { abortUpload, describe, type Run, type Settings } from "./s3-calls.ts";

const MIB = 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 8 * MIB;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 8 * MIB;
/** S3 refuses smaller parts (except the last one). */
export const MIN_PART_SIZE_BYTES = 5 * MIB;
const MAX_PART_SIZE_BYTES = 5 * 1024 * MIB;
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
  /** Told when the lot is scanned and as each image is settled in S3 (bench/pipeline.ts draws its timeline from it). */
  onProgress?: (event: UploadProgress) => void;
}

/** The upload's milestones, as they happen. */
export type UploadProgress =
  | { kind: "scanned"; images: number }
  | { kind: "image"; fileName: string; outcome: "uploaded" | "skipped" };

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

/**
 * Uploads the lot in `dir`: scans and checksums it, sends every image not already in S3
 * (resuming multipart uploads from the journal), confirms each one, and only then writes the
 * manifest that triggers processing. Running it again over a finished lot only confirms.
 */
export async function uploadLot(options: UploadLotOptions): Promise<UploadLotResult> {
  const settings = settingsFrom(options);
  const log = options.log ?? (() => {});
  options.signal?.throwIfAborted();

  const scan = await scanLot(options.dir, {
    signal: options.signal,
    md5UpToBytes: settings.multipartThresholdBytes,
  });
  options.onProgress?.({ kind: "scanned", images: scan.images.length });
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
    freshLot: plan.freshLot,
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
    async (image) => {
      const outcome = await ensureImage(run, image, counts);
      options.onProgress?.({ kind: "image", fileName: image.fileName, outcome });
    },
    signal,
  );
  if (failures.length > 0) {
    // The images that did go out are marked in the journal (best effort: the next run checks S3).
    await store.save().catch(() => undefined);
    const detail = failures
      .map(({ item, error }) => `${item.fileName}: ${describe(error)}`)
      .join("; ");
    throw new UploadError(
      `lot ${run.lotId}: upload stopped after ${failures.length} of ${scan.images.length} images failed, manifest not written (${detail})`,
      { cause: failures[0]?.error },
    );
  }

  const manifestKey = lotKeys.manifest(run.lotId);
  // The images' done marks (image-upload.ts writes them with the journal's next write).
  await store.save();
  const result = (manifest: Manifest, manifestWritten: boolean): UploadLotResult => ({
    lotId: run.lotId,
    manifestKey,
    manifest,
    ...counts,
    rejected: scan.rejected,
    ignored: scan.ignored,
    manifestWritten,
  });
  const journal = store.journal;
  if (journal.manifest && !options.force) {
    const manifest = await readSentManifest(run, manifestKey, journal.manifest.sha256);
    if (manifest) {
      log(`lot ${run.lotId}: already uploaded; manifest ${manifestKey} confirmed`);
      return result(manifest, false);
    }
    log(
      `lot ${run.lotId}: manifest ${manifestKey} is missing or different in S3; writing it again`,
    );
  }
  const manifest = buildManifest(run, scan, journal.manifest?.createdAt ?? now().toISOString());
  if (sameLotInS3 && !options.force) {
    // Another run (or another folder with the same images) already sent this lot: a no-op.
    log(`lot ${run.lotId}: already in S3 with the same images; manifest left as it is`);
    return result(sameLotInS3, false);
  }
  const sha256 = await writeManifest(run, manifest, sameLotInS3 !== undefined);
  journal.manifest = { key: manifestKey, createdAt: manifest.createdAt, sha256 };
  await store.save();
  log(
    `lot ${run.lotId}: ${counts.uploaded} images uploaded, ${counts.skipped} already there; manifest ${manifestKey} written`,
  );
  return result(manifest, true);
}
