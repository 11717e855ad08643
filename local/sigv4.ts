// Verifies AWS Signature Version 4 on requests to the embedded stack by signing each again with the SDK's own signer and the one local key pair; every service front uses it.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";

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

const ALGORITHM = "AWS4-HMAC-SHA256";
/** What AWS tolerates between the signer's clock and its own. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** The hash the signer asks for: SHA-256, keyed (HMAC) when given a secret. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash("sha256")
        : createHmac(
            "sha256",
            typeof secret === "string" ? secret : Buffer.from(secret as Uint8Array),
          );
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The query as the signer takes it: decoded names and values ('+' stays '+', as SigV4 signs it). */
function queryOf(rawQuery: string): Record<string, string[]> {
  const query = new Map<string, string[]>();
  for (const pair of rawQuery.split("&").filter(Boolean)) {
    const at = pair.indexOf("=");
    const name = safeDecode(at < 0 ? pair : pair.slice(0, at));
    query.set(name, [...(query.get(name) ?? []), at < 0 ? "" : safeDecode(pair.slice(at + 1))]);
  }
  return Object.fromEntries(query);
}

/** Each header once, lower-case, repeated values joined by commas (as SigV4 canonicalises them). */
function headerValues(rawHeaders: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim();
    values.set(name, values.has(name) ? `${values.get(name)},${value}` : value);
  }
  return values;
}

interface Authorization {
  accessKeyId: string;
  scope: { date: string; region: string; service: string };
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  /** Presigned URLs only: seconds the signature stays valid. */
  expiresSeconds?: number;
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

function parseAuthorization(
  query: Record<string, string[]>,
  headers: Map<string, string>,
): Authorization {
  const header = headers.get("authorization");
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
        .map((field) => field.trim().split(/=(.*)/s) as [string, string | undefined]),
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
    const credential = parseCredential(fields.get("Credential"));
    return { ...credential, signedHeaders: signedHeaders.split(";"), signature, amzDate };
  }
  const param = (name: string) => query[name]?.[0];
  if (param("X-Amz-Signature") === undefined && param("X-Amz-Algorithm") === undefined) {
    throw new SignatureError(
      "missing",
      "the request is not signed: it has no Authorization header and no X-Amz-Signature",
    );
  }
  if (param("X-Amz-Algorithm") !== ALGORITHM) {
    throw new SignatureError("incomplete", `X-Amz-Algorithm must be ${ALGORITHM}`);
  }
  const signedHeaders = param("X-Amz-SignedHeaders");
  const signature = param("X-Amz-Signature");
  const amzDate = param("X-Amz-Date");
  const expires = Number(param("X-Amz-Expires") ?? "");
  if (!signedHeaders || !signature || !amzDate || !Number.isInteger(expires) || expires < 1) {
    throw new SignatureError(
      "incomplete",
      "a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature",
    );
  }
  const credential = parseCredential(param("X-Amz-Credential"));
  const signed = { signedHeaders: signedHeaders.split(";"), signature, amzDate };
  return { ...credential, ...signed, expiresSeconds: expires };
}

/** Refuses a request signed at a time AWS would not accept now. */
function checkClock(auth: Authorization, now: number): Date {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(auth.amzDate);
  const signedAt = parts
    ? Date.parse(`${parts.slice(1, 4).join("-")}T${parts.slice(4).join(":")}Z`)
    : NaN;
  if (Number.isNaN(signedAt) || auth.scope.date !== auth.amzDate.slice(0, 8)) {
    throw new SignatureError(
      "incomplete",
      `X-Amz-Date '${auth.amzDate}' is not YYYYMMDD'T'HHMMSS'Z' of the credential's day ${auth.scope.date}`,
    );
  }
  if (auth.expiresSeconds !== undefined) {
    if (now > signedAt + auth.expiresSeconds * 1000 || signedAt - now > MAX_CLOCK_SKEW_MS) {
      throw new SignatureError("expired", "Request has expired");
    }
  } else if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new SignatureError(
      "expired",
      `Signature expired: ${auth.amzDate} is more than 15 minutes from the server's time ${new Date(now).toISOString()}`,
    );
  }
  return new Date(signedAt);
}

const sha256Hex = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * Checks a request's SigV4 signature against the local secret; throws SignatureError saying why
 * it is refused. Returns the signer's key id, region and service from the credential scope.
 */
export async function verifySignature(
  request: SignedRequest,
  options: VerifyOptions,
): Promise<{ accessKeyId: string; region: string; service: string }> {
  const [path = "/", rawQuery = ""] = request.url.split("?", 2) as [string, string?];
  const query = queryOf(rawQuery);
  const headers = headerValues(request.rawHeaders);
  const auth = parseAuthorization(query, headers);
  if (auth.accessKeyId !== options.credentials.accessKeyId) {
    throw new SignatureError(
      "unknown-key",
      `the access key id '${auth.accessKeyId}' is not the local stack's`,
    );
  }
  const signingDate = checkClock(auth, (options.now ?? new Date()).getTime());
  if (!auth.signedHeaders.includes("host")) {
    throw new SignatureError("incomplete", "the host header must be signed");
  }
  // The signer signs every header it is given: only those the client signed go in. The payload
  // hash is the declared one (S3 signs that header, not the body); a presigned URL without one is
  // UNSIGNED-PAYLOAD; otherwise the body's. x-amz-date comes from the signing date.
  const declaredHash = headers.get("x-amz-content-sha256");
  const payloadHash =
    declaredHash ??
    (auth.expiresSeconds !== undefined && !request.body ? "UNSIGNED-PAYLOAD" : undefined);
  const signedHeaders = Object.fromEntries(
    auth.signedHeaders.map((name) => [name, headers.get(name) ?? ""]),
  );
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: auth.scope.region,
    service: auth.scope.service,
    sha256: Sha256,
    uriEscapePath: options.doubleEncodePath,
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: "http:",
      hostname: headers.get("host") ?? "",
      path: path || "/",
      query,
      headers: {
        ...signedHeaders,
        ...(payloadHash ? { "x-amz-content-sha256": payloadHash } : {}),
      },
      ...(request.body ? { body: request.body } : {}),
    },
    {
      signingDate,
      signableHeaders: new Set(auth.signedHeaders),
      unsignableHeaders: new Set(["x-amz-date", "x-amz-content-sha256"]),
    },
  );
  const expected = Buffer.from(
    /Signature=([0-9a-f]+)/.exec(resigned.headers.authorization ?? "")?.[1] ?? "",
    "hex",
  );
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

type Refusal = { code: string; status: number };
const refusals =
  (table: Record<SignatureProblem, [string, number]>) =>
  (error: SignatureError): Refusal => {
    const [code, status] = table[error.problem];
    return { code, status };
  };

/** How the JSON-protocol services (DynamoDB, Step Functions, SageMaker runtime) word a refusal. */
export const jsonProtocolError = refusals({
  missing: ["MissingAuthenticationTokenException", 400],
  incomplete: ["IncompleteSignatureException", 400],
  "unknown-key": ["UnrecognizedClientException", 400],
  mismatch: ["InvalidSignatureException", 400],
  expired: ["InvalidSignatureException", 400],
});

/** How the query-protocol services (SNS) word a refusal. */
export const queryProtocolError = refusals({
  missing: ["MissingAuthenticationToken", 403],
  incomplete: ["IncompleteSignature", 400],
  "unknown-key": ["InvalidClientTokenId", 403],
  mismatch: ["SignatureDoesNotMatch", 403],
  expired: ["RequestExpired", 400],
});

const s3Refusals = refusals({
  missing: ["AccessDenied", 403],
  incomplete: ["AuthorizationHeaderMalformed", 400],
  "unknown-key": ["InvalidAccessKeyId", 403],
  mismatch: ["SignatureDoesNotMatch", 403],
  expired: ["RequestTimeTooSkewed", 403],
});

/** How S3 words a refusal: an expired presigned URL is AccessDenied, a skewed clock RequestTimeTooSkewed. */
export function s3Refusal(error: SignatureError): Refusal {
  return error.message.startsWith("Request has expired")
    ? { code: "AccessDenied", status: 403 }
    : s3Refusals(error);
}
