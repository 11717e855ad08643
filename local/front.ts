// A loopback front that checks SigV4 on each request before passing it to a server that cannot (dynalite, the model server).
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { ServiceApiError } from "./errors.ts";
import { LOOPBACK, type LocalService, type ServiceOptions, startService } from "./http.ts";

export interface FrontOptions extends Omit<ServiceOptions, "handle"> {
  /** Where verified requests go (a server on 127.0.0.1); undefined when it is down. */
  targetPort: () => number | undefined;
  /** A fault to answer a verified request with instead of passing it on (fault injection). */
  intercept?: (request: IncomingMessage) => ServiceApiError | undefined;
  /** The answer when the target does not answer at all. */
  unreachable: (error: Error) => ServiceApiError;
}

export function startFront(options: FrontOptions): Promise<LocalService> {
  return startService({
    ...options,
    handle: async ({ request, body, path }, response) => {
      const fault = options.unsigned?.(path) ? undefined : options.intercept?.(request);
      if (fault) throw fault;
      const targetPort = options.targetPort();
      if (targetPort === undefined) {
        throw options.unreachable(new Error(`${options.label} is not running`));
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
          if (!response.headersSent) options.replyError(response, options.unreachable(error));
          else response.destroy();
          resolveForward();
        });
        forward.end(body);
      });
    },
  });
}
