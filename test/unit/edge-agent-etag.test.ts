// The agent compares S3's ETag with the MD5 of what it sent only where S3 makes the ETag an MD5 (plain or SSE-S3), never under SSE-KMS or SSE-C.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { ChecksumMismatchError } from "../../edge-agent/errors.ts";
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
