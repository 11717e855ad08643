// A process that runs the embedded stack on a data dir and uploads one lot whose endpoint calls are throttled, so a test can kill it mid-Map.
import { join } from "node:path";
import { uploadLot } from "../../../edge-agent/upload.ts";
import { createS3Client } from "../../../lib/aws.ts";
import { startLocalStack } from "../../../local/stack.ts";

const [dataDir, lotDir] = process.argv.slice(2);
if (!dataDir || !lotDir) throw new Error("usage: local-stack-child <dataDir> <lotDir>");
const stack = await startLocalStack({
  dataDir,
  log: (line) => process.stderr.write(`${line}\n`),
});
// Every InvokeEndpoint is throttled, so the Map is still under way whenever the test kills us.
stack.faults.throttleEndpoint(Number.MAX_SAFE_INTEGER);
await uploadLot({
  dir: lotDir,
  s3: createS3Client(),
  bucket: stack.names.bucket,
  stateDir: join(dataDir, "agent"),
});
process.stdout.write("uploaded\n");
// Runs until killed.
setInterval(() => {}, 1 << 30);
