// Node's stripped TypeScript remembered between starts (lib/strip-types-cache.mjs): the text Node's own loader would run, and a remembered text only ever used for its own source.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const HOOK = join(ROOT, "lib/strip-types-cache.mjs");
const CACHE_DIR = join(ROOT, "node_modules/.cache/waferflow/strip-types");
const dir = mkdtempSync(join(tmpdir(), "waferflow-strip-types-"));
// ES modules, as every .ts of this repository (its package.json's "type").
writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a .ts module with the hook, as `waferflow` does; its stdout. */
function run(file: string): string {
  return execFileSync(process.execPath, ["--import", HOOK, file], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Where the hook keeps a module's stripped text (its key: Node's version, the URL, the source). */
function cacheFileOf(file: string): string {
  const url = pathToFileURL(file).href;
  const key = createHash("sha256")
    .update(`${process.version}\0${url}\0`)
    .update(readFileSync(file, "utf8"))
    .digest("hex");
  return join(CACHE_DIR, `${key}.js`);
}

describe("lib/strip-types-cache.mjs", () => {
  it("runs a module as Node would, keeps Node's own stripped text, and uses it at the next start", () => {
    const file = join(dir, "typed.ts");
    writeFileSync(
      file,
      `interface Wafer { id: string }\nconst wafer: Wafer = { id: "W-1" };\nconsole.log(wafer.id as string, new Error("here").stack?.split("\\n")[1]);\n`,
    );
    const first = run(file);
    // Types stripped to spaces, the line and column kept: the stack names line 3 of the source.
    assert.match(first, /^W-1\s+at .*typed\.ts:3:\d+/);
    const kept = cacheFileOf(file);
    const url = pathToFileURL(file).href;
    assert.equal(
      readFileSync(kept, "utf8"),
      stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip", sourceUrl: url }),
    );
    // The next start runs the kept text (here replaced, to see that it is the one that runs).
    writeFileSync(kept, `console.log("kept text");\n`);
    assert.equal(run(file), "kept text\n");
    // A changed source is another key: the kept text of the old one is never used for it.
    writeFileSync(file, `const n: number = 2;\nconsole.log(n);\n`);
    assert.equal(run(file), "2\n");
    rmSync(kept, { force: true });
    rmSync(cacheFileOf(file), { force: true });
  });
});
