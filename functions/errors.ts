// Named errors of the workflow functions; their names are the Step Functions error names Retry/Catch match.
import type { ZodError } from "zod";
import { isTransientFailure } from "../lib/transient.ts";
import { describeZodError } from "../lib/zod-issues.ts";

/** A dependency (S3, DynamoDB, SNS, SageMaker) failed in a way worth retrying: throttling, 5xx, network. */
export class TransientDependencyError extends Error {
  override name = "TransientDependencyError";
}

/** A dependency refused the request for good (4xx other than throttling). */
export class DependencyError extends Error {
  override name = "DependencyError";
}

/** The event or task input does not have the shape this function accepts. */
export class InvalidInputError extends Error {
  override name = "InvalidInputError";
  static fromZod(what: string, error: ZodError): InvalidInputError {
    return new InvalidInputError(`invalid ${what}: ${describeZodError(error)}`, { cause: error });
  }
}

export class ImageMissingError extends Error {
  override name = "ImageMissingError";
}

export class ImageChecksumError extends Error {
  override name = "ImageChecksumError";
}

export class ManifestInvalidError extends Error {
  override name = "ManifestInvalidError";
}

/** The manifest an execution was started for is not in S3 (any more). */
export class ManifestMissingError extends Error {
  override name = "ManifestMissingError";
}

/** The manifest's bytes are not the ones the lot was recorded with: it was replaced mid-lot. */
export class ManifestChangedError extends Error {
  override name = "ManifestChangedError";
}

/** A manifest names an image index the manifest does not have. */
export class ImageIndexError extends Error {
  override name = "ImageIndexError";
}

/** The endpoint answered, but refused this image (for example: no wafer in the frame). */
export class ImageRejectedByModelError extends Error {
  override name = "ImageRejectedByModelError";
}

/** The endpoint's answer does not match the contract in schemas/detection.ts. */
export class ModelResponseError extends Error {
  override name = "ModelResponseError";
}

/** Wraps an AWS SDK failure so the state machine retries what may succeed later, and only that. */
export function dependencyFailure(what: string, error: unknown): Error {
  // Anything can be thrown: `undefined` or a string must still give a message, not a TypeError.
  const e = (error && typeof error === "object" ? error : {}) as {
    name?: string;
    message?: string;
  };
  const message = `${what} failed: ${e.name ?? "Error"}: ${e.message ?? String(error)}`;
  return isTransientFailure(error)
    ? new TransientDependencyError(message, { cause: error })
    : new DependencyError(message, { cause: error });
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Step Functions hands a Lambda error's cause over as JSON text; people want its message. */
export function errorMessageFromCause(cause: string | undefined): string {
  if (!cause) return "no cause given";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // not JSON: the cause is already the message
  }
  return cause;
}

/** Every error above: its name is a Step Functions error name, kept as is at a handler's edge. */
const WORKFLOW_ERRORS = [
  TransientDependencyError,
  DependencyError,
  InvalidInputError,
  ImageMissingError,
  ImageChecksumError,
  ManifestInvalidError,
  ManifestMissingError,
  ManifestChangedError,
  ImageIndexError,
  ImageRejectedByModelError,
  ModelResponseError,
];

export function isWorkflowError(error: unknown): error is Error {
  return WORKFLOW_ERRORS.some((type) => error instanceof type);
}
