// The local S3 removes at start the partial bodies a PutObject left when its process died mid-write, and nothing else.
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeInterruptedUploads } from "../../local/s3-object-io.ts";

let directory: string | undefined;
afterEach(async () => {
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe("removeInterruptedUploads", () => {
  it("removes every partial body under the data directory and keeps objects, metadata and look-alikes", async () => {
    directory = await mkdtemp(join(tmpdir(), "waferflow-s3-leftovers-"));
    const keyDir = join(directory, "lots", "LOT-1", "images");
    await mkdir(keyDir, { recursive: true });
    const kept = [
      "wafer-001.png._S3rver_object",
      "wafer-001.png._S3rver_metadata.json",
      "wafer-002.upload-notes.png._S3rver_object",
      "wafer-003.png._S3rver_object.upload-12-x",
    ];
    const leftovers = [
      "wafer-002.png._S3rver_object.upload-4242-1",
      "wafer-003.png._S3rver_object.upload-7-19",
    ];
    for (const name of [...kept, ...leftovers]) await writeFile(join(keyDir, name), "bytes");
    await writeFile(join(directory, "top._S3rver_object.upload-1-1"), "bytes");

    expect(await removeInterruptedUploads(directory)).toBe(3);
    expect((await readdir(keyDir)).sort()).toEqual([...kept].sort());
    expect(await readdir(directory)).toEqual(["lots"]);
  });

  it("finds nothing to remove in a data directory that does not exist yet", async () => {
    expect(await removeInterruptedUploads(join(tmpdir(), "waferflow-no-such-dir-4f1c"))).toBe(0);
  });
});
