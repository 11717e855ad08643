// The embedded stack's stand-in for the scheduled LotWatchFunction: the same core check, every minute, in `waferflow local`.

import { alertStuckLots } from "../functions/lot-watch/core.ts";
import { createDocumentClient, createSnsClient } from "../lib/aws.ts";
import type { LocalStack } from "../local/stack.ts";

export const LOT_WATCH_INTERVAL_MS = 60_000;

export function createLotWatch(
  stack: LocalStack,
  stuckAfterSeconds: number,
  log: (line: string) => void,
  intervalMs = LOT_WATCH_INTERVAL_MS,
): { check(): Promise<void>; stop(): void } {
  const db = createDocumentClient();
  const sns = createSnsClient();
  let running: Promise<void> | undefined;
  const check = () => {
    // One check at a time: a slow scan must not pile up behind itself.
    running ??= alertStuckLots({
      db,
      sns,
      table: stack.names.table,
      alertTopicArn: stack.names.alertTopicArn,
      stuckAfterSeconds,
    })
      .then((stuck) => {
        for (const lot of stuck) log(`lot ${lot.lotId} is STUCK (${lot.ageSeconds} s processing)`);
      })
      .catch((error: Error) => log(`stuck-lot check failed: ${error.message}`))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
