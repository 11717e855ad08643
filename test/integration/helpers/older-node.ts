// A Node older than 22 on this machine, if there is one: bin/waferflow.js run by it re-runs itself under the pinned Node 22 (the launcher's path).
import { spawnSync } from "node:child_process";

/** The first of the usual system Nodes that is older than 22, else undefined. */
export function olderNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    const probe = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" });
    if (probe.status === 0 && Number(probe.stdout.split(".")[0]) < 22) return candidate;
  }
  return undefined;
}
