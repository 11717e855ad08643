// Bounded concurrency: never more than the limit at once, results in order, nothing new after a failure.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { forEachLimited, mapLimited, Semaphore } from "../../lib/pool.ts";

/** A task that records how many run at once; each waits for a few turns of the event loop. */
function counter() {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const task = async (item: number) => {
    started.push(item);
    running++;
    most = Math.max(most, running);
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    running--;
    if (item < 0) throw new Error(`item ${item} failed`);
    return item * 2;
  };
  return { task, started, most: () => most };
}

describe("mapLimited", () => {
  it("keeps to the limit and returns results in the items' order", async () => {
    const { task, most } = counter();
    const items = Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(
      await mapLimited(items, 3, task),
      items.map((i) => i * 2),
    );
    assert.equal(most(), 3);
  });

  it("throws the first failure only after the tasks in flight have settled", async () => {
    const { task, started } = counter();
    const items = [1, 2, -3, 4, 5, 6, 7, 8];
    await assert.rejects(mapLimited(items, 2, task), /item -3 failed/);
    // -3 failed while 2 or 4 was running; nothing after that was started.
    assert.ok(started.length <= 4, `started ${started.join(",")}`);
  });

  it("refuses a limit that is not a whole number >= 1", async () => {
    await assert.rejects(
      mapLimited([1], 0, async (x) => x),
      RangeError,
    );
  });
});

describe("forEachLimited", () => {
  it("returns the failures with their items and starts nothing once aborted", async () => {
    const { task } = counter();
    const failures = await forEachLimited([1, -2, 3], 1, async (item) => void (await task(item)));
    assert.deepEqual(
      failures.map((f) => [f.item, f.index]),
      [[-2, 1]],
    );
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    let ran = 0;
    await assert.rejects(
      forEachLimited([1, 2], 2, async () => void ran++, controller.signal),
      /stop/,
    );
    assert.equal(ran, 0);
  });
});

describe("Semaphore", () => {
  it("lets nested pools share one bound", async () => {
    const slots = new Semaphore(2);
    const { task, most } = counter();
    await mapLimited([0, 1, 2, 3], 4, (file) =>
      mapLimited([1, 2, 3], 3, (part) => slots.use(() => task(file * 10 + part))),
    );
    assert.equal(most(), 2);
  });

  it("acquire hands slots out in arrival order, and a release given twice frees one slot", async () => {
    const slots = new Semaphore(1);
    const first = await slots.acquire();
    const order: string[] = [];
    const second = slots.acquire().then((release) => {
      order.push("second");
      return release;
    });
    const third = slots.acquire().then((release) => {
      order.push("third");
      return release;
    });
    first();
    first(); // a second call must not free another slot
    const releaseSecond = await second;
    await Promise.resolve();
    assert.deepEqual(order, ["second"], "the third waits while the second holds the only slot");
    releaseSecond();
    (await third)();
    assert.deepEqual(order, ["second", "third"]);
  });
});
