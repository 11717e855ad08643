// Reads a lot directory as a machine left it: which files are images, their checksums, and lot.json.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { contentTypeOf, SIGNATURE_BYTES, sniffImageFormat } from "../lib/image-format.ts";
import { safeSegment } from "../lib/keys.ts";
import { mapLimited } from "../lib/pool.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import type { ImageContentType } from "../schemas/common.ts";
import {
  type LotFile,
  LotFileSchema,
  type LotMetadata,
  type RejectedFile,
} from "../schemas/lot.ts";
import {
  DuplicateKeyError,
  LotDirectoryError,
  LotFileError,
  UnsupportedImageError,
} from "./errors.ts";

export const LOT_FILE_NAME = "lot.json";
const IMAGE_EXTENSION = /\.(png|tiff?)$/i;

export interface ScannedImage {
  /** The name as the machine wrote it; S3 keys come from it through safeSegment. */
  fileName: string;
  path: string;
  /** The sanitised key segment, unique within the lot. */
  segment: string;
  /** Hex; the PUT carries it as its signed payload hash and its x-amz-checksum-sha256, so sending hashes nothing. */
  sha256: string;
  bytes: number;
  mtimeMs: number;
  contentType: ImageContentType;
}

export type { RejectedFile };

export interface LotScan {
  dir: string;
  /** lot.json as parsed, when the lot has one. */
  lotFile: LotFile | undefined;
  metadata: LotMetadata;
  images: ScannedImage[];
  /** Files that look like images but cannot be uploaded as one, with the reason. */
  rejected: RejectedFile[];
  /** Everything else in the directory (hidden files, other extensions, sub-directories). */
  ignored: string[];
}

/** The image type the first bytes declare; extensions lie, signatures rarely do. */
export function detectContentType(head: Uint8Array): ImageContentType | undefined {
  const format = sniffImageFormat(head);
  return format && contentTypeOf(format);
}

/**
 * SHA-256 and leading bytes of a file. A file asked to be read whole (one small enough for a
 * single PUT) is read in one piece and hashed here; a larger one is streamed, so big images never
 * sit in memory. Not WebCrypto on libuv's pool: its asynchronous digest copies the whole buffer on
 * this thread first (a fresh 4 MiB allocation and its page faults), which took about as much of
 * this thread as hashing it here, and 1.5-2 ms more CPU per 4 MiB image in all (docs/benchmarks.md,
 * pipeline round 15).
 */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
  options: { whole?: boolean } = {},
): Promise<{ sha256: string; bytes: number; head: Buffer }> {
  if (options.whole) {
    const body = await readFile(path, { signal });
    return {
      sha256: createHash("sha256").update(body).digest("hex"),
      bytes: body.length,
      head: Buffer.from(body.subarray(0, SIGNATURE_BYTES)),
    };
  }
  const hash = createHash("sha256");
  const headChunks: Buffer[] = [];
  let headLength = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { signal }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    if (headLength < SIGNATURE_BYTES) {
      headChunks.push(chunk.subarray(0, SIGNATURE_BYTES - headLength));
      headLength += Math.min(chunk.length, SIGNATURE_BYTES - headLength);
    }
  }
  return { sha256: hash.digest("hex"), bytes, head: Buffer.concat(headChunks) };
}

/** Parses lot.json; every problem names the file and the field so the operator can fix it. */
export async function readLotFile(path: string): Promise<LotFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new LotFileError(`${path}: cannot be read: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new LotFileError(`${path}: not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const parsed = LotFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = describeZodError(parsed.error, {
      limit: Number.POSITIVE_INFINITY,
      label: (field) => `field '${field}'`,
      input: json,
    });
    throw new LotFileError(`${path}: ${problems}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Files read and hashed at once while scanning. */
export const SCAN_CONCURRENCY = 2;

export type ExaminedFile =
  | { kind: "lot-file"; lotFile: LotFile }
  | { kind: "ignored"; fileName: string }
  | { kind: "rejected"; fileName: string; reason: string }
  | { kind: "image"; image: ScannedImage };

/** A name the scan will read as a candidate image (by extension; its content decides later). */
export function mayBeImage(fileName: string): boolean {
  return fileName !== LOT_FILE_NAME && !fileName.startsWith(".") && IMAGE_EXTENSION.test(fileName);
}

/** What one directory entry is: lot.json, not ours, refused (with why), or an image with its checksums. */
export async function examineFile(
  dir: string,
  fileName: string,
  options: { signal?: AbortSignal; wholeUpToBytes?: number },
): Promise<ExaminedFile> {
  const path = join(dir, fileName);
  if (fileName === LOT_FILE_NAME) return { kind: "lot-file", lotFile: await readLotFile(path) };
  if (!mayBeImage(fileName)) return { kind: "ignored", fileName };
  // lstat: a symlink could point anywhere on the machine; only files the machine wrote go up.
  const stats = await lstat(path);
  if (!stats.isFile()) return { kind: "ignored", fileName };
  let segment: string;
  try {
    segment = safeSegment(fileName);
  } catch (error) {
    return { kind: "rejected", fileName, reason: (error as Error).message };
  }
  const { sha256, bytes, head } = await hashFile(path, options.signal, {
    whole: stats.size <= (options.wholeUpToBytes ?? 0),
  });
  if (bytes === 0) return { kind: "rejected", fileName, reason: "file is empty" };
  const contentType = detectContentType(head);
  if (!contentType) {
    const error = new UnsupportedImageError(
      `${fileName}: content is neither PNG nor TIFF (first bytes ${head.toString("hex")})`,
    );
    return { kind: "rejected", fileName, reason: error.message };
  }
  return {
    kind: "image",
    image: {
      fileName,
      path,
      segment,
      sha256,
      bytes,
      mtimeMs: stats.mtimeMs,
      contentType,
    },
  };
}

/** A lot directory's names (sorted) and its lot.json, read before any image is: the lot id comes first. */
export interface LotListing {
  dir: string;
  names: string[];
  lotFile: LotFile | undefined;
}

export async function listLot(dir: string): Promise<LotListing> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (cause) {
    throw new LotDirectoryError(
      `lot directory ${dir} cannot be read: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const lotFile = names.includes(LOT_FILE_NAME)
    ? await readLotFile(join(dir, LOT_FILE_NAME))
    : undefined;
  return { dir, names, lotFile };
}

/**
 * The scan from its listing and each name's examination (in the listing's order). Files that
 * cannot be images are rejected one by one so the rest of the lot still goes; two names that
 * would share a key fail the whole lot, because uploading both would silently lose one.
 */
export function assembleScan(listing: LotListing, examined: readonly ExaminedFile[]): LotScan {
  const { dir, lotFile } = listing;
  const scan: LotScan = {
    dir,
    lotFile: undefined,
    metadata: {},
    images: [],
    rejected: [],
    ignored: [],
  };
  if (lotFile) {
    scan.lotFile = lotFile;
    const { lotId: _lotId, ...metadata } = lotFile;
    scan.metadata = metadata;
  }
  const bySegment = new Map<string, string>();
  for (const entry of examined) {
    switch (entry.kind) {
      case "lot-file":
        break;
      case "ignored":
        scan.ignored.push(entry.fileName);
        break;
      case "rejected":
        scan.rejected.push({ fileName: entry.fileName, reason: entry.reason });
        break;
      case "image": {
        const { image } = entry;
        const clash = bySegment.get(image.segment);
        if (clash !== undefined) {
          throw new DuplicateKeyError(
            `files '${clash}' and '${image.fileName}' in ${dir} map to the same image key '${image.segment}'`,
          );
        }
        bySegment.set(image.segment, image.fileName);
        scan.images.push(image);
        break;
      }
    }
  }
  return scan;
}

/**
 * Lists a lot directory, checksums every image and reads lot.json (assembleScan says what
 * becomes of each file).
 */
export async function scanLot(
  dir: string,
  options: {
    signal?: AbortSignal;
    /** Files up to this size (the ones sent in one PUT) are read whole and hashed off this thread. */
    wholeUpToBytes?: number;
  } = {},
  listing?: LotListing,
): Promise<LotScan> {
  const listed = listing ?? (await listLot(dir));
  // Up to two files are read and hashed at once (their SHA-256 off this thread): the scan is on
  // the upload's critical path, one file after another it kept one core busy and left the other idle.
  const examined = await mapLimited(
    listed.names.filter((name) => name !== LOT_FILE_NAME),
    SCAN_CONCURRENCY,
    (fileName) => examineFile(dir, fileName, options),
  );
  return assembleScan(listed, examined);
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** LOT-YYYYMMDD-HHMMSS-XXXXXX (UTC): sorts by time, and the suffix keeps same-second lots apart. */
export function generateLotId(
  now: Date = new Date(),
  random: (n: number) => Uint8Array = randomBytes,
): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const suffix = Array.from(random(6), (byte) => BASE32[byte % 32]).join("");
  return `LOT-${stamp}-${suffix}`;
}
