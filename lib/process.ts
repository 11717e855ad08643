// Whether a process id names a live process: how the data dir's lock and files tell a running stack from a dead one.

/** True when `pid` is alive; EPERM means it exists but belongs to someone else, which counts. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
