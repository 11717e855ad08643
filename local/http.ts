// HTTP plumbing shared by the local service stand-ins: loopback-only listening, bounded bodies, clean close.
import type { IncomingMessage, Server } from "node:http";
import { ServiceApiError, ServiceStartError } from "./errors.ts";

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
  return Buffer.concat(chunks).toString("utf8");
}
