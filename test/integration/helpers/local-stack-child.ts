// A process that runs the embedded stack on a data dir and uploads one lot whose endpoint calls never answer, so a test can kill it mid-Map.
import { createServer } from "node:net";
import { join } from "node:path";
import { uploadLot } from "../../../edge-agent/upload.ts";
import { createS3Client } from "../../../lib/aws.ts";
import { startLocalStack } from "../../../local/stack.ts";

const [dataDir, lotDir] = process.argv.slice(2);
if (!dataDir || !lotDir) throw new Error("usage: local-stack-child <dataDir> <lotDir>");
// A SageMaker runtime that takes every InvokeEndpoint and never answers, in place of the stack's
// model server (an inference thread no request of this process would reach): the Map is still
// under way whenever the test kills us once DetectDefects has called it.
let called = false;
const silentEndpoint = createServer((socket) => {
  socket.on("data", () => {
    if (called) return;
    called = true;
    process.stderr.write("endpoint called\n");
  });
});
await new Promise<void>((listening) => silentEndpoint.listen(0, "127.0.0.1", listening));
const address = silentEndpoint.address();
if (!address || typeof address === "string") throw new Error("the silent endpoint has no port");
const stack = await startLocalStack({
  dataDir,
  sagemakerUrl: `http://127.0.0.1:${address.port}`,
  log: (line) => process.stderr.write(`${line}\n`),
});
await uploadLot({
  dir: lotDir,
  s3: createS3Client(),
  bucket: stack.names.bucket,
  stateDir: join(dataDir, "agent"),
});
process.stdout.write("uploaded\n");
// Runs until killed.
setInterval(() => {}, 1 << 30);
