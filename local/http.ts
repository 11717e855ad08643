// HTTP plumbing of every local service: loopback-only listening, one bounded body reader, SigV4 checked before any handler runs, errors in the service's own wording.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readBodyUpTo } from "../lib/http-body.ts";
import { LOCAL_CREDENTIALS } from "./account.ts";
import { ServiceApiError, ServiceStartError } from "./errors.ts";
import { SignatureError, signedRequestOf, verifySignature } from "./sigv4.ts";

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

/** A body over the service's limit: 413, as AWS answers it (read with lib/http-body.ts). */
export function bodyTooLarge(limitBytes: number): ServiceApiError {
  return new ServiceApiError(
    "RequestEntityTooLarge",
    `request body is over ${limitBytes} bytes`,
    413,
  );
}

/**
 * An error as the JSON-protocol services write it: the code in x-amzn-errortype, the message in the
 * body, and for awsJson services (DynamoDB, Step Functions) the code again as `__type`.
 */
export function jsonErrorReply(contentType: string, typeOf?: (code: string) => string) {
  return (response: ServerResponse, error: ServiceApiError): void => {
    const type = typeOf ? { __type: typeOf(error.code) } : {};
    response
      .writeHead(error.statusCode, { "content-type": contentType, "x-amzn-errortype": error.code })
      .end(JSON.stringify({ ...type, message: error.message }));
  };
}

/** A signed request, read whole. */
export interface ServiceCall {
  request: IncomingMessage;
  body: Buffer;
  /** The URL path, without the query. */
  path: string;
}

export interface ServiceOptions {
  port: number;
  label: string;
  maxBodyBytes: number;
  /** The service's own error code and status for a refused signature. */
  refusal: (error: SignatureError) => { code: string; status: number };
  /** Paths that are not AWS API calls and stay unsigned (the SageMaker container contract). */
  unsigned?: (path: string) => boolean;
  handle: (call: ServiceCall, response: ServerResponse) => Promise<void> | void;
  /** Writes an API error in the service's protocol (awsJson, awsQuery, rest-json). */
  replyError: (response: ServerResponse, error: ServiceApiError) => void;
  log: (line: string) => void;
}

export interface LocalService {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A local AWS service: every request is read, its signature verified, then handled; any failure is the service's error. */
export async function startService(options: ServiceOptions): Promise<LocalService> {
  const serve = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readBodyUpTo(request, options.maxBodyBytes, bodyTooLarge);
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (!options.unsigned?.(path)) {
      try {
        await verifySignature(signedRequestOf(request, body), {
          credentials: LOCAL_CREDENTIALS,
          doubleEncodePath: true,
        });
      } catch (error) {
        if (!(error instanceof SignatureError)) throw error;
        const { code, status } = options.refusal(error);
        throw new ServiceApiError(code, error.message, status, { cause: error });
      }
    }
    await options.handle({ request, body, path }, response);
  };
  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      if (!(error instanceof ServiceApiError)) {
        options.log(`${options.label}: internal error: ${String(error)}`);
      }
      const apiError =
        error instanceof ServiceApiError
          ? error
          : new ServiceApiError("InternalFailure", String(error), 500);
      if (response.headersSent) response.destroy();
      else options.replyError(response, apiError);
    });
  });
  const port = await listen(server, options.port, options.label);
  return { url: `http://${LOOPBACK}:${port}`, port, stop: () => closeServer(server) };
}
