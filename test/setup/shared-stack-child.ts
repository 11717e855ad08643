// The integration run's shared embedded stack, in a process of its own so the stack's environment never leaks into test workers: prints its connection as one JSON line, stops on SIGTERM.
import { appendFileSync } from "node:fs";
import { startLocalStack } from "../../local/stack.ts";
import type { SharedStackConnection } from "./shared-stack.ts";

const [dataDir, logFile] = process.argv.slice(2);
if (!dataDir || !logFile) throw new Error("usage: shared-stack-child <dataDir> <logFile>");

// The stack's log goes to a file: tests that need a line of it read it there.
const stack = await startLocalStack({
  dataDir,
  log: (line) => appendFileSync(logFile, `${line}\n`),
});
const connection: SharedStackConnection = {
  env: stack.env,
  endpoints: stack.endpoints,
  names: stack.names,
  dataDir: stack.dataDir,
  logFile,
};
process.stdout.write(`${JSON.stringify(connection)}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  stack.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`shared stack: stopping failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// The runner died without stopping us: do not outlive it.
process.on("disconnect", stop);
