// One stack per data dir: a second one would corrupt the LevelDB tables and interleave execution files.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "../lib/process.ts";
import { LocalStackError } from "./errors.ts";

const LOCK_FILE = "stack.lock";

/** Takes the data dir for this process; a lock left by a process that died is taken over. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new LocalStackError(`cannot lock the data dir ${dataDir}`, { cause: error });
      }
      const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isProcessAlive(owner)) {
        throw new LocalStackError(
          `data dir ${dataDir} is in use by another local stack (process ${owner}); stop it or use another --data-dir`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new LocalStackError(`cannot lock the data dir ${dataDir}: another process keeps taking it`);
}
