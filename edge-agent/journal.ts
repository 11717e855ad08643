// The per-lot journal in the agent's state directory: lot id, finished objects and multipart progress.
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { lotKeys, safeSegment } from "../lib/keys.ts";
import { acquirePidLock } from "../lib/pid-lock.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import {
  type AgentJournal,
  AgentJournalSchema,
  type JournalFile,
} from "../schemas/agent-journal.ts";
import { JournalError, LotAlreadyUploadedError, LotBusyError } from "./errors.ts";
import { generateLotId, type LotScan } from "./lot.ts";

/**
 * One journal per lot directory, named after its absolute path: the generated lot id lives
 * here, so a restart (or a second `agent upload` of the same folder) reuses it.
 */
export function journalPath(stateDir: string, lotDir: string): string {
  const absolute = resolve(lotDir);
  const digest = createHash("sha256").update(absolute).digest("hex").slice(0, 16);
  let readable: string;
  try {
    readable = safeSegment(basename(absolute)).slice(0, 60);
  } catch {
    readable = "lot";
  }
  return join(resolve(stateDir), "journals", `${readable}-${digest}.json`);
}

export async function loadJournal(path: string): Promise<AgentJournal | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new JournalError(`journal ${path} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new JournalError(
      `journal ${path} is not JSON (${(cause as Error).message}); delete it to start the lot over`,
      { cause },
    );
  }
  const parsed = AgentJournalSchema.safeParse(json);
  if (!parsed.success) {
    throw new JournalError(
      `journal ${path} is invalid (${describeZodError(parsed.error)}); delete it to start the lot over`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * Writes through a synced temp file and a rename, so a crash leaves the old or the new journal, never half of one.
 * Compact JSON: the journal is rewritten after every image, and indenting a 1000-image journal
 * doubled its bytes and the time to serialise them.
 */
export async function writeJournalAtomically(path: string, journal: AgentJournal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(`${JSON.stringify(journal)}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new JournalError(`journal ${path} cannot be written: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Takes the lot's lock next to its journal, so two agents (a watcher and a manual upload)
 * never interleave their journal writes. A lock left by a dead process on this host is taken
 * over; one held by a live process, or by another host sharing the state dir, is refused.
 */
export async function acquireLotLock(journalFile: string): Promise<() => Promise<void>> {
  const lockPath = `${journalFile}.lock`;
  let release: () => void;
  try {
    release = acquirePidLock(
      lockPath,
      (owner) =>
        new LotBusyError(
          `the lot is being uploaded by process ${owner.pid ?? "?"} on ${owner.host ?? "?"} since ${owner.since ?? "?"} ` +
            `(lock ${lockPath}); remove the lock if that process is gone`,
        ),
    );
  } catch (error) {
    if (error instanceof LotBusyError) throw error;
    throw new JournalError(`lock ${lockPath} cannot be created: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return async () => release();
}

/**
 * Owns one lot's journal in memory and serialises its writes, since parts finish concurrently.
 * Saves that arrive while a write is under way share the one next write: it serialises the
 * journal when it starts, so it holds every change made before any of those saves. Whole images'
 * done marks are not saved one by one (image-upload.ts markDone): multipart progress, the start
 * and the end of a run write the journal.
 */
export class JournalStore {
  private pending: Promise<void> = Promise.resolve();
  /** The write queued behind the one under way, not yet started; later saves join it. */
  private queued: Promise<void> | undefined;

  readonly path: string;
  readonly journal: AgentJournal;
  /** The one write; replaceable so a unit test can count and pace the writes. */
  private readonly write: (path: string, journal: AgentJournal) => Promise<void>;

  constructor(
    path: string,
    journal: AgentJournal,
    write: (path: string, journal: AgentJournal) => Promise<void> = writeJournalAtomically,
  ) {
    this.path = path;
    this.journal = journal;
    this.write = write;
  }

  /** Persists the journal as it is now; resolves once that state (or a later one) is on disk. */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    const write = this.pending.then(() => {
      // From here on this write may already have read the journal: a later save needs its own.
      this.queued = undefined;
      return this.write(this.path, this.journal);
    });
    this.queued = write;
    // A failed write must not poison later ones; the callers of this save still see the error.
    this.pending = write.catch(() => undefined);
    return write;
  }
}

/** A multipart upload the journal no longer needs; worth aborting so S3 frees its parts. */
export interface StaleUpload {
  key: string;
  uploadId: string;
}

export interface JournalPlan {
  journal: AgentJournal;
  /** Files whose content differs from what the journal recorded: they start over. */
  changed: string[];
  /** Files the journal knew that are gone from the directory. */
  removed: string[];
  staleUploads: StaleUpload[];
  /** True when this run starts a lot the journal had not seen (first run, or a new lot id). */
  freshLot: boolean;
}

export interface PlanJournalInput {
  existing: AgentJournal | undefined;
  scan: LotScan;
  bucket: string;
  now: Date;
  force?: boolean;
  newLotId?: () => string;
}

export function fileEntry(lotId: string, image: LotScan["images"][number]): JournalFile {
  return {
    key: lotKeys.image(lotId, image.fileName),
    sha256: image.sha256,
    bytes: image.bytes,
    mtimeMs: image.mtimeMs,
    contentType: image.contentType,
    done: false,
  };
}

function freshJournal(
  input: PlanJournalInput,
  lotId: string,
  source: AgentJournal["lotIdSource"],
): AgentJournal {
  const files: Record<string, JournalFile> = {};
  for (const image of input.scan.images) files[image.fileName] = fileEntry(lotId, image);
  return {
    journalVersion: 1,
    dir: resolve(input.scan.dir),
    lotId,
    lotIdSource: source,
    bucket: input.bucket,
    startedAt: input.now.toISOString(),
    files,
  };
}

function uploadsOf(journal: AgentJournal): StaleUpload[] {
  return Object.values(journal.files).flatMap((file) =>
    file.multipart ? [{ key: file.key, uploadId: file.multipart.uploadId }] : [],
  );
}

function sameContent(file: JournalFile, image: LotScan["images"][number]): boolean {
  return file.sha256 === image.sha256 && file.bytes === image.bytes;
}

/**
 * Decides what this run must do from the last journal and a fresh scan. Pure, so the rules
 * (which id the lot keeps, which files start over) can be tested without S3.
 */
export function planJournal(input: PlanJournalInput): JournalPlan {
  const { existing, scan } = input;
  const newLotId = input.newLotId ?? (() => generateLotId(input.now));
  const lotIdFromFile = scan.lotFile?.lotId;
  const fresh = (lotId: string, source: AgentJournal["lotIdSource"]): JournalPlan => ({
    journal: freshJournal(input, lotId, source),
    changed: [],
    removed: [],
    staleUploads: existing ? uploadsOf(existing) : [],
    freshLot: true,
  });

  if (!existing) {
    return lotIdFromFile ? fresh(lotIdFromFile, "lot.json") : fresh(newLotId(), "generated");
  }
  if (lotIdFromFile !== undefined && lotIdFromFile !== existing.lotId) {
    // lot.json names the lot: whatever id the journal held (generated before lot.json landed,
    // or an earlier lot in the same folder) is not this lot's.
    return fresh(lotIdFromFile, "lot.json");
  }
  const changed: string[] = [];
  const removed: string[] = [];
  const staleUploads: StaleUpload[] = [];
  const scannedNames = new Set(scan.images.map((image) => image.fileName));
  for (const [fileName, file] of Object.entries(existing.files)) {
    if (!scannedNames.has(fileName)) {
      removed.push(fileName);
      if (file.multipart) staleUploads.push({ key: file.key, uploadId: file.multipart.uploadId });
    }
  }
  for (const image of scan.images) {
    const file = existing.files[image.fileName];
    if (file && !sameContent(file, image)) {
      changed.push(image.fileName);
      if (file.multipart) staleUploads.push({ key: file.key, uploadId: file.multipart.uploadId });
    }
  }
  const added = scan.images.filter((image) => !existing.files[image.fileName]).length;
  const lotChanged = changed.length + removed.length + added > 0;

  if (existing.manifest && lotChanged && !input.force) {
    if (existing.lotIdSource === "generated" && lotIdFromFile === undefined) {
      // A finished lot's folder with other content is another lot (a reused folder name): it
      // gets its own id rather than rewriting images under a lot already processed.
      return fresh(newLotId(), "generated");
    }
    throw new LotAlreadyUploadedError(
      `lot ${existing.lotId} in ${scan.dir} was already uploaded (manifest ${existing.manifest.key}) and has changed since ` +
        `(changed: ${changed.join(", ") || "none"}; removed: ${removed.join(", ") || "none"}; added: ${added}); ` +
        "re-send it with force, or give the new content its own lot id",
    );
  }

  const bucketChanged = existing.bucket !== input.bucket;
  const files: Record<string, JournalFile> = {};
  for (const image of scan.images) {
    const file = existing.files[image.fileName];
    if (file && sameContent(file, image) && !bucketChanged) {
      files[image.fileName] = { ...file, mtimeMs: image.mtimeMs };
    } else {
      files[image.fileName] = fileEntry(existing.lotId, image);
    }
  }
  const journal: AgentJournal = {
    ...existing,
    bucket: input.bucket,
    files,
    // Anything changed means a new manifest; a forced run re-sends it even when nothing did.
    manifest: lotChanged || bucketChanged || input.force ? undefined : existing.manifest,
  };
  return { journal, changed, removed, staleUploads, freshLot: false };
}
