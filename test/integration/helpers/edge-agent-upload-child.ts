// A child process that uploads one lot slowly, for tests that kill it mid-upload (a real crash).
import { setTimeout as sleep } from "node:timers/promises";
import { S3Client } from "@aws-sdk/client-s3";
import { uploadLot } from "../../../edge-agent/upload.ts";

interface ChildArgs {
  dir: string;
  stateDir: string;
  endpoint: string;
  bucket: string;
  partSizeBytes: number;
  /** Pause after each part so the parent can kill the process between parts. */
  pauseAfterPartMs: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
const s3 = new S3Client({
  endpoint: args.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
});
s3.middlewareStack.add(
  (next, context) => async (input) => {
    const output = await next(input);
    if (context.commandName === "UploadPartCommand") await sleep(args.pauseAfterPartMs);
    return output;
  },
  { step: "initialize", name: "pauseAfterPart" },
);
await uploadLot({
  dir: args.dir,
  s3,
  bucket: args.bucket,
  stateDir: args.stateDir,
  partSizeBytes: args.partSizeBytes,
  multipartThresholdBytes: args.partSizeBytes,
  allowSmallParts: true,
  concurrency: 1,
});
