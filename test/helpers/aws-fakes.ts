// What unit tests of the workflow functions hand their mocked SDK clients: service errors, object bodies, manifests.
import { createHash } from "node:crypto";
import { S3ServiceException } from "@aws-sdk/client-s3";

/** An AWS service error as the SDK throws it: name, HTTP status and fault. */
export function serviceError(name: string, status: number, message = `${name} happened`) {
  return new S3ServiceException({
    name,
    message,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

/** The GetObject body methods our code uses; cast where a command output is expected. */
export function s3Body(content: string | Uint8Array) {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  return {
    Body: {
      transformToString: async () => new TextDecoder().decode(bytes),
      transformToByteArray: async () => new Uint8Array(bytes),
    },
  } as never;
}

export const sha256Hex = (content: string | Uint8Array) =>
  createHash("sha256").update(content).digest("hex");

export function manifestImage(lotId: string, fileName: string, content: string | Uint8Array = "x") {
  return {
    fileName,
    key: `lots/${lotId}/images/${fileName}`,
    sha256: sha256Hex(content),
    bytes: typeof content === "string" ? Buffer.byteLength(content) : content.length,
    contentType: fileName.endsWith(".tif") ? ("image/tiff" as const) : ("image/png" as const),
  };
}

/** A valid manifest of `lotId` as stored in S3, with its checksum. */
export function manifestText(
  lotId: string,
  images: ReturnType<typeof manifestImage>[],
  extra: Record<string, unknown> = {},
): { text: string; sha256: string } {
  const text = JSON.stringify({
    schemaVersion: 1,
    lotId,
    createdAt: "2026-11-30T00:00:00.000Z",
    source: { agent: "test" },
    metadata: { waferDiameterMm: 300 },
    images,
    ...extra,
  });
  return { text, sha256: sha256Hex(text) };
}
