// Which AWS SDK and network failures may pass on a later try: the one table the workflow and the agent share.

/** Error names AWS services and the SDK use for throttling, overload and time-outs. */
const TRANSIENT_NAMES = new Set([
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "SlowDown",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalServerError",
  "InternalFailure",
  "InternalServerException",
  "InternalError",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "RequestTimeoutError",
]);

/** Socket-level failures: the link, not the request, was at fault. */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/**
 * Network failures, 5xx, 429 and throttling may pass on a later try; any other 4xx will not.
 * Follows `cause`, since wrappers (ours and the SDK's) keep the original failure there.
 */
export function isTransientFailure(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const e = error as SdkLikeError;
  if (TRANSIENT_NAMES.has(e.name ?? "") || TRANSIENT_CODES.has(e.code ?? "")) return true;
  if (e.$retryable !== undefined) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  // A connection cut mid-response surfaces as a parse failure or a bare "socket hang up".
  if (/socket hang up|ECONNRESET|EPIPE|premature close|aborted|terminated/i.test(e.message ?? "")) {
    return true;
  }
  return e.cause !== undefined && e.cause !== error ? isTransientFailure(e.cause) : false;
}
