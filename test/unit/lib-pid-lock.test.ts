// A lock file naming its process: refused while that process lives, taken over once it is gone.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { acquirePidLock, type LockOwner } from "../../lib/pid-lock.ts";

const dir = mkdtempSync(join(tmpdir(), "waferflow-pid-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Busy extends Error {
  readonly owner: LockOwner;
  constructor(owner: LockOwner) {
    super(`busy: ${owner.pid}`);
    this.owner = owner;
  }
}
const busy = (owner: LockOwner) => new Busy(owner);

describe("acquirePidLock", () => {
  it("writes its owner, refuses a second taker in the same process, and releases", () => {
    const path = join(dir, "sub", "a.lock");
    const release = acquirePidLock(path, busy);
    const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.host, hostname());
    assert.throws(
      () => acquirePidLock(path, busy),
      (e: unknown) => e instanceof Busy,
    );
    release();
    acquirePidLock(path, busy)();
  });

  it("takes over a dead owner's lock, also one in the older plain-pid form", () => {
    const path = join(dir, "b.lock");
    // A pid far above any pid_max stands for a process that died without releasing its lock.
    writeFileSync(path, String(2 ** 30));
    acquirePidLock(path, busy)();
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname() }));
    // Our own pid on a lock we do not hold: a previous incarnation's (containers reuse pid 1).
    acquirePidLock(path, busy)();
  });

  it("refuses a lock whose owner it cannot know to be dead", () => {
    const path = join(dir, "c.lock");
    for (const content of ["{half", JSON.stringify({ pid: 2 ** 30, host: "another-host" })]) {
      writeFileSync(path, content);
      assert.throws(
        () => acquirePidLock(path, busy),
        (e: unknown) => e instanceof Busy,
      );
    }
    // The parent process is alive.
    writeFileSync(path, JSON.stringify({ pid: process.ppid, host: hostname() }));
    assert.throws(
      () => acquirePidLock(path, busy),
      (e: unknown) => e instanceof Busy,
    );
  });
});
