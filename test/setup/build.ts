// vitest globalSetup: the tests that run the built functions get a current `npm run build` (rebuilt only when stale).
import { buildProblem } from "../../infra/build-layout.ts";
import { build } from "../../scripts/build.ts";

export default async function setup(): Promise<void> {
  const problem = buildProblem();
  if (problem) await build({ log: () => {} });
}
