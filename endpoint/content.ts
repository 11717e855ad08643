// Decides what a request body holds (an image, or a JSON reference to one in S3) from its Content-Type and magic bytes.
import { type ImageFormat, sniffImageFormat } from "../lib/image-format.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import {
  IMAGE_REFERENCE_CONTENT_TYPE,
  type ImageReference,
  ImageReferenceSchema,
} from "../schemas/detection.ts";
import { ImageContentError, ImageReferenceError, UnsupportedContentTypeError } from "./errors.ts";

export const ACCEPTED_CONTENT_TYPES = [
  "image/png",
  "image/tiff",
  "application/x-image",
  IMAGE_REFERENCE_CONTENT_TYPE,
] as const;

/** application/json names the image in S3 (images over the request limit); anything else carries it. */
export function isImageReference(contentType: string | undefined): boolean {
  return mediaType(contentType) === IMAGE_REFERENCE_CONTENT_TYPE;
}

/** The JSON body of a reference request, or a named error saying what is wrong with it. */
export function parseImageReference(body: Uint8Array): ImageReference {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (cause) {
    throw new ImageReferenceError(
      `an ${IMAGE_REFERENCE_CONTENT_TYPE} request must be a JSON object { "s3Uri": "s3://<bucket>/<key>", "sha256"?: "<hex>" }`,
      { cause },
    );
  }
  const parsed = ImageReferenceSchema.safeParse(json);
  if (!parsed.success) {
    throw new ImageReferenceError(`image reference: ${describeZodError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** The media type without parameters, lower-cased; undefined when the header is absent or blank. */
export function mediaType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

/**
 * Refuses a Content-Type the endpoint does not serve before the body is read, so a wrong client
 * learns it without uploading megabytes. A missing Content-Type counts as application/x-image.
 */
export function checkContentType(contentType: string | undefined): void {
  const type = mediaType(contentType);
  if (type === undefined) return;
  if (!(ACCEPTED_CONTENT_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedContentTypeError(
      `content type '${type}' is not supported; send ${ACCEPTED_CONTENT_TYPES.join(", ")}`,
    );
  }
}

/** The format of the body, checked against what the Content-Type declares. */
export function imageFormatOf(contentType: string | undefined, bytes: Uint8Array): ImageFormat {
  checkContentType(contentType);
  if (isImageReference(contentType)) {
    throw new ImageContentError(
      `an ${IMAGE_REFERENCE_CONTENT_TYPE} body names an image in S3; it is not an image itself`,
    );
  }
  const type = mediaType(contentType) ?? "application/x-image";
  const sniffed = sniffImageFormat(bytes);
  if (sniffed === undefined) {
    const what =
      bytes.length === 0 ? "the request body is empty" : "the body is neither PNG nor TIFF";
    throw new ImageContentError(`${what} (declared ${type})`);
  }
  const declared = type === "image/png" ? "png" : type === "image/tiff" ? "tiff" : undefined;
  if (declared !== undefined && declared !== sniffed) {
    throw new ImageContentError(
      `content type says ${type} but the body is a ${sniffed.toUpperCase()} image`,
    );
  }
  return sniffed;
}
