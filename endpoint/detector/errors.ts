// Errors the default detector raises when an image cannot be analysed as a wafer photograph.

/** Base class, so callers can tell detector refusals from programming errors. */
export class DetectorError extends Error {
  override name = "DetectorError";
}

/** The GrayImage handed in is internally inconsistent (size vs buffer, bit depth). */
export class InvalidImageError extends DetectorError {
  override name = "InvalidImageError";
}

/** Hints that contradict the spec (e.g. a die pitch larger than the wafer). */
export class InvalidHintsError extends DetectorError {
  override name = "InvalidHintsError";
}

/** No wafer disk of the expected size and contrast could be found in the frame. */
export class WaferNotFoundError extends DetectorError {
  override name = "WaferNotFoundError";
}

/** `waferflow evaluate` was pointed at something that is not a labelled set of lots. */
export class EvaluationInputError extends DetectorError {
  override name = "EvaluationInputError";
}
