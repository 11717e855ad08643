// One stack per data dir: a second one would corrupt the LevelDB tables and interleave execution files.
import { join } from "node:path";
import { acquirePidLock } from "../lib/pid-lock.ts";
import { LocalStackError } from "./errors.ts";

const LOCK_FILE = "stack.lock";

/** Takes the data dir for this process; a lock left by a process that died is taken over. */
export function lockDataDir(dataDir: string): () => void {
  try {
    return acquirePidLock(
      join(dataDir, LOCK_FILE),
      (owner) =>
        new LocalStackError(
          `data dir ${dataDir} is in use by another local stack (process ${owner.pid ?? "unknown"}); stop it or use another --data-dir`,
        ),
    );
  } catch (error) {
    if (error instanceof LocalStackError) throw error;
    throw new LocalStackError(`cannot lock the data dir ${dataDir}`, { cause: error });
  }
}
