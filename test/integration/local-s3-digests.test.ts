// The local S3 checks a body against its Content-MD5, signed payload hash and x-amz-checksum-sha256 before storing it, as S3 does (echoing the checksum), and serves stored objects byte for byte, whole and in ranges.
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

let s3: TestS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3rver();
  client = s3.client({ maxAttempts: 1 });
});
afterAll(async () => {
  await s3?.stop();
});

const md5Base64 = (body: Buffer) => createHash("md5").update(body).digest("base64");
const sha256Hex = (body: Buffer) => createHash("sha256").update(body).digest("hex");
const sha256Base64 = (body: Buffer) => createHash("sha256").update(body).digest("base64");

/** A PutObject whose signed payload hash is the one given (the signer signs a header already set). */
function putDeclaringSha256(
  key: string,
  body: Buffer,
  sha256: string,
  contentMd5?: string,
): PutObjectCommand {
  const command = new PutObjectCommand({
    Bucket: s3.bucket,
    Key: key,
    Body: body,
    ...(contentMd5 ? { ContentMD5: contentMd5 } : {}),
  });
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = sha256;
      return next(args);
    },
    { step: "build", name: "declaredPayloadSha256" },
  );
  return command;
}

const stored = (key: string) => isStored(client, s3.bucket, key);

async function read(key: string, range?: string): Promise<Buffer> {
  const answer = await client.send(
    new GetObjectCommand({ Bucket: s3.bucket, Key: key, ...(range ? { Range: range } : {}) }),
  );
  return Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
}

describe("the local S3's digest checks", () => {
  it("refuses a body whose Content-MD5 is another body's (BadDigest) and stores nothing", async () => {
    const body = randomBytes(70_000);
    const other = Buffer.from(body);
    other[0] = (other[0] ?? 0) ^ 1;
    const eventsBefore = s3.events.length;
    const answer = await refusal(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: "md5/wrong.bin",
          Body: body,
          ContentMD5: md5Base64(other),
        }),
      ),
    );
    expect(answer).toEqual({ name: "BadDigest", status: 400 });
    expect(await stored("md5/wrong.bin")).toBe(false);
    expect(s3.events.length).toBe(eventsBefore);
  });

  it("refuses a Content-MD5 that is not a base64 MD5 (InvalidDigest)", async () => {
    const answer = await refusal(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: "md5/malformed.bin",
          Body: Buffer.from("bytes"),
          ContentMD5: "bm90IGFuIE1ENQ==",
        }),
      ),
    );
    expect(answer).toEqual({ name: "InvalidDigest", status: 400 });
    expect(await stored("md5/malformed.bin")).toBe(false);
  });

  it("refuses a body that is not the one whose SHA-256 was signed, and stores nothing", async () => {
    const body = randomBytes(50_000);
    const signedFor = randomBytes(50_000);
    const answer = await refusal(
      client.send(putDeclaringSha256("sha/wrong.bin", body, sha256Hex(signedFor))),
    );
    expect(answer).toEqual({ name: "XAmzContentSHA256Mismatch", status: 400 });
    expect(await stored("sha/wrong.bin")).toBe(false);
  });

  it("refuses a body whose x-amz-checksum-sha256 is another body's (BadDigest) and stores nothing", async () => {
    const body = randomBytes(70_000);
    const other = Buffer.from(body);
    other[9] = (other[9] ?? 0) ^ 1;
    const eventsBefore = s3.events.length;
    const answer = await refusal(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: "checksum/wrong.bin",
          Body: body,
          ChecksumSHA256: sha256Base64(other),
        }),
      ),
    );
    expect(answer).toEqual({ name: "BadDigest", status: 400 });
    expect(await stored("checksum/wrong.bin")).toBe(false);
    expect(s3.events.length).toBe(eventsBefore);
  });

  it("refuses an x-amz-checksum-sha256 that is not a base64 SHA-256 (InvalidRequest)", async () => {
    const answer = await refusal(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: "checksum/malformed.bin",
          Body: Buffer.from("bytes"),
          ChecksumSHA256: "bm90IGEgU0hBLTI1Ng==",
        }),
      ),
    );
    expect(answer).toEqual({ name: "InvalidRequest", status: 400 });
    expect(await stored("checksum/malformed.bin")).toBe(false);
  });

  it("stores a body matching its x-amz-checksum-sha256 and answers with that checksum, as S3 does", async () => {
    const body = randomBytes(1024 * 1024 + 3);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "checksum/ok.bin",
        Body: body,
        ChecksumSHA256: sha256Base64(body),
      }),
    );
    expect(put.ChecksumSHA256).toBe(sha256Base64(body));
    expect(put.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    expect((await read("checksum/ok.bin")).equals(body)).toBe(true);
    // A PUT without the header is answered without one.
    const plain = await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "checksum/plain.bin", Body: body }),
    );
    expect(plain.ChecksumSHA256).toBeUndefined();
  });

  it("stores checked parts once hashed: part ETags their MD5s, a damaged part refused, the object byte for byte", async () => {
    const key = "parts/object.bin";
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }),
    );
    const UploadId = created.UploadId ?? "";
    // The first part larger than a 1 MiB write batch, so its file is written in several.
    const parts = [randomBytes(2 * 1024 * 1024 + 77), randomBytes(30_000)];
    const damaged = Buffer.from(parts[0] ?? []);
    damaged[5] = (damaged[5] ?? 0) ^ 1;
    const refused = await refusal(
      client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: damaged,
          ContentMD5: md5Base64(parts[0] ?? Buffer.alloc(0)),
        }),
      ),
    );
    expect(refused).toEqual({ name: "BadDigest", status: 400 });
    const listedAfterRefusal = await client.send(
      new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId }),
    );
    expect(listedAfterRefusal.Parts ?? []).toEqual([]);
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const answer = await client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          Body: part,
          ContentMD5: md5Base64(part),
        }),
      );
      expect(answer.ETag).toBe(`"${createHash("md5").update(part).digest("hex")}"`);
      etags.push(answer.ETag ?? "");
    }
    const listed = await client.send(
      new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId }),
    );
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual(
      parts.map((part, i) => [i + 1, etags[i], part.length]),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    expect((await read(key)).equals(Buffer.concat(parts))).toBe(true);
  });

  it("leaves the object a refused PUT would have replaced as it was", async () => {
    const first = randomBytes(200_000);
    await client.send(putDeclaringSha256("keep/a.bin", first, sha256Hex(first), md5Base64(first)));
    const second = randomBytes(200_000);
    const answer = await refusal(
      client.send(putDeclaringSha256("keep/a.bin", second, sha256Hex(first))),
    );
    expect(answer).toEqual({ name: "XAmzContentSHA256Mismatch", status: 400 });
    expect((await read("keep/a.bin")).equals(first)).toBe(true);
  });

  it("stores a body matching both digests: ETag its MD5, served whole and in ranges byte for byte", async () => {
    // Larger than the 1 MiB read size, so whole and ranged reads cross read boundaries.
    const body = randomBytes(3 * 1024 * 1024 + 12_345);
    const eventsBefore = s3.events.length;
    const put = await client.send(
      putDeclaringSha256("ok/image.bin", body, sha256Hex(body), md5Base64(body)),
    );
    const md5Hex = createHash("md5").update(body).digest("hex");
    expect(put.ETag).toBe(`"${md5Hex}"`);
    // Its creation event comes over IPC beside the answer, so it may arrive after it.
    const createdAt = await s3.waitForCreated("ok/image.bin", eventsBefore);
    expect(s3.events[createdAt]).toEqual({
      eventName: "ObjectCreated:PutObject",
      key: "ok/image.bin",
    });
    expect((await read("ok/image.bin")).equals(body)).toBe(true);
    expect((await read("ok/image.bin", "bytes=0-65535")).equals(body.subarray(0, 65_536))).toBe(
      true,
    );
    const from = 1024 * 1024 - 7;
    const to = 2 * 1024 * 1024 + 99;
    expect(
      (await read("ok/image.bin", `bytes=${from}-${to}`)).equals(body.subarray(from, to + 1)),
    ).toBe(true);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "ok/image.bin" }),
    );
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(`"${md5Hex}"`);
  });

  it("stores an empty body and answers a range of it 416, as S3 does", async () => {
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "ok/empty.bin",
        Body: Buffer.alloc(0),
        ContentMD5: md5Base64(Buffer.alloc(0)),
      }),
    );
    expect(put.ETag).toBe(`"${createHash("md5").update(Buffer.alloc(0)).digest("hex")}"`);
    expect((await read("ok/empty.bin")).length).toBe(0);
    expect(await refusal(read("ok/empty.bin", "bytes=0-9"))).toMatchObject({ status: 416 });
  });
});
