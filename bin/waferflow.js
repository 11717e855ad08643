#!/usr/bin/env node
// Entry point of the `waferflow` CLI: makes sure Node 22+ runs it, then loads the TypeScript CLI (Node's own type stripping, or tsx where Node lacks it).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  // The project pins Node 22 as a dev dependency; prefer it over an older system Node.
  const pinned = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
  if (!existsSync(pinned)) {
    console.error(
      `waferflow needs Node.js 22 or newer (this is ${process.version}); run 'npm ci' first.`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  // A supervisor (systemd, docker stop, Ctrl-C in a pipeline) signals this process, not the child:
  // pass each signal on so the child can drain and exit the way it chose.
  const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of forwarded) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.once("error", (error) => {
    console.error(`waferflow: cannot start ${pinned}: ${error.message}`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => {
    if (signal) {
      // Die of the same signal, so our parent sees what the child saw.
      for (const name of forwarded) process.removeAllListeners(name);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
} else {
  // Node strips the types itself from 22.18 on (the source is erasable TypeScript only:
  // tsconfig.json's erasableSyntaxOnly): 0.1-0.4 s of CPU less per start than tsx's loader. Node
  // never strips files under node_modules: an installed copy keeps tsx.
  if (!process.features.typescript || import.meta.url.includes("/node_modules/")) {
    const { register } = await import("tsx/esm/api");
    register();
  } else {
    // Node's stripped text remembered between starts (lib/strip-types-cache.mjs).
    await import("../lib/strip-types-cache.mjs");
  }
  const { main } = await import("../cli/main.ts");
  process.exitCode = await main(process.argv.slice(2));
}
