// Node's own type stripping, remembered: each .ts module's stripped text kept under node_modules/.cache, so a process start does not strip (and load the stripper for) the same sources again.
//
// Node 22 strips a .ts module's types each time a process loads it (amaro: swc compiled to
// WebAssembly, loaded per process and thread), and its compile cache keeps only V8's code, not the
// stripped text: 0.3-0.7 s of CPU per `waferflow` start, S3 child or inference thread, the same
// work every time. This in-thread load hook (module.registerHooks) hands Node the text Node's
// stripper gave for the same source, URL and Node version, stripping only what it has not seen
// (with the same function and options Node's loader uses: mode strip, no source map, the module's
// URL as sourceURL), so what runs is byte for byte what Node would run. Where Node would do more
// than strip (--experimental-transform-types, --enable-source-maps) it leaves Node to it. A cache
// it cannot read or write is no error: the module is stripped as before.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { registerHooks, stripTypeScriptTypes } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CACHE_DIR = fileURLToPath(
  new URL("../node_modules/.cache/waferflow/strip-types/", import.meta.url),
);

/** Node's stripping is a pure function of these: remembered text is valid only for the same ones. */
function cacheFile(url, source) {
  const key = createHash("sha256")
    .update(`${process.version}\0${url}\0`)
    .update(source)
    .digest("hex");
  return join(CACHE_DIR, `${key}.js`);
}

/** stripTypeScriptTypes warns once per process that it is experimental; Node's own stripping does not. */
function strip(source, url) {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source, { mode: "strip", sourceUrl: url });
  } finally {
    process.emitWarning = emitWarning;
  }
}

function stripped(url, source) {
  const file = cacheFile(url, source);
  try {
    return readFileSync(file, "utf8");
  } catch {
    // not seen yet
  }
  const text = strip(source, url);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Written aside and renamed: a process reading it at the same moment sees all of it or none.
    const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  } catch {
    // a read-only checkout: strip again next time
  }
  return text;
}

// Importing this module installs the hook in the importing thread (hooks are per thread: an
// inference thread imports it too; a child process gets it with --import). Only where Node itself
// would strip: Node 22.18+ with plain type stripping and no source maps.
if (process.features.typescript === "strip" && !process.sourceMapsEnabled) {
  registerHooks({
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      // Under node_modules Node refuses to strip, and so does this hook: Node says so itself.
      if (loaded.format !== "module-typescript" || loaded.source == null) return loaded;
      if (url.includes("/node_modules/")) return loaded;
      // As Node's loader reads it (TextDecoder: UTF-8, a byte order mark dropped).
      const source =
        typeof loaded.source === "string" ? loaded.source : new TextDecoder().decode(loaded.source);
      return { format: "module", source: stripped(url, source), shortCircuit: true };
    },
  });
}
