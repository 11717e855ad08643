// vitest globalSetup: the tests that run the built functions get a current `npm run build` (rebuilt only when stale).
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUILD_DIR, buildProblem } from "../../infra/build-layout.ts";
import { build } from "../../scripts/build.ts";

/** Projects set up side by side must not build into the same folder at once. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  const lock = join(dirname(BUILD_DIR), ".build-lock");
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || Date.now() > deadline) throw error;
      await new Promise((wake) => setTimeout(wake, 200));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export default async function setup(): Promise<void> {
  if (!buildProblem()) return;
  await withBuildLock(async () => {
    if (buildProblem()) await build({ log: () => {} });
  });
}
