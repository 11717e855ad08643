// Decoding the aws-chunked bodies SDK v3 sends with streaming checksums.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { decodeAwsChunked, isAwsChunked, withoutAwsChunked } from "../../local/aws-chunked.ts";

describe("aws-chunked", () => {
  it("recognises a chunked upload by its payload hash or content encoding", () => {
    assert.equal(
      isAwsChunked({ "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER" }),
      true,
    );
    assert.equal(isAwsChunked({ "content-encoding": "gzip, aws-chunked" }), true);
    assert.equal(isAwsChunked({ "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }), false);
    assert.equal(isAwsChunked({}), false);
  });

  it("joins the chunks and drops signatures and trailers", () => {
    const framed = Buffer.from(
      "5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
    );
    assert.equal(decodeAwsChunked(framed).toString(), "hello world");
  });

  it("keeps binary bytes, CR and LF included", () => {
    const data = Buffer.from([13, 10, 0, 255, 13, 10]);
    const framed = Buffer.concat([Buffer.from("6\r\n"), data, Buffer.from("\r\n0\r\n\r\n")]);
    assert.deepEqual(decodeAwsChunked(framed), data);
  });

  it("refuses a truncated or malformed body, saying why", () => {
    assert.throws(() => decodeAwsChunked(Buffer.from("10\r\nshort")), /shorter than its chunks/);
    assert.throws(() => decodeAwsChunked(Buffer.from("zz\r\n")), /bad chunk header 'zz'/);
    assert.throws(() => decodeAwsChunked(Buffer.from("5")), /ends inside a chunk header/);
  });

  it("strips only aws-chunked from Content-Encoding", () => {
    assert.equal(withoutAwsChunked("aws-chunked"), undefined);
    assert.equal(withoutAwsChunked("gzip,aws-chunked"), "gzip");
  });
});
