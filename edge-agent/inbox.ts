// Watches an inbox folder for lot directories, hands each finished one over once, then files it away.
import { lstat, mkdir, readdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InboxError } from "./errors.ts";
import { LOT_FILE_NAME } from "./lot.ts";
import { isRetryable } from "./retry.ts";

export const DONE_DIR = ".done";
export const FAILED_DIR = ".failed";
export const ERROR_FILE = "error.txt";

export interface LotReadyContext {
  dirName: string;
  /** Aborts when the watcher stops; a handler interrupted by it is not a failed lot. */
  signal: AbortSignal;
}

export interface WatchInboxOptions {
  inbox: string;
  /** A lot without lot.json is complete after this long with no file changing in it. */
  quietMs: number;
  pollMs?: number;
  onLotReady: (dir: string, context: LotReadyContext) => Promise<unknown>;
  signal: AbortSignal;
  log?: (line: string) => void;
  /** Lots handed over at the same time; one keeps the uplink to a single lot. */
  maxConcurrentLots?: number;
  /** How long a lot that failed for a reason that may pass (network down) waits before another try. */
  retryLaterMs?: number;
}

/** What one poll sees of a lot directory: enough to tell whether a machine is still writing. */
export interface DirSnapshot {
  fileCount: number;
  hasLotFile: boolean;
  /** Names, sizes and mtimes of everything in it; any write changes it. */
  fingerprint: string;
}

interface Tracked {
  fingerprint: string;
  changedAtMs: number;
}

/**
 * Decides from successive snapshots when a lot is complete: lot.json present, or nothing
 * changed for quietMs. Either way the directory must look the same on two polls in a row,
 * so a lot.json caught half-written, or a file still growing, is not taken.
 */
export class LotReadiness {
  private readonly tracked = new Map<string, Tracked>();

  private readonly quietMs: number;

  constructor(quietMs: number) {
    this.quietMs = quietMs;
  }

  observe(name: string, snapshot: DirSnapshot, nowMs: number): boolean {
    if (snapshot.fileCount === 0) {
      // A machine may create the folder well before its first image; an empty lot is no lot.
      this.tracked.delete(name);
      return false;
    }
    const last = this.tracked.get(name);
    if (!last || last.fingerprint !== snapshot.fingerprint) {
      this.tracked.set(name, { fingerprint: snapshot.fingerprint, changedAtMs: nowMs });
      return false;
    }
    return snapshot.hasLotFile || nowMs - last.changedAtMs >= this.quietMs;
  }

  forget(name: string): void {
    this.tracked.delete(name);
  }

  /** Names seen before that are no longer in the inbox, so their state does not pile up. */
  keepOnly(names: Set<string>): void {
    for (const name of this.tracked.keys()) if (!names.has(name)) this.tracked.delete(name);
  }
}

/** Stats every entry with fs.stat rather than trusting fs.watch, which misses events on network shares. */
export async function snapshotDir(dir: string): Promise<DirSnapshot | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parts: string[] = [];
  for (const name of names) {
    try {
      const stats = await lstat(join(dir, name));
      parts.push(`${name}\u0000${stats.size}\u0000${stats.mtimeMs}`);
    } catch (error) {
      // Renamed or deleted between readdir and lstat: the next poll will see the new state.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      parts.push(`${name}\u0000gone`);
    }
  }
  return {
    fileCount: names.length,
    hasLotFile: names.includes(LOT_FILE_NAME),
    fingerprint: parts.join("\u0001"),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Moves `dir` under `<inbox>/<area>/`, never over an earlier lot that had the same folder name. */
async function fileAway(inbox: string, dirName: string, area: string, now: Date): Promise<string> {
  const parent = join(inbox, area);
  await mkdir(parent, { recursive: true });
  let target = join(parent, dirName);
  if (await exists(target))
    target = join(parent, `${dirName}-${now.toISOString().replace(/[:.]/g, "-")}`);
  await rename(join(inbox, dirName), target);
  return target;
}

/**
 * Failures that say nothing against the lot itself: the link is down, the machine is still
 * writing, or another agent holds the lot. Moving such a lot to .failed would lose it.
 */
export function mayPassLater(error: unknown): boolean {
  const name = (error as Error)?.name;
  return isRetryable(error) || name === "SourceChangedError" || name === "LotBusyError";
}

export function describeFailure(error: unknown, at: Date): string {
  const lines = [`failed at ${at.toISOString()}`];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const e = current as Error;
    lines.push(
      `${depth === 0 ? "error" : "caused by"}: ${e?.name ?? "Error"}: ${e?.message ?? String(current)}`,
    );
    current = (current as { cause?: unknown })?.cause;
  }
  if (error instanceof Error && error.stack) lines.push("", error.stack);
  return `${lines.join("\n")}\n`;
}

/**
 * Polls `inbox` until `signal` aborts. Each complete lot directory directly under it goes to
 * `onLotReady` once; on success it moves to `.done/`, on failure to `.failed/` with error.txt,
 * so a restart does not redo it. A lot whose failure may pass (network, a file still being
 * written) stays in place and is tried again later. Resolves once handlers in flight settle.
 */
export async function watchInbox(options: WatchInboxOptions): Promise<void> {
  const { inbox, signal } = options;
  const log = options.log ?? (() => {});
  const pollMs = options.pollMs ?? 1000;
  const maxConcurrent = options.maxConcurrentLots ?? 1;
  const retryLaterMs = options.retryLaterMs ?? 60_000;
  const readiness = new LotReadiness(options.quietMs);
  const inFlight = new Map<string, Promise<void>>();
  /** Lots not to look at again before the given time (transient failures), or ever (Infinity). */
  const holdUntil = new Map<string, number>();

  const handOver = async (dirName: string): Promise<void> => {
    const dir = join(inbox, dirName);
    log(`inbox: lot ${dirName} is complete; handing it over`);
    try {
      await options.onLotReady(dir, { dirName, signal });
    } catch (error) {
      if (signal.aborted) {
        log(
          `inbox: lot ${dirName} interrupted by shutdown; it stays in the inbox for the next start`,
        );
        return;
      }
      if (mayPassLater(error)) {
        log(
          `inbox: lot ${dirName} failed for now (${(error as Error).message}); trying again in ${retryLaterMs} ms`,
        );
        holdUntil.set(dirName, Date.now() + retryLaterMs);
        return;
      }
      const now = new Date();
      try {
        const target = await fileAway(inbox, dirName, FAILED_DIR, now);
        await writeFile(join(target, ERROR_FILE), describeFailure(error, now), "utf8");
        log(`inbox: lot ${dirName} failed (${(error as Error).message}); moved to ${target}`);
      } catch (moveError) {
        holdUntil.set(dirName, Number.POSITIVE_INFINITY);
        log(
          `inbox: lot ${dirName} failed and cannot be moved to ${FAILED_DIR} (${(moveError as Error).message}); not retrying it`,
        );
      }
      return;
    }
    try {
      const target = await fileAway(inbox, dirName, DONE_DIR, new Date());
      log(`inbox: lot ${dirName} done; moved to ${target}`);
    } catch (moveError) {
      // Handing it over again would upload it again; better to leave it and say so.
      holdUntil.set(dirName, Number.POSITIVE_INFINITY);
      log(
        `inbox: lot ${dirName} uploaded but cannot be moved to ${DONE_DIR} (${(moveError as Error).message})`,
      );
    }
  };

  const poll = async (): Promise<void> => {
    const entries = await readdir(inbox, { withFileTypes: true });
    const present = new Set<string>();
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const dirName = entry.name;
      present.add(dirName);
      if (inFlight.has(dirName)) continue;
      const held = holdUntil.get(dirName);
      if (held !== undefined) {
        if (Date.now() < held) continue;
        holdUntil.delete(dirName);
      }
      const snapshot = await snapshotDir(join(inbox, dirName));
      if (!snapshot || !readiness.observe(dirName, snapshot, Date.now())) continue;
      if (inFlight.size >= maxConcurrent) continue;
      readiness.forget(dirName);
      const running = handOver(dirName).finally(() => inFlight.delete(dirName));
      inFlight.set(dirName, running);
    }
    readiness.keepOnly(present);
    for (const name of holdUntil.keys()) if (!present.has(name)) holdUntil.delete(name);
  };

  // A mistyped path should stop the agent at once, not poll an empty nothing forever.
  try {
    if (!(await stat(inbox)).isDirectory())
      throw new InboxError(`inbox ${inbox} is not a directory`);
  } catch (error) {
    if (error instanceof InboxError) throw error;
    throw new InboxError(`inbox ${inbox} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  log(`inbox: watching ${inbox} (quiet ${options.quietMs} ms, poll ${pollMs} ms)`);
  while (!signal.aborted) {
    try {
      await poll();
    } catch (error) {
      // The inbox may sit on a share that drops out; keep polling rather than die.
      log(`inbox: cannot read ${inbox}: ${(error as Error).message}`);
    }
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      break;
    }
  }
  await Promise.allSettled(inFlight.values());
  log("inbox: stopped");
}
