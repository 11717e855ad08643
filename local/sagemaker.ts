// The local SageMaker runtime: a signed front on the model server's /endpoints/{name}/invocations, with fault injection for tests.
import { ServiceApiError } from "./errors.ts";
import { startFront } from "./front.ts";
import { jsonErrorReply, type LocalService } from "./http.ts";
import { jsonProtocolError } from "./sigv4.ts";

/** The container contract SageMaker itself calls inside the container: no AWS signature there. */
const CONTAINER_PATHS = new Set(["/ping", "/invocations"]);
/** InvokeEndpoint takes at most 25 MB (real-time endpoints, 6 MB; the local stack is lenient). */
const MAX_REQUEST_BYTES = 25 * 1024 * 1024;

export interface LocalSageMaker extends LocalService {
  /** The next `times` InvokeEndpoint calls answer HTTP 400 ThrottlingException, as a busy endpoint does. */
  throttle(times: number): void;
  /** Points the front at another model server port, or at none (a dead container). */
  setModelPort(port: number | undefined): void;
}

export async function startSageMakerFront(options: {
  port: number;
  modelPort: number;
  log: (line: string) => void;
}): Promise<LocalSageMaker> {
  let throttlesLeft = 0;
  let modelPort: number | undefined = options.modelPort;
  const front = await startFront({
    port: options.port,
    label: "SageMaker runtime",
    targetPort: () => modelPort,
    maxBodyBytes: MAX_REQUEST_BYTES,
    unsigned: (path) => CONTAINER_PATHS.has(path),
    refusal: jsonProtocolError,
    // rest-json: the code in the header only.
    replyError: jsonErrorReply("application/json"),
    intercept: () => {
      if (throttlesLeft <= 0) return undefined;
      throttlesLeft -= 1;
      options.log(`sagemaker: fault injected: ThrottlingException (${throttlesLeft} more to come)`);
      return new ServiceApiError("ThrottlingException", "Rate exceeded", 400);
    },
    // What InvokeEndpoint answers when the model container does not.
    unreachable: () =>
      new ServiceApiError(
        "ServiceUnavailable",
        "The service is unavailable: the endpoint's model container does not answer.",
        503,
      ),
    log: options.log,
  });
  return {
    ...front,
    throttle(times) {
      throttlesLeft = times;
    },
    setModelPort(port) {
      modelPort = port;
    },
  };
}
