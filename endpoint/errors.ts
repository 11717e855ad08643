// Errors the model server and its model plugins raise; the server alone maps them to HTTP statuses.
import { UsageError } from "../lib/cli.ts";

/** Base class, so the server can tell request and model refusals from programming errors. */
export class EndpointError extends Error {
  override name = "EndpointError";
}

/** The request's Content-Type is not one of the image types the endpoint accepts. */
export class UnsupportedContentTypeError extends EndpointError {
  override name = "UnsupportedContentTypeError";
}

/** The body is not a PNG or TIFF, or is not the image type its Content-Type declares. */
export class ImageContentError extends EndpointError {
  override name = "ImageContentError";
}

/**
 * An S3 image reference is malformed, names a bucket or key this endpoint does not read, names
 * no object, or its bytes do not match the SHA-256 the request gives.
 */
export class ImageReferenceError extends EndpointError {
  override name = "ImageReferenceError";
}

/**
 * A referenced image's bytes are not the ones the request's SHA-256 names (replaced or corrupted
 * since the manifest was written). A 400 like any bad reference; named apart so the workflow can
 * report it as the image's checksum failure.
 */
export class ImageChecksumError extends ImageReferenceError {
  override name = "ImageChecksumError";
}

/** Reading a referenced image from S3 failed for a reason other than the request (permissions, network). */
export class ImageSourceError extends EndpointError {
  override name = "ImageSourceError";
}

/** An X-Amzn-SageMaker-Custom-Attributes pair is unknown or malformed (lib/custom-attributes.ts reads them). */
export { CustomAttributeError } from "../lib/custom-attributes.ts";

/** The request body is larger than the endpoint accepts (SageMaker's limit is 6 MB). */
export class PayloadTooLargeError extends EndpointError {
  override name = "PayloadTooLargeError";
}

/** The request names an endpoint other than the one this server stands in for. */
export class UnknownEndpointError extends EndpointError {
  override name = "UnknownEndpointError";
}

/** More requests are waiting for the model than the server is willing to queue. */
export class QueueFullError extends EndpointError {
  override name = "QueueFullError";
}

/** The model specification (WAFERFLOW_MODEL or --model) is malformed. */
export class ModelSpecError extends EndpointError {
  override name = "ModelSpecError";
}

/** A model file is missing, unreadable, or its inputs and outputs break the plugin's contract. */
export class ModelLoadError extends EndpointError {
  override name = "ModelLoadError";
}

/** A loaded model produced output the plugin cannot turn into a detection result. */
export class ModelOutputError extends EndpointError {
  override name = "ModelOutputError";
}

/** detect() was called before load() finished. */
export class ModelNotLoadedError extends EndpointError {
  override name = "ModelNotLoadedError";
}

/** Command-line arguments for `waferflow endpoint` or `serve` are missing or malformed (exit 2). */
export class EndpointUsageError extends UsageError {
  override name = "EndpointUsageError";
}
