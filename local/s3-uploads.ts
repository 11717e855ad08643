// ListParts and AbortMultipartUpload, which s3rver lacks, over s3rver's own upload directories (resumable uploads need them); S3's error document.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { escapeXml } from "../lib/xml.ts";

const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";
const MAX_PARTS = 1000;

export interface S3Reply {
  status: number;
  contentType?: string;
  body: string;
}

function xml(status: number, body: string): S3Reply {
  return {
    status,
    contentType: "application/xml",
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
  };
}

/** An S3 error document: code, message and the fields S3 adds for that error (UploadId, Condition...). */
export function s3Error(
  status: number,
  code: string,
  message: string,
  fields: Record<string, string> = {},
): S3Reply {
  const extra = Object.entries(fields).map(
    ([name, value]) => `<${name}>${escapeXml(value)}</${name}>`,
  );
  return xml(
    status,
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra.join("")}</Error>`,
  );
}

const noSuchUpload = (UploadId: string) =>
  s3Error(
    404,
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    { UploadId },
  );

/** An upload exists when s3rver's directory for it names the same key. */
async function uploadMatches(uploadDir: string, key: string): Promise<boolean> {
  try {
    return (await readFile(join(uploadDir, "key"), "utf8")) === key;
  } catch {
    return false;
  }
}

function positiveInteger(value: string | null, fallback: number): number | undefined {
  if (value === null) return fallback;
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 0 ? parsed : undefined;
}

interface StoredPart {
  md5: string;
  size: number;
  modified: Date;
}

async function md5Of(path: string): Promise<string> {
  const hash = createHash("md5");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A part s3rver finished writing: its .md5 names exactly its bytes; undefined when torn. */
async function completePart(path: string): Promise<StoredPart | undefined> {
  try {
    const [info, recorded] = await Promise.all([stat(path), readFile(`${path}.md5`, "utf8")]);
    const md5 = recorded.trim();
    if (!/^[0-9a-f]{32}$/.test(md5) || (await md5Of(path)) !== md5) return undefined;
    return { md5, size: info.size, modified: info.mtime };
  } catch {
    return undefined;
  }
}

export async function listParts(request: {
  uploadDir: string;
  bucket: string;
  key: string;
  uploadId: string;
  query: URLSearchParams;
}): Promise<S3Reply> {
  const { uploadDir, bucket, key, uploadId, query } = request;
  if (!/^[0-9a-f]+$/.test(uploadId) || !(await uploadMatches(uploadDir, key))) {
    return noSuchUpload(uploadId);
  }
  const maxParts = positiveInteger(query.get("max-parts"), MAX_PARTS);
  const marker = positiveInteger(query.get("part-number-marker"), 0);
  if (maxParts === undefined || marker === undefined) {
    return s3Error(400, "InvalidArgument", "max-parts and part-number-marker must be integers");
  }
  const candidates = (await readdir(uploadDir))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((number) => number > marker)
    .sort((a, b) => a - b);
  // A process killed mid-part leaves a part without its .md5, or bytes that do not match it: such
  // a part was never acknowledged, so it is not listed and the client uploads it again.
  const numbers: Array<{ number: number; part: StoredPart }> = [];
  for (const number of candidates) {
    const part = await completePart(join(uploadDir, String(number)));
    if (part) numbers.push({ number, part });
  }
  const page = numbers.slice(0, Math.min(maxParts, MAX_PARTS));
  const truncated = numbers.length > page.length;
  const parts = page.map(
    ({ number, part }) =>
      `<Part><PartNumber>${number}</PartNumber><LastModified>${part.modified.toISOString()}</LastModified><ETag>"${part.md5}"</ETag><Size>${part.size}</Size></Part>`,
  );
  const next = page.at(-1)?.number ?? marker;
  return xml(
    200,
    `<ListPartsResult xmlns="${S3_NAMESPACE}"><Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${uploadId}</UploadId><StorageClass>STANDARD</StorageClass><PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts.join("")}</ListPartsResult>`,
  );
}

export async function abortUpload(request: {
  uploadDir: string;
  key: string;
  uploadId: string;
}): Promise<S3Reply> {
  if (
    !/^[0-9a-f]+$/.test(request.uploadId) ||
    !(await uploadMatches(request.uploadDir, request.key))
  ) {
    return noSuchUpload(request.uploadId);
  }
  await rm(request.uploadDir, { recursive: true, force: true });
  return { status: 204, body: "" };
}
