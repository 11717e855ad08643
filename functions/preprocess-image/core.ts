// Checks one wafer image's size against its manifest and reads its header by ranged GETs: a PNG or TIFF the endpoint can take.
import type { S3Client } from "@aws-sdk/client-s3";
import { type DecodeLimits, readImageHeader } from "../../lib/gray-image.ts";
import { ImageDecodeError } from "../../lib/image-errors.ts";
import type { ManifestImage } from "../../schemas/lot.ts";
import type {
  DetectInput,
  ImageRef,
  ImageTaskInput,
  PreprocessedImage,
} from "../../schemas/workflow.ts";
import { getObjectBytes, getObjectRange } from "../aws-io.ts";
import { ImageChecksumError, ImageIndexError, ImageMissingError } from "../errors.ts";
import { loadManifest } from "../manifest.ts";

export interface PreprocessDeps {
  s3: S3Client;
  bucket: string;
  limits?: DecodeLimits;
}

/**
 * The header of an image's bytes, as the workflow carries it. No decode and no re-encode: the
 * endpoint reads the original, so detection sees the same pixels on the pipeline path as when
 * the image is sent to the endpoint directly (docs/endpoint-input.md).
 */
export async function inspectImageBytes(
  bytes: Uint8Array,
  limits?: DecodeLimits,
): Promise<PreprocessedImage> {
  const header = await readImageHeader(bytes, limits);
  return {
    format: header.format,
    width: header.width,
    height: header.height,
    bitDepth: header.bitDepth,
    bytes: bytes.length,
  };
}

/**
 * The head read first: a PNG's header (IHDR) is its first chunk, and a TIFF's first directory is
 * often within it. 64 KiB is one read however the image was written.
 */
export const HEADER_READ_BYTES = 64 * 1024;
/** Around a TIFF directory past the head: the directory and the tag arrays written before it. */
const TIFF_DIRECTORY_BEFORE = 60 * 1024;
const TIFF_DIRECTORY_AFTER = 4 * 1024;

/** The offset of a TIFF's first directory (bytes 4-7, in the file's byte order), or undefined. */
function tiffDirectoryOffset(head: Uint8Array): number | undefined {
  if (head.length < 8) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head[0] === 0x49 && head[1] === 0x49 && view.getUint16(2, true) === 42) {
    return view.getUint32(4, true);
  }
  if (head[0] === 0x4d && head[1] === 0x4d && view.getUint16(2, false) === 42) {
    return view.getUint32(4, false);
  }
  return undefined;
}

/**
 * Reads the image's size and header without reading its pixels: one ranged GET of the head, and
 * for a TIFF whose directory lies past it (libtiff writes it after the pixel data) one more
 * around the directory, laid at their offsets in an otherwise empty buffer the size of the
 * object for sharp to read the header from. Anything those cannot settle is read whole, as
 * before, so an odd but valid file is never refused for where its header lies.
 *
 * The SHA-256 is not checked here: the endpoint checks the manifest's digest on the bytes it
 * decodes (DetectDefects does for an inline image), and a mismatch fails the image there as
 * ImageChecksumError. Here the object's size must be the manifest's: a truncated or replaced
 * upload of another size fails before any inference.
 */
export async function preprocessImage(
  input: ImageTaskInput,
  deps: PreprocessDeps,
): Promise<PreprocessedImage> {
  const { image } = input;
  let head: { bytes: Uint8Array; size: number };
  try {
    head = await getObjectRange(deps.s3, deps.bucket, image.key, 0, HEADER_READ_BYTES);
  } catch (error) {
    if (
      (error as Error).cause &&
      ((error as Error).cause as { name?: string }).name === "NoSuchKey"
    ) {
      throw new ImageMissingError(
        `image ${image.fileName} is listed in the manifest but not in S3`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  if (head.size !== image.bytes) {
    throw new ImageChecksumError(
      `image ${image.fileName} is ${head.size} bytes in S3, the manifest says ${image.bytes}`,
    );
  }
  if (head.bytes.length >= head.size) return inspectImageBytes(head.bytes, deps.limits);
  try {
    return { ...(await inspectImageBytes(head.bytes, deps.limits)), bytes: head.size };
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
  }
  const directory = tiffDirectoryOffset(head.bytes);
  if (directory !== undefined && directory < head.size) {
    const start = Math.max(0, directory - TIFF_DIRECTORY_BEFORE);
    const around = await getObjectRange(
      deps.s3,
      deps.bucket,
      image.key,
      start,
      Math.min(head.size, directory + TIFF_DIRECTORY_AFTER) - start,
    );
    if (around.size === head.size) {
      const sparse = new Uint8Array(head.size);
      sparse.set(head.bytes, 0);
      sparse.set(around.bytes.subarray(0, head.size - around.offset), around.offset);
      try {
        return await inspectImageBytes(sparse, deps.limits);
      } catch (error) {
        if (!(error instanceof ImageDecodeError)) throw error;
      }
    }
  }
  const whole = await getObjectBytes(deps.s3, deps.bucket, image.key);
  return inspectImageBytes(whole, deps.limits);
}

/**
 * One Map item (an index into the lot's manifest) to the detector's input: the manifest is read
 * (checked against the checksum RecordLot saw), the image looked up, then preprocessed.
 * `onResolved` learns the image as soon as it is known, so a later failure can name it.
 */
export async function preprocessImageRef(
  ref: ImageRef,
  deps: PreprocessDeps,
  onResolved?: (image: ManifestImage) => void,
): Promise<DetectInput> {
  const { manifest } = await loadManifest(
    deps.s3,
    deps.bucket,
    ref.manifestKey,
    ref.manifestSha256,
  );
  const image = manifest.images[ref.index];
  if (!image) {
    throw new ImageIndexError(
      `manifest ${ref.manifestKey} has ${manifest.images.length} images; there is no image ${ref.index}`,
    );
  }
  onResolved?.(image);
  const task = { lotId: ref.lotId, metadata: manifest.metadata, image };
  const preprocessed = await preprocessImage(task, deps);
  return { ...task, index: ref.index, preprocessed };
}
