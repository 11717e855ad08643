// Decodes aws-chunked request bodies (the SDK's default streaming checksums) so s3rver stores the bytes, not the framing.
import { LocalStackError } from "./errors.ts";

/**
 * Whether a request body is aws-chunked: SDK v3 sends STREAMING-* payload hashes with
 * `content-encoding: aws-chunked` unless told to compute checksums only when required.
 */
export function isAwsChunked(headers: Record<string, string | string[] | undefined>): boolean {
  const payloadHash = String(headers["x-amz-content-sha256"] ?? "");
  const encoding = String(headers["content-encoding"] ?? "");
  return payloadHash.startsWith("STREAMING-") || /(^|,)\s*aws-chunked\s*(,|$)/.test(encoding);
}

/**
 * `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n` repeated, ending with a zero-size chunk
 * and optional trailers (e.g. x-amz-checksum-crc32) that s3rver has no use for.
 */
export function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd === -1) throw new LocalStackError("aws-chunked body ends inside a chunk header");
    const header = body.subarray(offset, lineEnd).toString("latin1");
    const size = Number.parseInt(header.split(";")[0] ?? "", 16);
    if (!Number.isInteger(size) || size < 0) {
      throw new LocalStackError(`aws-chunked body has a bad chunk header '${header.slice(0, 40)}'`);
    }
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    const end = start + size;
    if (end > body.length) throw new LocalStackError("aws-chunked body is shorter than its chunks");
    parts.push(body.subarray(start, end));
    offset = end + 2;
  }
}

/** Strips aws-chunked from a Content-Encoding value; undefined when nothing else is left. */
export function withoutAwsChunked(encoding: string): string | undefined {
  const rest = encoding
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token && token !== "aws-chunked");
  return rest.length > 0 ? rest.join(", ") : undefined;
}
