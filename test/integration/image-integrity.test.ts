// Through the embedded stack's S3 and endpoint: PreprocessImage reads headers by ranged GETs, and a tampered image still fails, by name.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { beforeAll, describe, it } from "vitest";
import { detectDefects } from "../../functions/detect-defects/core.ts";
import { preprocessImage } from "../../functions/preprocess-image/core.ts";
import { createS3Client, createSageMakerRuntimeClient } from "../../lib/aws.ts";
import type { LocalStack } from "../../local/stack.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

const LOT = "INTEGRITY-1";
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A 16-bit ramp, large enough that its pixels lie far past the 64 KiB head PreprocessImage reads. */
async function ramp(format: "png" | "tiff"): Promise<Buffer> {
  const width = 1100;
  const height = 1000;
  const pixels = new Uint16Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) % 65536;
  const image = sharp(Buffer.from(pixels.buffer), {
    raw: { width, height, channels: 1 },
  }).toColourspace("grey16");
  return format === "png" ? image.png().toBuffer() : image.tiff({ compression: "lzw" }).toBuffer();
}

describe("image integrity on the embedded stack", () => {
  let stack: LocalStack;
  let s3: ReturnType<typeof createS3Client>;
  const put = async (fileName: string, body: Uint8Array) => {
    const key = `lots/${LOT}/images/${fileName}`;
    await s3.send(new PutObjectCommand({ Bucket: stack.names.bucket, Key: key, Body: body }));
    return {
      fileName,
      key,
      sha256: sha256(body),
      bytes: body.length,
      contentType: fileName.endsWith(".tif") ? ("image/tiff" as const) : ("image/png" as const),
    };
  };
  const task = (image: Awaited<ReturnType<typeof put>>) => ({ lotId: LOT, metadata: {}, image });

  beforeAll(() => {
    stack = sharedStack();
    s3 = createS3Client();
  });

  it("reads PNG and TIFF headers from s3rver by range, sizes from Content-Range", async () => {
    for (const [fileName, format] of [
      ["ramp.png", "png"],
      ["ramp.tif", "tiff"],
    ] as const) {
      const bytes = await ramp(format);
      assert.ok(bytes.length > 500_000, `${fileName} is ${bytes.length} bytes`);
      if (format === "tiff")
        assert.ok(bytes.readUInt32LE(4) > 64 * 1024, "directory after the pixels");
      const image = await put(fileName, bytes);
      const header = await preprocessImage(task(image), { s3, bucket: stack.names.bucket });
      assert.deepEqual(header, {
        format,
        width: 1100,
        height: 1000,
        bitDepth: 16,
        bytes: bytes.length,
      });
    }
  });

  it("fails an empty or truncated upload at PreprocessImage, naming both sizes", async () => {
    const bytes = await ramp("png");
    const listed = await put("truncated.png", bytes);
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: listed.key,
        Body: bytes.subarray(0, bytes.length - 100),
      }),
    );
    await assert.rejects(preprocessImage(task(listed), { s3, bucket: stack.names.bucket }), {
      name: "ImageChecksumError",
      message: `image truncated.png is ${bytes.length - 100} bytes in S3, the manifest says ${bytes.length}`,
    });
    const empty = await put("empty.png", new Uint8Array(0));
    await assert.rejects(
      preprocessImage(task({ ...empty, bytes: 10 }), { s3, bucket: stack.names.bucket }),
      { name: "ImageChecksumError", message: /is 0 bytes in S3, the manifest says 10/ },
    );
  });

  it("fails a same-size tampered image at the endpoint, as that image's ImageChecksumError", async () => {
    const bytes = await ramp("png");
    const listed = await put("tampered.png", bytes);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 0xff;
    await s3.send(
      new PutObjectCommand({ Bucket: stack.names.bucket, Key: listed.key, Body: tampered }),
    );
    // PreprocessImage sees the right size and a good header: the digest is the endpoint's to check.
    const preprocessed = await preprocessImage(task(listed), { s3, bucket: stack.names.bucket });
    await assert.rejects(
      detectDefects(
        { ...task(listed), index: 0, preprocessed },
        {
          s3,
          sagemaker: createSageMakerRuntimeClient(),
          bucket: stack.names.bucket,
          endpointName: stack.names.endpointName,
        },
      ),
      {
        name: "ImageChecksumError",
        message: new RegExp(
          `^the endpoint refused the image \\(400\\): ImageChecksumError: s3://${stack.names.bucket}/${listed.key} has SHA-256 ${sha256(tampered)}, the request says ${listed.sha256}$`,
        ),
      },
    );
  });
});
