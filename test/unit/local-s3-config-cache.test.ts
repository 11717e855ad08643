// Unit test of the S3 child's bucket-configuration cache on s3rver's real filesystem store: cached reads, and every change seen at once.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { type BucketConfigStore, cacheBucketConfig } from "../../local/s3-config-cache.ts";

const require = createRequire(import.meta.url);
const FilesystemStore = require("s3rver/lib/stores/filesystem") as new (
  directory: string,
) => BucketConfigStore & {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
};
const { getConfigModel } = require("s3rver/lib/models/config") as {
  getConfigModel(type: string): new (xml: string) => { type: string };
};

const CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`;

describe("cacheBucketConfig", () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "waferflow-s3-config-"));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  test("a bucket's configuration is read once, and every change through the store is seen by the next read", async () => {
    const store = new FilesystemStore(directory);
    cacheBucketConfig(store);
    assert.equal(await store.getBucket("lots"), null);
    await store.putBucket("lots");
    assert.ok(await store.getBucket("lots"), "a created bucket is seen at once");
    assert.equal(await store.getSubresource("lots", undefined, "cors"), null);

    // Written behind the store's back: the cached answer stands (this is what saves the disk reads).
    const corsPath = store.getResourcePath("lots", undefined, "cors.xml");
    await writeFile(corsPath, CORS);
    assert.equal(await store.getSubresource("lots", undefined, "cors"), null);

    // Written through the store (as s3rver's PutBucketCors does): seen at once.
    const Cors = getConfigModel("cors");
    await store.putSubresource("lots", undefined, new Cors(CORS));
    const stored = (await store.getSubresource("lots", undefined, "cors")) as { type: string };
    assert.equal(stored?.type, "cors");

    await store.deleteSubresource("lots", undefined, "cors");
    assert.equal(await store.getSubresource("lots", undefined, "cors"), null);

    // A deleted and re-created bucket starts without configuration, even if one was cached.
    await store.putSubresource("lots", undefined, new Cors(CORS));
    assert.ok(await store.getSubresource("lots", undefined, "cors"));
    await store.deleteBucket("lots");
    assert.equal(await store.getBucket("lots"), null);
    await store.putBucket("lots");
    assert.ok(await store.getBucket("lots"), "a created bucket is seen at once");
    assert.equal(await store.getSubresource("lots", undefined, "cors"), null);
  });
});
