// HTTP plumbing shared by the local service stand-ins: loopback-only listening, bounded bodies, clean close.
import type { IncomingMessage, Server } from "node:http";
import { ServiceApiError, ServiceStartError } from "./errors.ts";
import {
  type LocalCredentials,
  SignatureError,
  signedRequestOf,
  verifySignature,
} from "./sigv4.ts";

export const LOOPBACK = "127.0.0.1";

/** Listens on 127.0.0.1 only (never on all interfaces) and returns the port, 0 meaning any free one. */
export function listen(server: Server, port: number, label: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (cause: Error) =>
      reject(
        new ServiceStartError(`local ${label} cannot listen on ${LOOPBACK}:${port}`, { cause }),
      );
    server.once("error", onError);
    server.listen(port, LOOPBACK, () => {
      server.off("error", onError);
      const address = server.address();
      resolvePort(typeof address === "object" && address ? address.port : port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    if (!server.listening) {
      resolveClose();
      return;
    }
    server.close(() => resolveClose());
    // Keep-alive sockets from SDK clients would otherwise hold close() open until they time out.
    server.closeAllConnections();
  });
}

export async function readBody(request: IncomingMessage, limitBytes: number): Promise<string> {
  return (await readBodyBytes(request, limitBytes)).toString("utf8");
}

export async function readBodyBytes(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > limitBytes) {
      throw new ServiceApiError(
        "RequestEntityTooLarge",
        `request body is over ${limitBytes} bytes`,
        413,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Verifies the request's SigV4 signature with the local key pair, turning a refusal into the
 * service's own API error (how it is worded depends on the protocol).
 */
export function requireSignature(
  request: IncomingMessage,
  body: Buffer,
  credentials: LocalCredentials,
  wording: (error: SignatureError) => { code: string; status: number },
): void {
  try {
    verifySignature(signedRequestOf(request, body), { credentials, doubleEncodePath: true });
  } catch (error) {
    if (!(error instanceof SignatureError)) throw error;
    const { code, status } = wording(error);
    throw new ServiceApiError(code, error.message, status, { cause: error });
  }
}
