// Verifies one wafer image against its manifest checksum and turns it into the detector's input.
import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import {
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  ImageDecodeError,
  readImageHeader,
} from "../../lib/gray-image.ts";
import { lotKeys } from "../../lib/keys.ts";
import type { ManifestImage } from "../../schemas/lot.ts";
import type {
  DetectInput,
  ImageRef,
  ImageTaskInput,
  PreprocessedImage,
} from "../../schemas/workflow.ts";
import {
  dependencyFailure,
  ImageChecksumError,
  ImageIndexError,
  ImageMissingError,
} from "../errors.ts";
import { loadManifest } from "../manifest.ts";
import { getObjectBytes } from "../runtime.ts";

/**
 * The endpoint takes at most 6 MB per request. An 8-bit PNG of at most 2048 px a side stays
 * under that even when noisy, and defect sizes scale with the image, so a larger frame loses
 * no defect the spec asks for by being reduced to it.
 */
export const DETECTOR_MAX_SIDE = 2048;

export interface PreprocessDeps {
  s3: S3Client;
  bucket: string;
  limits?: DecodeLimits;
  maxSide?: number;
}

export interface PreprocessResult {
  preprocessed: PreprocessedImage;
  png: Buffer;
}

/** Decodes, converts to luminance, reduces to the detector's size and stretches to 8-bit full range. */
export async function preprocessBytes(
  bytes: Uint8Array,
  options: { limits?: DecodeLimits; maxSide?: number } = {},
): Promise<{ png: Buffer; info: Omit<PreprocessedImage, "preprocessedKey" | "bytes"> }> {
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  const maxSide = options.maxSide ?? DETECTOR_MAX_SIDE;
  const header = await readImageHeader(bytes, limits);
  const originalWidth = header.width;
  const originalHeight = header.height;
  const scale = Math.min(1, maxSide / Math.max(originalWidth, originalHeight));
  const width = Math.max(1, Math.round(originalWidth * scale));
  const height = Math.max(1, Math.round(originalHeight * scale));

  let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels }).removeAlpha().greyscale();
  if (scale < 1) pipeline = pipeline.resize(width, height, { kernel: "mitchell", fit: "fill" });
  try {
    const png = await pipeline
      .normalise({ lower: 0, upper: 100 })
      .toColourspace("b-w")
      .png({ compressionLevel: 4, adaptiveFiltering: false })
      .toBuffer();
    return {
      png,
      info: {
        originalWidth,
        originalHeight,
        originalBitDepth: header.bitDepth,
        width,
        height,
        scale: width / originalWidth,
      },
    };
  } catch (cause) {
    throw new ImageDecodeError(`image data is corrupt: ${(cause as Error).message}`, { cause });
  }
}

export async function preprocessImage(
  input: ImageTaskInput,
  deps: PreprocessDeps,
): Promise<PreprocessedImage> {
  const { image, lotId } = input;
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
  const { png, info } = await preprocessBytes(bytes, deps);
  const preprocessedKey = lotKeys.preprocessed(lotId, image.fileName);
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: preprocessedKey,
        Body: png,
        ContentType: "image/png",
      }),
    );
  } catch (error) {
    throw dependencyFailure(`writing ${preprocessedKey}`, error);
  }
  return { preprocessedKey, bytes: png.length, ...info };
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
