// A lock file naming the process that holds it: taken over when that process is gone, refused while it lives.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { isProcessAlive } from "./process.ts";

/** Who holds a lock, as written in its file (older locks hold just a pid). */
export interface LockOwner {
  pid?: number;
  host?: string;
  since?: string;
}

/** Locks this process holds: its own pid on a lock it does not hold is a previous incarnation's (containers reuse pid 1). */
const heldHere = new Set<string>();

function readOwner(path: string): LockOwner {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (typeof parsed === "number") return { pid: parsed, host: hostname() };
    return parsed !== null && typeof parsed === "object" ? (parsed as LockOwner) : {};
  } catch {
    // Unreadable or half-written: an owner nobody knows, so the lock is not taken over.
    return {};
  }
}

/** A lock whose owner is known to be dead: on this host, and its pid no longer alive (or ours, not held). */
function isStale(path: string, owner: LockOwner): boolean {
  if (owner.host !== hostname() || typeof owner.pid !== "number") return false;
  return owner.pid === process.pid ? !heldHere.has(path) : !isProcessAlive(owner.pid);
}

/**
 * Creates `path` exclusively with this process as its owner and returns the release. A lock left
 * by a dead process on this host is taken over; one held by a live process, by another host
 * sharing the directory, or by an owner the file does not name is refused with `busy(owner)`.
 */
export function acquirePidLock(path: string, busy: (owner: LockOwner) => Error): () => void {
  mkdirSync(dirname(path), { recursive: true });
  const me = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      heldHere.add(path);
      return () => {
        heldHere.delete(path);
        rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readOwner(path);
    if (!isStale(path, owner)) throw busy(owner);
    rmSync(path, { force: true });
  }
  // Someone else took the lock between our removal of the stale one and our retry.
  throw busy(readOwner(path));
}
