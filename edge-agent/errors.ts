// Named errors of the edge agent, so callers and operators can tell a bad lot from a bad network.

/** lot.json is unreadable, not JSON, or does not match LotFileSchema. */
export class LotFileError extends Error {
  override name = "LotFileError";
}

/** The lot directory is missing, unreadable, or not a directory. */
export class LotDirectoryError extends Error {
  override name = "LotDirectoryError";
}

/** The inbox to watch does not exist or is not a directory. */
export class InboxError extends Error {
  override name = "InboxError";
}

/** A file has an image extension but its bytes are neither PNG nor TIFF. */
export class UnsupportedImageError extends Error {
  override name = "UnsupportedImageError";
}

/** Two file names sanitise to the same S3 key, so one would overwrite the other. */
export class DuplicateKeyError extends Error {
  override name = "DuplicateKeyError";
}

/** The lot holds no image that can be uploaded (a manifest needs at least one). */
export class EmptyLotError extends Error {
  override name = "EmptyLotError";
}

/** The lot holds more images than one manifest may list. */
export class TooManyImagesError extends Error {
  override name = "TooManyImagesError";
}

/** An S3 request failed for good, or kept failing after every retry. */
export class UploadError extends Error {
  override name = "UploadError";
}

/** An S3 request got no answer before its deadline (a silent link); worth retrying. */
export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
}

/** What S3 holds or acknowledged does not match the bytes we sent. */
export class ChecksumMismatchError extends Error {
  override name = "ChecksumMismatchError";
}

/** A source file changed while it was being uploaded: the machine is still writing the lot. */
export class SourceChangedError extends Error {
  override name = "SourceChangedError";
}

/** The journal in the state directory cannot be read or written. */
export class JournalError extends Error {
  override name = "JournalError";
}

/** Another agent process is uploading the same lot directory right now. */
export class LotBusyError extends Error {
  override name = "LotBusyError";
}

/** A lot whose manifest is already out was changed; re-sending it needs an explicit force. */
export class LotAlreadyUploadedError extends Error {
  override name = "LotAlreadyUploadedError";
}

/** The lot id already names another lot in S3 (other images or hashes): nothing is overwritten. */
export class LotIdTakenError extends Error {
  override name = "LotIdTakenError";
}

/** The agent's options or environment are invalid. */
export class AgentConfigError extends Error {
  override name = "AgentConfigError";
}
