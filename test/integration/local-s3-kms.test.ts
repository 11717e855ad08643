// A local S3 bucket whose default encryption is SSE-KMS (as the template's lot bucket's is) answers as S3 does: the algorithm and key on every object answer, ETags that are no MD5s unless a Content-MD5 was checked, every declared digest still checked.
import { createHash, randomBytes } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStored, refusal, startS3rver, type TestS3 } from "./helpers/s3rver.ts";

const KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/test-key";

let s3: TestS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3rver({ kms: { keyArn: KEY_ARN, bucketKeyEnabled: true } });
  client = s3.client({ maxAttempts: 1 });
});
afterAll(async () => {
  await s3?.stop();
});

const md5Hex = (body: Buffer) => createHash("md5").update(body).digest("hex");
const md5Base64 = (body: Buffer) => createHash("md5").update(body).digest("base64");
const sha256Base64 = (body: Buffer) => createHash("sha256").update(body).digest("base64");

const ENCRYPTED = { ServerSideEncryption: "aws:kms", SSEKMSKeyId: KEY_ARN, BucketKeyEnabled: true };

function encryptionOf(answer: {
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
}) {
  return {
    ServerSideEncryption: answer.ServerSideEncryption,
    SSEKMSKeyId: answer.SSEKMSKeyId,
    BucketKeyEnabled: answer.BucketKeyEnabled,
  };
}

const stored = (key: string) => isStored(client, s3.bucket, key);

describe("the local S3's SSE-KMS bucket", () => {
  it("stores a PutObject checked by its checksum, answers SSE-KMS with an ETag that is no MD5, the same on HEAD, GET and the event", async () => {
    const body = randomBytes(2 * 1024 * 1024 + 5);
    const from = s3.events.length;
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "kms/image.bin",
        Body: body,
        ChecksumSHA256: sha256Base64(body),
      }),
    );
    expect(encryptionOf(put)).toEqual(ENCRYPTED);
    expect(put.ChecksumSHA256).toBe(sha256Base64(body));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(put.ETag).not.toBe(`"${md5Hex(body)}"`);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "kms/image.bin" }),
    );
    expect(encryptionOf(head)).toEqual(ENCRYPTED);
    expect(head.ETag).toBe(put.ETag);
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "kms/image.bin" }),
    );
    expect(encryptionOf(got)).toEqual(ENCRYPTED);
    expect(got.ETag).toBe(put.ETag);
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
    await s3.waitForCreated("kms/image.bin", from);
    // Other bytes under the key: another ETag, as a cache keyed by ETag needs.
    const other = randomBytes(1024);
    const replaced = await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "kms/image.bin", Body: other }),
    );
    expect(replaced.ETag).not.toBe(put.ETag);
  });

  it("still checks every declared digest: a wrong checksum or Content-MD5 is BadDigest and stores nothing", async () => {
    const body = randomBytes(300_000);
    const other = randomBytes(300_000);
    expect(
      await refusal(
        client.send(
          new PutObjectCommand({
            Bucket: s3.bucket,
            Key: "kms/wrong-checksum.bin",
            Body: body,
            ChecksumSHA256: sha256Base64(other),
          }),
        ),
      ),
    ).toMatchObject({ name: "BadDigest" });
    expect(await stored("kms/wrong-checksum.bin")).toBe(false);
    expect(
      await refusal(
        client.send(
          new PutObjectCommand({
            Bucket: s3.bucket,
            Key: "kms/wrong-md5.bin",
            Body: body,
            ContentMD5: md5Base64(other),
          }),
        ),
      ),
    ).toMatchObject({ name: "BadDigest" });
    expect(await stored("kms/wrong-md5.bin")).toBe(false);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "kms/right-md5.bin",
        Body: body,
        ContentMD5: md5Base64(body),
      }),
    );
    expect(encryptionOf(put)).toEqual(ENCRYPTED);
    expect(await stored("kms/right-md5.bin")).toBe(true);
  });

  it("answers a multipart upload's create, parts and completion with SSE-KMS; parts listed with their ETags", async () => {
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "kms/multi.bin" }),
    );
    expect(encryptionOf(created)).toEqual(ENCRYPTED);
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const answer = await client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: "kms/multi.bin",
          UploadId: created.UploadId,
          PartNumber: i + 1,
          Body: part,
          ContentMD5: md5Base64(part),
        }),
      );
      expect(encryptionOf(answer)).toEqual(ENCRYPTED);
      etags.push(answer.ETag ?? "");
    }
    const listed = await client.send(
      new ListPartsCommand({ Bucket: s3.bucket, Key: "kms/multi.bin", UploadId: created.UploadId }),
    );
    expect(listed.Parts?.map((p) => p.ETag)).toEqual(etags);
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "kms/multi.bin",
        UploadId: created.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    expect(encryptionOf(completed)).toEqual(ENCRYPTED);
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "kms/multi.bin" }),
    );
    expect(
      Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(Buffer.concat(parts)),
    ).toBe(true);
  });
});
