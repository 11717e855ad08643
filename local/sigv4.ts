// Verifies AWS Signature Version 4 on requests to the embedded stack, with its one local key pair; every service front uses it.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Why a request was refused; each service front words it as that service's own error. */
export type SignatureProblem =
  | "missing" // no Authorization header and no presigned query
  | "incomplete" // an Authorization header or presigned query that cannot be parsed
  | "unknown-key" // signed with another access key id
  | "mismatch" // the signature is not the one the local secret gives
  | "expired"; // more than 15 minutes off the clock, or a presigned URL past its expiry

export class SignatureError extends Error {
  override name = "SignatureError";
  readonly problem: SignatureProblem;
  constructor(problem: SignatureProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

export interface SignedRequest {
  method: string;
  /** The request target exactly as sent: path and query, still percent-encoded. */
  url: string;
  /** Node's rawHeaders: name, value, name, value... (repeated headers kept apart). */
  rawHeaders: string[];
  /** The body, when the service signs it (everything but S3, which signs x-amz-content-sha256). */
  body?: Buffer;
}

export interface VerifyOptions {
  credentials: LocalCredentials;
  /** S3 signs the path as sent; every other service signs it percent-encoded once more. */
  doubleEncodePath: boolean;
  now?: Date;
}

export const ALGORITHM = "AWS4-HMAC-SHA256";
/** What AWS tolerates between the signer's clock and its own. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) =>
  createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function canonicalQuery(query: string, skip: string | undefined): string {
  if (!query) return "";
  return query
    .split("&")
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf("=");
      const name = safeDecode(at < 0 ? pair : pair.slice(0, at));
      const value = at < 0 ? "" : safeDecode(pair.slice(at + 1));
      return [uriEncode(name), uriEncode(value)] as const;
    })
    .filter(([name]) => name !== skip)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

function headerValues(rawHeaders: string[]): Map<string, string> {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim().replace(/\s+/g, " ");
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return new Map([...values].map(([name, list]) => [name, list.join(",")]));
}

/** 20240101T000000Z -> epoch ms, or NaN. */
function parseAmzDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

interface Authorization {
  accessKeyId: string;
  scope: { date: string; region: string; service: string };
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  /** Presigned URLs only: seconds the signature stays valid. */
  expiresSeconds?: number;
  presigned: boolean;
}

function parseCredential(credential: string | undefined) {
  const parts = (credential ?? "").split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request" || parts.some((p) => !p)) {
    throw new SignatureError(
      "incomplete",
      `Credential must be <key>/<date>/<region>/<service>/aws4_request, got '${credential ?? ""}'`,
    );
  }
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, scope: { date, region, service } };
}

function parseAuthorization(request: SignedRequest, headers: Map<string, string>): Authorization {
  const header = headers.get("authorization");
  const query = new URLSearchParams(request.url.split("?")[1] ?? "");
  if (header !== undefined) {
    const space = header.indexOf(" ");
    const algorithm = space < 0 ? header : header.slice(0, space);
    if (algorithm !== ALGORITHM) {
      throw new SignatureError(
        "incomplete",
        `Authorization must use ${ALGORITHM}, not '${algorithm}'`,
      );
    }
    const fields = new Map(
      header
        .slice(space + 1)
        .split(",")
        .map((field) => field.trim())
        .filter(Boolean)
        .map((field) => {
          const at = field.indexOf("=");
          return [field.slice(0, at), field.slice(at + 1)] as const;
        }),
    );
    const signedHeaders = fields.get("SignedHeaders");
    const signature = fields.get("Signature");
    const amzDate = headers.get("x-amz-date") ?? "";
    if (!signedHeaders || !signature || !amzDate) {
      throw new SignatureError(
        "incomplete",
        "Authorization needs Credential, SignedHeaders and Signature, and the request an X-Amz-Date header",
      );
    }
    return {
      ...parseCredential(fields.get("Credential")),
      signedHeaders: signedHeaders.split(";"),
      signature,
      amzDate,
      presigned: false,
    };
  }
  if (query.has("X-Amz-Signature") || query.has("X-Amz-Algorithm")) {
    if (query.get("X-Amz-Algorithm") !== ALGORITHM) {
      throw new SignatureError("incomplete", `X-Amz-Algorithm must be ${ALGORITHM}`);
    }
    const signedHeaders = query.get("X-Amz-SignedHeaders");
    const signature = query.get("X-Amz-Signature");
    const amzDate = query.get("X-Amz-Date");
    const expires = Number(query.get("X-Amz-Expires") ?? "");
    if (!signedHeaders || !signature || !amzDate || !Number.isInteger(expires) || expires < 1) {
      throw new SignatureError(
        "incomplete",
        "a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature",
      );
    }
    return {
      ...parseCredential(query.get("X-Amz-Credential") ?? undefined),
      signedHeaders: signedHeaders.split(";"),
      signature,
      amzDate,
      expiresSeconds: expires,
      presigned: true,
    };
  }
  throw new SignatureError(
    "missing",
    "the request is not signed: it has no Authorization header and no X-Amz-Signature",
  );
}

/**
 * Checks a request's SigV4 signature against the local secret; throws SignatureError saying why
 * it is refused. Returns the signer's key id, region and service from the credential scope.
 */
export function verifySignature(
  request: SignedRequest,
  options: VerifyOptions,
): { accessKeyId: string; region: string; service: string } {
  const headers = headerValues(request.rawHeaders);
  const auth = parseAuthorization(request, headers);
  if (auth.accessKeyId !== options.credentials.accessKeyId) {
    throw new SignatureError(
      "unknown-key",
      `the access key id '${auth.accessKeyId}' is not the local stack's`,
    );
  }
  const signedAt = parseAmzDate(auth.amzDate);
  if (Number.isNaN(signedAt) || auth.scope.date !== auth.amzDate.slice(0, 8)) {
    throw new SignatureError(
      "incomplete",
      `X-Amz-Date '${auth.amzDate}' is not YYYYMMDD'T'HHMMSS'Z' of the credential's day ${auth.scope.date}`,
    );
  }
  const now = (options.now ?? new Date()).getTime();
  if (auth.presigned) {
    if (now > signedAt + (auth.expiresSeconds ?? 0) * 1000 || signedAt - now > MAX_CLOCK_SKEW_MS) {
      throw new SignatureError("expired", "Request has expired");
    }
  } else if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new SignatureError(
      "expired",
      `Signature expired: ${auth.amzDate} is more than 15 minutes from the server's time ${new Date(now).toISOString()}`,
    );
  }
  if (!auth.signedHeaders.includes("host")) {
    throw new SignatureError("incomplete", "the host header must be signed");
  }
  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${headers.get(name) ?? ""}\n`)
    .join("");

  const [rawPath = "/", rawQuery = ""] = request.url.split("?", 2) as [string, string?];
  const path = options.doubleEncodePath
    ? rawPath
        .split("/")
        .map((segment) => uriEncode(segment))
        .join("/")
    : rawPath;
  const declaredHash = headers.get("x-amz-content-sha256");
  const payloadHash =
    declaredHash ??
    (auth.presigned && !request.body
      ? UNSIGNED_PAYLOAD
      : sha256Hex(request.body ?? Buffer.alloc(0)));
  const canonicalRequest = [
    request.method,
    path || "/",
    canonicalQuery(rawQuery, auth.presigned ? "X-Amz-Signature" : undefined),
    canonicalHeaders,
    auth.signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${auth.scope.date}/${auth.scope.region}/${auth.scope.service}/aws4_request`;
  const stringToSign = [ALGORITHM, auth.amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = hmac(
    hmac(
      hmac(hmac(`AWS4${options.credentials.secretAccessKey}`, auth.scope.date), auth.scope.region),
      auth.scope.service,
    ),
    "aws4_request",
  );
  const expected = createHmac("sha256", key).update(stringToSign).digest();
  const given = Buffer.from(auth.signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SignatureError(
      "mismatch",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
  // A body that is not the one signed is refused like a bad signature.
  if (
    request.body &&
    declaredHash &&
    /^[0-9a-f]{64}$/.test(declaredHash) &&
    sha256Hex(request.body) !== declaredHash
  ) {
    throw new SignatureError(
      "mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  return { accessKeyId: auth.accessKeyId, ...auth.scope };
}

/** The parts of an incoming request verifySignature reads (plus the body the caller read). */
export function signedRequestOf(request: IncomingMessage, body?: Buffer): SignedRequest {
  return {
    method: request.method ?? "GET",
    url: request.url ?? "/",
    rawHeaders: request.rawHeaders,
    ...(body ? { body } : {}),
  };
}

/** How the JSON-protocol services (DynamoDB, Step Functions, SageMaker runtime) word a refusal. */
export function jsonProtocolError(error: SignatureError): { code: string; status: number } {
  switch (error.problem) {
    case "missing":
      return { code: "MissingAuthenticationTokenException", status: 400 };
    case "incomplete":
      return { code: "IncompleteSignatureException", status: 400 };
    case "unknown-key":
      return { code: "UnrecognizedClientException", status: 400 };
    default:
      return { code: "InvalidSignatureException", status: 400 };
  }
}

/** How the query-protocol services (SNS) word a refusal. */
export function queryProtocolError(error: SignatureError): { code: string; status: number } {
  switch (error.problem) {
    case "missing":
      return { code: "MissingAuthenticationToken", status: 403 };
    case "incomplete":
      return { code: "IncompleteSignature", status: 400 };
    case "unknown-key":
      return { code: "InvalidClientTokenId", status: 403 };
    case "expired":
      return { code: "RequestExpired", status: 400 };
    default:
      return { code: "SignatureDoesNotMatch", status: 403 };
  }
}

/** How S3 words a refusal. */
export function s3Error(error: SignatureError): { code: string; status: number } {
  switch (error.problem) {
    case "missing":
      return { code: "AccessDenied", status: 403 };
    case "incomplete":
      return { code: "AuthorizationHeaderMalformed", status: 400 };
    case "unknown-key":
      return { code: "InvalidAccessKeyId", status: 403 };
    case "expired":
      return {
        code: error.message.startsWith("Request has expired")
          ? "AccessDenied"
          : "RequestTimeTooSkewed",
        status: 403,
      };
    default:
      return { code: "SignatureDoesNotMatch", status: 403 };
  }
}
