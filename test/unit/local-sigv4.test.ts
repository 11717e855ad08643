// The SigV4 verifier of the embedded stack, on requests the AWS SDK itself signed (captured before sending, no network).
import assert from "node:assert/strict";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { describe, it } from "vitest";
import { SignatureError, type SignedRequest, verifySignature } from "../../local/sigv4.ts";

const credentials = { accessKeyId: "LOCALKEY", secretAccessKey: "LOCALSECRET" };

interface CapturedRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** Signs a command with the SDK and returns the request it would have sent. */
async function signedBy(
  client: DynamoDBClient | S3Client,
  command: object,
): Promise<SignedRequest> {
  let captured: CapturedRequest | undefined;
  client.config.requestHandler = {
    handle: async (request: CapturedRequest) => {
      captured = request;
      throw new Error("captured");
    },
  } as never;
  await (client.send as (c: unknown) => Promise<unknown>)(command).catch(() => {});
  assert.ok(captured, "the SDK sent nothing");
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(captured.query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value ?? ""]) query.append(name, v);
  }
  const text = query.toString().replace(/\+/g, "%20");
  const rawHeaders = Object.entries(captured.headers).flat();
  const body =
    typeof captured.body === "string"
      ? Buffer.from(captured.body)
      : captured.body instanceof Uint8Array
        ? Buffer.from(captured.body)
        : undefined;
  return {
    method: captured.method,
    url: `${captured.path}${text ? `?${text}` : ""}`,
    rawHeaders,
    ...(body ? { body } : {}),
  };
}

const dynamodb = (secret = credentials.secretAccessKey, offsetMs = 0) =>
  new DynamoDBClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:1",
    credentials: { ...credentials, secretAccessKey: secret },
    maxAttempts: 1,
    systemClockOffset: offsetMs,
  });

const problem = async (request: SignedRequest, doubleEncodePath = true) => {
  try {
    await verifySignature(request, { credentials, doubleEncodePath });
    return "accepted";
  } catch (error) {
    assert.ok(error instanceof SignatureError);
    return error.problem;
  }
};

describe("verifySignature", () => {
  it("accepts what the SDK signs with the local key pair", async () => {
    const request = await signedBy(dynamodb(), new ListTablesCommand({}));
    assert.equal(await problem(request), "accepted");
  });

  it("refuses a changed body, another secret, another key and a clock 16 minutes off", async () => {
    const request = await signedBy(dynamodb(), new ListTablesCommand({ Limit: 5 }));
    assert.equal(await problem({ ...request, body: Buffer.from('{"Limit":50}') }), "mismatch");
    assert.equal(
      await problem(await signedBy(dynamodb("other"), new ListTablesCommand({}))),
      "mismatch",
    );
    const stranger = await signedBy(dynamodb(), new ListTablesCommand({}));
    const rawHeaders = stranger.rawHeaders.map((value) => value.replace("LOCALKEY/", "STRANGER/"));
    assert.equal(await problem({ ...stranger, rawHeaders }), "unknown-key");
    assert.equal(
      await problem(
        await signedBy(dynamodb(undefined, -16 * 60 * 1000), new ListTablesCommand({})),
      ),
      "expired",
    );
  });

  it("tells a missing signature from a malformed one", async () => {
    const request = await signedBy(dynamodb(), new ListTablesCommand({}));
    const withoutAuth: string[] = [];
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      if (request.rawHeaders[i]?.toLowerCase() === "authorization") continue;
      withoutAuth.push(request.rawHeaders[i] ?? "", request.rawHeaders[i + 1] ?? "");
    }
    assert.equal(await problem({ ...request, rawHeaders: withoutAuth }), "missing");
    assert.equal(
      await problem({
        ...request,
        rawHeaders: [...withoutAuth, "Authorization", "AWS4-HMAC-SHA256 Credential=x"],
      }),
      "incomplete",
    );
  });

  it("checks S3's signed payload hash header and its path as sent", async () => {
    const s3 = new S3Client({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:1",
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
    const request = await signedBy(
      s3,
      new PutObjectCommand({ Bucket: "b", Key: "a key/ä (1).png", Body: "bytes" }),
    );
    assert.equal(await problem({ ...request, body: undefined }, false), "accepted");
    const rawHeaders = request.rawHeaders.map((value) =>
      /^[0-9a-f]{64}$/.test(value) ? "0".repeat(64) : value,
    );
    assert.equal(await problem({ ...request, body: undefined, rawHeaders }, false), "mismatch");
  });
});

describe("verifySignature on presigned URLs", () => {
  const presigned = async (key: string, expiresIn: number) => {
    const s3 = new S3Client({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:4566",
      forcePathStyle: true,
      credentials,
    });
    const url = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: "b", Key: key }), { expiresIn }),
    );
    return { method: "GET", url: `${url.pathname}${url.search}`, rawHeaders: ["Host", url.host] };
  };

  it("accepts a presigned GET until it expires, and not once its key is changed", async () => {
    const request = await presigned("lots/a b+c.png", 300);
    assert.equal(await problem(request, false), "accepted");
    const other = { ...request, url: request.url.replace("a%20b", "a%20x") };
    assert.equal(await problem(other, false), "mismatch");
    const late = async () => {
      try {
        await verifySignature(request, {
          credentials,
          doubleEncodePath: false,
          now: new Date(Date.now() + 301_000),
        });
        return "accepted";
      } catch (error) {
        return (error as SignatureError).problem;
      }
    };
    assert.equal(await late(), "expired");
  });
});
