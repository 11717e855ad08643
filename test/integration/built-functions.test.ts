// The bundles `npm run build` writes load in a bare Node 22 process, outside the repository, with only their template environment.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  BUILD_DIR,
  type BuiltFunction,
  buildProblem,
  loadBuiltFunctions,
} from "../../infra/build-layout.ts";
import { loadTemplate, REPO_ROOT, TEMPLATE_PATH } from "../../infra/template.ts";
import { buildLocalModel } from "../../local/resource-model.ts";

const run = promisify(execFile);
const NODE = resolve(REPO_ROOT, "node_modules/.bin/node");
const template = loadTemplate(TEMPLATE_PATH);
const model = buildLocalModel(template, TEMPLATE_PATH);

/** A module file that imports the bundle: `node -e` would define a global `require` and hide the crash. */
const LOADER = `const module = await import(process.argv[2]);
if (typeof module.handler !== "function") throw new Error("no handler export");
console.log("loaded");
`;

/**
 * One process per function for both load checks (a Node start is about 0.3 s of CPU): the bundle
 * is imported as Lambda starts it, with the function's template environment, then evaluated afresh
 * (a new module instance: another URL) with nothing in the environment but PATH and the template's
 * NODE_OPTIONS, where its configuration, read at load, must be refused.
 */
const LOAD_TWICE = `import { inspect } from "node:util";
import { pathToFileURL } from "node:url";
const url = pathToFileURL(process.argv[2]).href;
const outcome = async (specifier) => {
  try {
    const module = await import(specifier);
    return typeof module.handler === "function" ? "loaded" : "no handler export";
  } catch (error) {
    return inspect(error);
  }
};
const configured = await outcome(url);
for (const name of Object.keys(process.env)) {
  if (name !== "PATH" && name !== "NODE_OPTIONS") delete process.env[name];
}
const bare = await outcome(\`\${url}?bare\`);
console.log(JSON.stringify({ configured, bare }));
`;

interface Loaded {
  ok: boolean;
  output: string;
}

describe("built functions (.aws-sam/build)", () => {
  let scratch: string;
  let built: Map<string, BuiltFunction>;

  beforeAll(() => {
    built = loadBuiltFunctions();
    scratch = mkdtempSync(join(tmpdir(), "waferflow-built-"));
    writeFileSync(join(scratch, "load.mjs"), LOADER);
    writeFileSync(join(scratch, "load-twice.mjs"), LOAD_TWICE);
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * Copies the function as Lambda unpacks it (its folder alone) outside the repository, so no
   * node_modules of ours can be found; its layers' packages are put where plain Node resolution
   * looks, standing in for Lambda's /opt/nodejs/node_modules.
   */
  function stage(fn: BuiltFunction): string {
    const root = mkdtempSync(join(scratch, `${fn.logicalId}-`));
    const task = join(root, "task");
    cpSync(fn.codeDir, task, { recursive: true });
    const [layer] = fn.layerDirs;
    if (layer) symlinkSync(join(layer, "nodejs/node_modules"), join(root, "node_modules"), "dir");
    return join(task, "handler.mjs");
  }

  async function load(bundle: string, env: Record<string, string>): Promise<Loaded> {
    try {
      const { stdout, stderr } = await run(NODE, [join(scratch, "load.mjs"), bundle], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
        cwd: scratch,
        // Node prints the throwing line, and a minified bundle's line is long.
        maxBuffer: 64 * 1024 * 1024,
      });
      return { ok: true, output: stdout + stderr };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
    }
  }

  it("has one handler.mjs with its source map per function of the template, and the built template points at them", () => {
    const names = model.functions.map((fn) => fn.logicalId).sort();
    assert.deepEqual([...built.keys()].sort(), names);
    const builtTemplate = loadTemplate(join(BUILD_DIR, "template.yaml"));
    for (const fn of built.values()) {
      assert.equal(fn.handler, "handler.handler");
      const bundle = readFileSync(join(fn.codeDir, "handler.mjs"), "utf8");
      assert.match(bundle, /createRequire/, `${fn.logicalId}: the banner is in the bundle`);
      assert.ok(readFileSync(join(fn.codeDir, "handler.mjs.map"), "utf8").length > 0);
      assert.equal(builtTemplate.Resources[fn.logicalId]?.Properties?.CodeUri, fn.logicalId);
    }
    assert.equal(builtTemplate.Resources.SharpLayer?.Properties?.ContentUri, "SharpLayer");
  });

  it("is current, and would be called stale once the template changes", () => {
    assert.equal(buildProblem(TEMPLATE_PATH), undefined);
    const changed = join(scratch, "template.yaml");
    writeFileSync(changed, `${readFileSync(TEMPLATE_PATH, "utf8")}# one more line\n`);
    assert.match(buildProblem(changed) ?? "", /older than template\.yaml.*run npm run build/);
  });

  it("ships sharp's linux-x64 glibc binaries in the layer, whatever the build host", () => {
    const modules = join(BUILD_DIR, "SharpLayer/nodejs/node_modules");
    for (const name of ["sharp", "@img/sharp-linux-x64", "@img/sharp-libvips-linux-x64"]) {
      const manifest = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")) as {
        name: string;
      };
      assert.equal(manifest.name, name);
    }
  });

  /** Each function's two loads (LOAD_TWICE), run once for the two tests below. */
  let twice: Promise<Map<string, { configured: string; bare: string }>> | undefined;
  function loadEachTwice(): Promise<Map<string, { configured: string; bare: string }>> {
    twice ??= (async () => {
      const outcomes = new Map<string, { configured: string; bare: string }>();
      for (const fn of model.functions) {
        const builtFn = built.get(fn.logicalId) as BuiltFunction;
        const { stdout } = await run(NODE, [join(scratch, "load-twice.mjs"), stage(builtFn)], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...fn.environment },
          cwd: scratch,
          maxBuffer: 64 * 1024 * 1024,
        });
        outcomes.set(fn.logicalId, JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}"));
      }
      return outcomes;
    })();
    return twice;
  }

  it("loads every bundle cleanly with the function's own template environment", async () => {
    const outcomes = await loadEachTwice();
    assert.deepEqual([...outcomes.keys()].sort(), [...built.keys()].sort());
    for (const [logicalId, { configured }] of outcomes) {
      assert.equal(configured, "loaded", `${logicalId} loads`);
    }
  });

  it("fails only on configuration validation when the environment is empty", async () => {
    for (const [logicalId, { bare }] of await loadEachTwice()) {
      // Nothing but the template's NODE_OPTIONS, so the error points at TypeScript, not a minified line.
      assert.notEqual(bare, "loaded", `${logicalId} refuses to start without its configuration`);
      const summary = `${logicalId}: ${bare.slice(-600)}`;
      assert.match(bare, /\bConfigError\b/, summary);
      assert.match(bare, /invalid configuration: /, summary);
      assert.doesNotMatch(bare, /Dynamic require/, summary);
    }
  });

  /**
   * The shipped bundle itself, its banner line taken out (esbuild writes the banner as the bundle's
   * first line and adds nothing else for it), rather than a second esbuild build without it: the
   * same bytes that load above must crash on require once the banner's line is gone.
   */
  it("would crash on load without the template's createRequire banner (what the banner is for)", async () => {
    const logicalId = "StartLotFunction";
    const buildProperties = (template.Resources[logicalId]?.Metadata?.BuildProperties ??
      {}) as Record<string, unknown>;
    const banners = buildProperties.Banner;
    assert.ok(Array.isArray(banners) && banners.length === 1, `${logicalId}: one Banner entry`);
    const banner = String(banners[0]).replace(/^js=/, "");
    const bundlePath = stage(built.get(logicalId) as BuiltFunction);
    const [firstLine, ...rest] = readFileSync(bundlePath, "utf8").split("\n");
    assert.equal(firstLine, banner, "the bundle opens with the template's banner");
    writeFileSync(bundlePath, rest.join("\n"));
    const fn = model.functions.find((candidate) => candidate.logicalId === logicalId);
    const loaded = await load(bundlePath, fn?.environment ?? {});
    assert.ok(!loaded.ok, `${logicalId} loaded without its banner: ${loaded.output.slice(-300)}`);
    assert.match(loaded.output, /Dynamic require of "[^"]+" is not supported/);
  });
});
