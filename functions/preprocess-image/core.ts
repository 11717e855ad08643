// Verifies one wafer image against its manifest checksum and reads its header: a PNG or TIFF the endpoint can take.
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { type DecodeLimits, readImageHeader } from "../../lib/gray-image.ts";
import type { ManifestImage } from "../../schemas/lot.ts";
import type {
  DetectInput,
  ImageRef,
  ImageTaskInput,
  PreprocessedImage,
} from "../../schemas/workflow.ts";
import { getObjectBytes } from "../aws-io.ts";
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

export async function preprocessImage(
  input: ImageTaskInput,
  deps: PreprocessDeps,
): Promise<PreprocessedImage> {
  const { image } = input;
  let bytes: Uint8Array;
  try {
    bytes = await getObjectBytes(deps.s3, deps.bucket, image.key);
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
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== image.sha256) {
    throw new ImageChecksumError(
      `image ${image.fileName} has SHA-256 ${sha256}, the manifest says ${image.sha256}`,
    );
  }
  return inspectImageBytes(bytes, deps.limits);
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
