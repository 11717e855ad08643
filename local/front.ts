// A loopback front that checks SigV4 on each request before passing it to a server that cannot (dynalite, the model server).
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { closeServer, LOOPBACK, listen, readBodyBytes } from "./http.ts";
import {
  type LocalCredentials,
  SignatureError,
  signedRequestOf,
  verifySignature,
} from "./sigv4.ts";

/** An answer the front gives itself instead of passing the request on. */
export interface FrontReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface FrontOptions {
  port: number;
  label: string;
  /** Where verified requests go (a server on 127.0.0.1). */
  targetPort: () => number | undefined;
  credentials: LocalCredentials;
  maxBodyBytes: number;
  /** The service's own wording of a refused signature. */
  refusal: (error: SignatureError) => FrontReply;
  /** Paths that are not AWS API calls and stay unsigned (the SageMaker container contract). */
  unsigned?: (path: string) => boolean;
  /** A chance to answer a verified request without passing it on (fault injection). */
  intercept?: (request: IncomingMessage) => FrontReply | undefined;
  /** The answer when the target does not answer at all. */
  unreachable: (error: Error) => FrontReply;
  log: (line: string) => void;
}

export interface Front {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function send(response: ServerResponse, reply: FrontReply): void {
  response.writeHead(reply.status, reply.headers).end(reply.body);
}

export async function startFront(options: FrontOptions): Promise<Front> {
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readBodyBytes(request, options.maxBodyBytes);
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (!options.unsigned?.(path)) {
      try {
        verifySignature(signedRequestOf(request, body), {
          credentials: options.credentials,
          doubleEncodePath: true,
        });
      } catch (error) {
        if (!(error instanceof SignatureError)) throw error;
        send(response, options.refusal(error));
        return;
      }
      const intercepted = options.intercept?.(request);
      if (intercepted) {
        send(response, intercepted);
        return;
      }
    }
    const targetPort = options.targetPort();
    if (targetPort === undefined) {
      send(response, options.unreachable(new Error(`${options.label} is not running`)));
      return;
    }
    await new Promise<void>((resolveForward) => {
      const forward = httpRequest(
        {
          host: LOOPBACK,
          port: targetPort,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          answer.on("end", resolveForward);
          answer.on("error", resolveForward);
        },
      );
      forward.on("error", (error) => {
        if (!response.headersSent) send(response, options.unreachable(error));
        else response.destroy();
        resolveForward();
      });
      forward.end(body);
    });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.log(`${options.label}: front error: ${String(error)}`);
      if (!response.headersSent) {
        const status = (error as { statusCode?: number }).statusCode ?? 500;
        response.writeHead(status, { "content-type": "text/plain" }).end(String(error));
      } else response.destroy();
    });
  });
  const port = await listen(server, options.port, options.label);
  return { url: `http://${LOOPBACK}:${port}`, port, stop: () => closeServer(server) };
}
