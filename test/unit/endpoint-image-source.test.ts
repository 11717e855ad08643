// Images named by S3 reference: the request body's shape, and which objects the endpoint agrees to read.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GetObjectCommand, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, it } from "vitest";
import { imageFormatOf, parseImageReference } from "../../endpoint/content.ts";
import { ImageContentError, ImageReferenceError } from "../../endpoint/errors.ts";
import { createS3ImageSource, imageSourceFromEnv } from "../../endpoint/image-source.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const SHA256 = createHash("sha256").update(BYTES).digest("hex");
const KEY = "lots/LOT-1/images/wafer-001.png";

describe("parseImageReference", () => {
  it("takes { s3Uri, sha256 }", () => {
    assert.deepEqual(
      parseImageReference(encode({ s3Uri: `s3://lot-bucket/${KEY}`, sha256: SHA256 })),
      {
        s3Uri: `s3://lot-bucket/${KEY}`,
        sha256: SHA256,
      },
    );
  });

  it("names what is wrong with anything else", () => {
    assert.throws(() => parseImageReference(new TextEncoder().encode("{")), ImageReferenceError);
    assert.throws(
      () => parseImageReference(encode({ s3Uri: "https://example.com/x.png" })),
      /s3Uri: s3:\/\/<bucket>\/<key>/,
    );
    assert.throws(
      () => parseImageReference(encode({ s3Uri: `s3://lot-bucket/${KEY}`, extra: 1 })),
      ImageReferenceError,
    );
  });

  it("is never mistaken for an image body", () => {
    assert.throws(() => imageFormatOf("application/json", BYTES), ImageContentError);
  });
});

describe("createS3ImageSource", () => {
  const s3 = mockClient(S3Client);
  const source = createS3ImageSource({
    s3: new S3Client({ region: "us-east-1" }),
    bucket: "lot-bucket",
  });
  const serve = () => {
    s3.reset();
    s3.on(GetObjectCommand).resolves({
      ContentLength: BYTES.length,
      Body: { transformToByteArray: async () => BYTES },
    } as never);
  };

  it("reads a lot image and checks its SHA-256", async () => {
    serve();
    assert.deepEqual(await source.read({ s3Uri: `s3://lot-bucket/${KEY}`, sha256: SHA256 }), BYTES);
    // ImageChecksumError (an ImageReferenceError, so a 400), named apart for the workflow.
    await assert.rejects(
      source.read({ s3Uri: `s3://lot-bucket/${KEY}`, sha256: "0".repeat(64) }),
      (error: unknown) =>
        error instanceof ImageReferenceError &&
        error.name === "ImageChecksumError" &&
        /has SHA-256 .* the request says 0{64}/.test(error.message),
    );
  });

  it("assembles a streamed body into one buffer of its announced length, and names a short one", async () => {
    const streamed = (chunks: Uint8Array[], length: number) => {
      s3.reset();
      s3.on(GetObjectCommand).resolves({
        ContentLength: length,
        Body: {
          async *[Symbol.asyncIterator]() {
            yield* chunks;
          },
          transformToByteArray: async () => {
            throw new Error("a streamed body is read as a stream");
          },
        },
      } as never);
    };
    streamed([BYTES.subarray(0, 4), BYTES.subarray(4)], BYTES.length);
    assert.deepEqual(await source.read({ s3Uri: `s3://lot-bucket/${KEY}`, sha256: SHA256 }), BYTES);
    streamed([BYTES.subarray(0, 4)], BYTES.length);
    await assert.rejects(source.read({ s3Uri: `s3://lot-bucket/${KEY}` }), {
      name: "ImageSourceError",
      message: `s3://lot-bucket/${KEY} ended after 4 of the ${BYTES.length} bytes it announced`,
    });
    streamed([BYTES, BYTES], BYTES.length);
    await assert.rejects(source.read({ s3Uri: `s3://lot-bucket/${KEY}` }), /sent more than/);
  });

  it("refuses other buckets and keys that are not lot images, without asking S3", async () => {
    serve();
    await assert.rejects(
      source.read({ s3Uri: `s3://other-bucket/${KEY}` }),
      /bucket 'other-bucket'/,
    );
    await assert.rejects(
      source.read({ s3Uri: "s3://lot-bucket/lots/LOT-1/report.json" }),
      /not a lot image/,
    );
    await assert.rejects(
      source.read({ s3Uri: "s3://lot-bucket/lots/LOT-1/images/../manifest.json" }),
      /not a lot image/,
    );
    assert.equal(s3.commandCalls(GetObjectCommand).length, 0);
  });

  it("says so when the object does not exist", async () => {
    s3.reset();
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: "no such key", $metadata: {} }));
    await assert.rejects(source.read({ s3Uri: `s3://lot-bucket/${KEY}` }), /does not exist/);
  });
});

describe("imageSourceFromEnv", () => {
  it("reads references only when WAFERFLOW_IMAGE_BUCKET names a bucket", () => {
    assert.equal(imageSourceFromEnv({}), undefined);
    assert.equal(imageSourceFromEnv({ WAFERFLOW_IMAGE_BUCKET: "" }), undefined);
    assert.equal(
      imageSourceFromEnv({ WAFERFLOW_IMAGE_BUCKET: "lot-bucket" })?.bucket,
      "lot-bucket",
    );
    assert.throws(
      () => imageSourceFromEnv({ WAFERFLOW_IMAGE_BUCKET: "Not A Bucket" }),
      /WAFERFLOW_IMAGE_BUCKET/,
    );
  });

  it("reads through the S3 client it loads once a bucket is named", async () => {
    const s3 = mockClient(S3Client);
    try {
      s3.on(GetObjectCommand, { Bucket: "lot-bucket", Key: KEY }).resolves({
        ContentLength: BYTES.length,
        Body: { transformToByteArray: async () => BYTES },
      } as never);
      const source = imageSourceFromEnv({ WAFERFLOW_IMAGE_BUCKET: "lot-bucket" });
      const read = await source?.read({ s3Uri: `s3://lot-bucket/${KEY}`, sha256: SHA256 });
      assert.deepEqual(read, BYTES);
    } finally {
      s3.restore();
    }
  });
});
