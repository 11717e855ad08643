// Errors crossing from an inference thread to the server's, by name; apart from inference.ts so the
// server's thread rebuilds them without loading the detector, the quality gate and sharp's pictures.
import { ImageDecodeError, ImageSizeError } from "../lib/image-errors.ts";
import { InvalidHintsError, InvalidImageError, WaferNotFoundError } from "./detector/errors.ts";
import {
  ImageContentError,
  ModelLoadError,
  ModelNotLoadedError,
  ModelOutputError,
} from "./errors.ts";

/** Errors an inference raises on purpose, rebuilt by name when they cross from a worker thread. */
const KNOWN_ERRORS: Record<string, new (message: string) => Error> = {
  ImageDecodeError,
  ImageSizeError,
  ImageContentError,
  InvalidHintsError,
  InvalidImageError,
  WaferNotFoundError,
  ModelLoadError,
  ModelNotLoadedError,
  ModelOutputError,
};

export interface SerialisedError {
  name: string;
  message: string;
  stack?: string;
}

export function serialiseError(error: unknown): SerialisedError {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { name: "Error", message: String(error) };
}

/** The same class (so the server maps it to the same status), message and the worker's stack. */
export function rebuildError(serialised: SerialisedError): Error {
  const Known = KNOWN_ERRORS[serialised.name];
  const error = Known ? new Known(serialised.message) : new Error(serialised.message);
  if (!Known) error.name = serialised.name;
  if (serialised.stack) error.stack = serialised.stack;
  return error;
}
