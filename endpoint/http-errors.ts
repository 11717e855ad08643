// The one place where the endpoint's error classes become HTTP answers: the status, and the SageMaker runtime API's ModelError envelope.
import { ImageDecodeError, ImageSizeError } from "../lib/image-errors.ts";
import { InvalidHintsError, WaferNotFoundError } from "./detector/errors.ts";
import {
  CustomAttributeError,
  ImageContentError,
  ImageReferenceError,
  ModelNotLoadedError,
  PayloadTooLargeError,
  QueueFullError,
  UnknownEndpointError,
  UnsupportedContentTypeError,
} from "./errors.ts";

/** The one place where error classes become HTTP statuses. */
export function statusFor(error: unknown): number {
  if (error instanceof UnsupportedContentTypeError) return 415;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof UnknownEndpointError) return 404;
  if (error instanceof QueueFullError || error instanceof ModelNotLoadedError) return 503;
  if (error instanceof WaferNotFoundError) return 422;
  if (
    error instanceof ImageContentError ||
    error instanceof ImageReferenceError ||
    error instanceof ImageDecodeError ||
    error instanceof ImageSizeError ||
    error instanceof CustomAttributeError ||
    error instanceof InvalidHintsError
  ) {
    return 400;
  }
  return 500;
}

interface ErrorBody {
  error: { name: string; message: string };
}

function errorBody(error: unknown): ErrorBody {
  const err = error instanceof Error ? error : new Error(String(error));
  return { error: { name: err.name, message: err.message } };
}

/** What the server answers for an error: its status, JSON body and the headers it adds. */
export interface ErrorAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The runtime API (/endpoints/{name}/invocations) wraps what the container refused as
 * ModelError (424) carrying the container's status and body, as SageMaker does; the SDK then
 * raises ModelError with OriginalStatusCode. The container path answers the status directly.
 */
export function errorAnswer(error: unknown, runtimeApi: boolean): ErrorAnswer {
  const status = statusFor(error);
  const body = errorBody(error);
  if (!runtimeApi) return { status, body, headers: {} };
  // SageMaker's own refusals (a bad request to it, or no capacity) come back as they are.
  const ownError =
    error instanceof UnknownEndpointError || error instanceof PayloadTooLargeError
      ? "ValidationError"
      : error instanceof QueueFullError || error instanceof ModelNotLoadedError
        ? "ServiceUnavailable"
        : undefined;
  if (ownError) {
    return {
      status,
      body: { ...body, message: body.error.message },
      headers: { "x-amzn-errortype": ownError },
    };
  }
  const original = JSON.stringify(body);
  return {
    status: 424,
    body: {
      ...body,
      ErrorCode: status >= 500 ? "SERVER_ERROR_FROM_MODEL" : "CLIENT_ERROR_FROM_MODEL",
      Message: `Received ${status >= 500 ? "server" : "client"} error (${status}) from primary with message "${body.error.message}"`,
      OriginalStatusCode: status,
      OriginalMessage: original,
    },
    headers: { "x-amzn-errortype": "ModelError" },
  };
}
