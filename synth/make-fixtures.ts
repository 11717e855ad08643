// Regenerates the committed fixtures: `node --import tsx synth/make-fixtures.ts [fixturesDir]`.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeFixtures } from "./fixtures.ts";

const fixturesDir = process.argv[2] ?? fileURLToPath(new URL("../test/fixtures/", import.meta.url));
// Stale wafers from an older layout would otherwise linger beside the new truth.json.
for (const lot of ["lot-e2e", "eval", "lot-quality"])
  await rm(join(fixturesDir, lot), { recursive: true, force: true });
for (const dir of await makeFixtures(fixturesDir)) console.log(dir);
