// The agent confirms a PUT by the x-amz-checksum-sha256 S3 echoes, and else compares S3's ETag with the MD5 of what it sent only where S3 makes the ETag an MD5 (plain or SSE-S3), never under SSE-KMS or SSE-C.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "vitest";
import { ChecksumMismatchError } from "../../edge-agent/errors.ts";
import { confirmStored } from "../../edge-agent/image-upload.ts";
import { checkEtag, type Run } from "../../edge-agent/s3-calls.ts";

const MD5 = "0123456789abcdef0123456789abcdef";
const run = (checkEtagMd5 = true) => ({ settings: { checkEtagMd5 } }) as unknown as Run;

describe("checkEtag", () => {
  it("accepts an ETag that is the MD5 sent, quoted as S3 sends it", () => {
    checkEtag(run(), "put", { ETag: `"${MD5}"` }, MD5);
    checkEtag(run(), "put", { ETag: `"${MD5}"`, ServerSideEncryption: "AES256" }, MD5);
  });

  it("refuses another ETag on a plain or SSE-S3 object: the bytes stored are not the bytes sent", () => {
    for (const answer of [{ ETag: '"ffff"' }, { ETag: '"ffff"', ServerSideEncryption: "AES256" }]) {
      assert.throws(() => checkEtag(run(), "put", answer, MD5), ChecksumMismatchError);
    }
  });

  it("does not compare under SSE-KMS or SSE-C, whose ETags are not MD5s", () => {
    checkEtag(run(), "put", { ETag: '"kms-etag"', ServerSideEncryption: "aws:kms" }, MD5);
    checkEtag(run(), "put", { ETag: '"kms-etag"', ServerSideEncryption: "aws:kms:dsse" }, MD5);
    checkEtag(run(), "put", { ETag: '"c-etag"', SSECustomerAlgorithm: "AES256" }, MD5);
  });

  it("does not compare when told not to", () => {
    checkEtag(run(false), "put", { ETag: '"ffff"' }, MD5);
  });
});

describe("confirmStored", () => {
  const body = Buffer.from("the scanned bytes of an image");
  const checksum = createHash("sha256").update(body).digest("base64");
  const md5 = createHash("md5").update(body).digest("hex");

  it("confirms by the echoed checksum, under any encryption and whatever the ETag", () => {
    for (const answer of [
      { ChecksumSHA256: checksum, ETag: `"${md5}"` },
      { ChecksumSHA256: checksum, ETag: '"kms-etag"', ServerSideEncryption: "aws:kms" },
      { ChecksumSHA256: checksum, ETag: '"ffff"' },
    ]) {
      assert.equal(confirmStored(run(), "put", answer, checksum, body), "stored");
    }
  });

  it("refuses an echoed checksum of other bytes", () => {
    const other = createHash("sha256").update("other bytes").digest("base64");
    assert.throws(
      () =>
        confirmStored(run(), "put", { ChecksumSHA256: other, ETag: `"${md5}"` }, checksum, body),
      ChecksumMismatchError,
    );
  });

  it("without an echoed checksum, falls back to the ETag where it is an MD5, else leaves it to a HEAD", () => {
    assert.equal(confirmStored(run(), "put", { ETag: `"${md5}"` }, checksum, body), "stored");
    assert.throws(
      () => confirmStored(run(), "put", { ETag: '"ffff"' }, checksum, body),
      ChecksumMismatchError,
    );
    const kms = { ETag: '"kms-etag"', ServerSideEncryption: "aws:kms" };
    assert.equal(confirmStored(run(), "put", kms, checksum, body), "sent");
    assert.equal(confirmStored(run(false), "put", { ETag: '"ffff"' }, checksum, body), "sent");
  });
});
