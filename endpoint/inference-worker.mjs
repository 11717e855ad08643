// Entry of an inference worker thread: worker threads do not inherit the CLI's TypeScript loader.
// Node strips the types itself from 22.18 on (as bin/waferflow.js relies on), without tsx's loader
// (0.2-0.4 s of CPU per thread); an older Node, or an installed copy under node_modules (Node never
// strips files there), registers tsx first.
if (!process.features.typescript || import.meta.url.includes("/node_modules/")) {
  const { register } = await import("tsx/esm/api");
  register();
} else {
  // Node's stripped text remembered between starts (lib/strip-types-cache.mjs).
  await import("../lib/strip-types-cache.mjs");
}
await import("./inference-worker.ts");
