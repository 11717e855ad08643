// Uploads one lot to S3, resumably: the upload loop (settings, journal, each image sent as it is hashed or after the scan, the manifest strictly last).
import type { S3Client } from "@aws-sdk/client-s3";
import { lotKeys, safeSegment } from "../lib/keys.ts";
import { forEachLimited, mapLimited, Semaphore } from "../lib/pool.ts";
import type { AgentJournal } from "../schemas/agent-journal.ts";
import { MAX_LOT_IMAGES, type Manifest } from "../schemas/lot.ts";
import { AgentConfigError, EmptyLotError, TooManyImagesError, UploadError } from "./errors.ts";
import { ensureImage } from "./image-upload.ts";
import {
  acquireLotLock,
  fileEntry,
  JournalStore,
  journalPath,
  loadJournal,
  planJournal,
} from "./journal.ts";
import {
  assembleScan,
  type ExaminedFile,
  examineFile,
  LOT_FILE_NAME,
  type LotListing,
  type LotScan,
  listLot,
  mayBeImage,
  type RejectedFile,
  SCAN_CONCURRENCY,
  scanLot,
} from "./lot.ts";
import {
  buildManifest,
  lotInS3,
  readSentManifest,
  refuseReusedLotId,
  writeManifest,
} from "./manifest.ts";
import { MIB, MIN_PART_SIZE_BYTES } from "./part-size.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";
import { abortUpload, describe, type Run, type Settings } from "./s3-calls.ts";

export const DEFAULT_PART_SIZE_BYTES = 8 * MIB;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 8 * MIB;
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
   * Compare each ETag with the MD5 of the bytes sent where nothing else confirms them: parts and
   * the manifest (sent with Content-MD5), and a whole image whose PUT answer echoes no checksum.
   * True by default; an SSE-KMS or SSE-C answer is never compared (its ETag is no MD5).
   */
  checkEtagMd5?: boolean;
  /** Deadline of one S3 request; a silent link fails the attempt (then retried) instead of hanging. */
  requestTimeoutMs?: number;
  now?: () => Date;
  /**
   * Told as each image is hashed (before it is sent), when the whole lot is scanned (for a new lot,
   * while its images are still being sent), as each image is settled in S3, and when the manifest
   * is written (bench/pipeline.ts draws its timeline from it).
   */
  onProgress?: (event: UploadProgress) => void;
}

/** The upload's milestones, as they happen. */
export type UploadProgress =
  | { kind: "scanned"; images: number }
  /** The image is hashed and its journal entry made; nothing of it sent yet. */
  | { kind: "hashed"; fileName: string }
  | { kind: "image"; fileName: string; outcome: "uploaded" | "skipped" }
  /** The manifest's PUT was answered: the lot's trigger has fired (the journal's record follows). */
  | { kind: "manifest"; key: string };

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
 *
 * A lot this folder never started (no journal) whose id S3 does not hold yet is sent while it
 * is scanned: each image as soon as it is hashed. Nothing in that case needs the whole scan
 * before sending (the lot id comes from lot.json or is new, no file has an earlier upload to
 * compare with, no lot in S3 to check the folder against), and the manifest still goes last. A
 * resumed or re-sent lot, or one whose id S3 already holds, is scanned whole first.
 */
export async function uploadLot(options: UploadLotOptions): Promise<UploadLotResult> {
  const settings = settingsFrom(options);
  options.signal?.throwIfAborted();
  const listing = await listLot(options.dir);
  const path = journalPath(options.stateDir, options.dir);
  const release = await acquireLotLock(path);
  try {
    const existing = await loadJournal(path);
    if (!existing && canSendWhileScanning(listing)) {
      const sent = await uploadWhileScanning(options, settings, listing, path);
      if (sent) return sent;
    }
    const scan = await scanLot(
      options.dir,
      { signal: options.signal, wholeUpToBytes: settings.multipartThresholdBytes },
      listing,
    );
    options.onProgress?.({ kind: "scanned", images: scan.images.length });
    checkScan(options, scan);
    return await uploadScannedLot(options, settings, scan, path, existing);
  } finally {
    await release();
  }
}

/** Refuses a scan with nothing to send or more than a manifest holds; logs what is left out. */
function checkScan(options: UploadLotOptions, scan: LotScan): void {
  const log = options.log ?? (() => {});
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
}

/**
 * The listing alone settles what the scan could refuse the whole lot for: too many images, two
 * names sharing a key. Otherwise (rare) the lot is scanned whole first, and refused before
 * anything is sent, as always.
 */
function canSendWhileScanning(listing: LotListing): boolean {
  const candidates = listing.names.filter(mayBeImage);
  if (candidates.length > MAX_MANIFEST_IMAGES) return false;
  const segments = new Set<string>();
  for (const name of candidates) {
    let segment: string;
    try {
      segment = safeSegment(name);
    } catch {
      continue;
    }
    if (segments.has(segment)) return false;
    segments.add(segment);
  }
  return true;
}

/** The run's shared state: the lot id and journal settled, nothing sent yet. */
function runFor(
  options: UploadLotOptions,
  settings: Settings,
  store: JournalStore,
  fresh: { freshLot: boolean; replaceable: Set<string> },
): Run {
  return {
    s3: options.s3,
    bucket: options.bucket,
    settings,
    store,
    semaphore: new Semaphore(settings.concurrency),
    signal: options.signal,
    log: options.log ?? (() => {}),
    lotId: store.journal.lotId,
    ...fresh,
  };
}

/**
 * A new lot sent as it is scanned: each image goes to the senders (at most `concurrency`
 * requests at once) as soon as it is hashed, while the next ones are read. The journal, with
 * the lot id, is on disk before the first byte goes up, and each image's entry is in it before
 * its upload starts (a multipart upload's id and parts are journalled as they go): a crash
 * leaves a journal the next run resumes from (the scan-first path), checking each image in S3.
 * Undefined, with nothing sent, when S3 already holds a lot under the id: that lot must be
 * compared with the whole scan before any byte goes up.
 */
async function uploadWhileScanning(
  options: UploadLotOptions,
  settings: Settings,
  listing: LotListing,
  path: string,
): Promise<UploadLotResult | undefined> {
  const now = options.now ?? (() => new Date());
  const { signal } = options;
  const plan = planJournal({
    existing: undefined,
    scan: { ...assembleScan(listing, []), dir: options.dir },
    bucket: options.bucket,
    now: now(),
    force: options.force,
  });
  const store = new JournalStore(path, plan.journal);
  const run = runFor(options, settings, store, { freshLot: true, replaceable: new Set() });
  if (await lotInS3(run)) return undefined;
  run.log(`lot ${run.lotId}: new upload from ${options.dir}, each image sent as it is hashed`);

  const counts = { uploaded: 0, skipped: 0 };
  // Images in flight at once, as the scan-first path's pool has them (a multipart upload is
  // created outside the request slots).
  const images = new Semaphore(settings.concurrency);
  const sends: Array<Promise<void>> = [];
  const failures: Array<{ fileName: string; error: unknown }> = [];
  /** The first journal write's failure: nothing was sent, and the run fails with it as it is. */
  let journalFailure: unknown;
  const stopped = () =>
    failures.length > 0 || journalFailure !== undefined || signal?.aborted === true;
  let journalWritten: Promise<void> | undefined;
  let examined: ExaminedFile[];
  try {
    examined = await mapLimited(
      listing.names.filter((name) => name !== LOT_FILE_NAME),
      SCAN_CONCURRENCY,
      async (fileName): Promise<ExaminedFile> => {
        // After a failed image nothing more is read or sent: the run fails, the next one resumes.
        if (stopped()) return { kind: "ignored", fileName };
        const entry = await examineFile(options.dir, fileName, {
          signal,
          wholeUpToBytes: settings.multipartThresholdBytes,
        });
        if (entry.kind !== "image" || stopped()) return entry;
        const { image } = entry;
        store.journal.files[image.fileName] = fileEntry(run.lotId, image);
        // The lot id on disk before anything goes to S3, so a restart can never pick another. The
        // sends wait for that write; the scan hashes on meanwhile (awaited here, its fsync stalled
        // both scan slots: 5-15 ms on a quiet disk, 160 ms on a busy one).
        journalWritten ??= store.save().catch((error: unknown) => {
          journalFailure = error;
          throw error;
        });
        const journalOnDisk = journalWritten;
        options.onProgress?.({ kind: "hashed", fileName: image.fileName });
        sends.push(
          images
            .use(async () => {
              await journalOnDisk;
              return stopped() ? undefined : ensureImage(run, image, counts);
            })
            .then(
              (outcome) => {
                if (outcome) options.onProgress?.({ kind: "image", fileName, outcome });
              },
              (error: unknown) => {
                if (error !== journalFailure) failures.push({ fileName, error });
              },
            ),
        );
        return entry;
      },
    );
  } catch (error) {
    // The scan itself failed (a file unreadable, the run aborted while hashing): no send is left
    // running behind the caller's back, and the images that went out are marked (best effort).
    await Promise.all(sends);
    if (journalWritten) await store.save().catch(() => undefined);
    throw error;
  }
  // Every image hashed; some still being sent.
  options.onProgress?.({
    kind: "scanned",
    images: examined.filter((entry) => entry.kind === "image").length,
  });
  await Promise.all(sends);
  if (journalFailure !== undefined) throw journalFailure;
  const scan = assembleScan(listing, examined);
  if (stopped()) {
    if (journalWritten) await store.save().catch(() => undefined);
    if (failures.length === 0) signal?.throwIfAborted();
    throw uploadFailure(run, failures, scan.images.length);
  }
  checkScan(options, scan);
  return finishLot(options, run, scan, counts, undefined);
}

function uploadFailure(
  run: Run,
  failures: ReadonlyArray<{ fileName: string; error: unknown }>,
  images: number,
): UploadError {
  const detail = failures
    .map(({ fileName, error }) => `${fileName}: ${describe(error)}`)
    .join("; ");
  return new UploadError(
    `lot ${run.lotId}: upload stopped after ${failures.length} of ${images} images failed, manifest not written (${detail})`,
    { cause: failures[0]?.error },
  );
}

async function uploadScannedLot(
  options: UploadLotOptions,
  settings: Settings,
  scan: LotScan,
  path: string,
  existing: AgentJournal | undefined,
): Promise<UploadLotResult> {
  const now = options.now ?? (() => new Date());
  const { signal } = options;
  const plan = planJournal({
    existing,
    scan,
    bucket: options.bucket,
    now: now(),
    force: options.force,
  });
  const store = new JournalStore(path, plan.journal);
  // The lot id is on disk before anything goes to S3, so a restart can never pick another.
  await store.save();
  const run = runFor(options, settings, store, {
    freshLot: plan.freshLot,
    replaceable: new Set(
      plan.changed.flatMap((fileName) => {
        const file = plan.journal.files[fileName];
        return file ? [file.key] : [];
      }),
    ),
  });
  const { log } = run;
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
      options.onProgress?.({ kind: "hashed", fileName: image.fileName });
      const outcome = await ensureImage(run, image, counts);
      options.onProgress?.({ kind: "image", fileName: image.fileName, outcome });
    },
    signal,
  );
  if (failures.length > 0) {
    // The images that did go out are marked in the journal (best effort: the next run checks S3).
    await store.save().catch(() => undefined);
    throw uploadFailure(
      run,
      failures.map(({ item, error }) => ({ fileName: item.fileName, error })),
      scan.images.length,
    );
  }
  return finishLot(options, run, scan, counts, sameLotInS3);
}

/** Every image is in S3: the manifest, strictly last (or confirmed, when this lot's is already there). */
async function finishLot(
  options: UploadLotOptions,
  run: Run,
  scan: LotScan,
  counts: { uploaded: number; skipped: number },
  sameLotInS3: Manifest | undefined,
): Promise<UploadLotResult> {
  const { log, store } = run;
  const now = options.now ?? (() => new Date());
  const manifestKey = lotKeys.manifest(run.lotId);
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
      // The images' done marks (image-upload.ts writes them with the journal's next write).
      await store.save();
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
    await store.save();
    return result(sameLotInS3, false);
  }
  // The images' done marks go to disk with the manifest's record, in one write after it: the
  // manifest is the lot's trigger, so a write (and its fsync) before it only delayed the lot. A
  // crash between the two loses nothing: the next run checks each image in S3 whatever its mark
  // says, finds this manifest and leaves it (refuseReusedLotId), as after any crash past the PUT.
  let sha256: string;
  try {
    sha256 = await writeManifest(run, manifest, sameLotInS3 !== undefined);
  } catch (error) {
    await store.save().catch(() => undefined);
    throw error;
  }
  options.onProgress?.({ kind: "manifest", key: manifestKey });
  journal.manifest = { key: manifestKey, createdAt: manifest.createdAt, sha256 };
  await store.save();
  log(
    `lot ${run.lotId}: ${counts.uploaded} images uploaded, ${counts.skipped} already there; manifest ${manifestKey} written`,
  );
  return result(manifest, true);
}
