// The SageMaker-compatible model server: GET /ping and POST /invocations (container contract) and the runtime API path.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { CUSTOM_ATTRIBUTES_HEADER, parseInvocationAttributes } from "../lib/custom-attributes.ts";
import { readBodyUpTo } from "../lib/http-body.ts";
import { sniffImageFormat } from "../lib/image-format.ts";
import { Semaphore } from "../lib/pool.ts";
import { describeZodError } from "../lib/zod-issues.ts";
import { type EndpointAnswer, EndpointAnswerSchema, type ModelInfo } from "../schemas/detection.ts";
import {
  checkContentType,
  imageFormatOf,
  isImageReference,
  parseImageReference,
} from "./content.ts";
import {
  ImageContentError,
  ImageReferenceError,
  ModelNotLoadedError,
  ModelOutputError,
  PayloadTooLargeError,
  QueueFullError,
  UnknownEndpointError,
} from "./errors.ts";
import { errorAnswer, statusFor } from "./http-errors.ts";
import { type ImageSource, imageSourceFromEnv } from "./image-source.ts";
import type { InferenceRequest, InferenceResult } from "./inference.ts";
import {
  defaultInferenceThreads,
  type InferencePool,
  startInferencePool,
} from "./inference-pool.ts";
import { createModel, modelFromEnv, modelSpecFromEnv } from "./models/index.ts";
import type { WaferModel } from "./models/model.ts";
import { createWorkQueue } from "./queue.ts";
import { type Route, routeOf } from "./routes.ts";
import { warmUp, warmupWafersFromEnv } from "./warmup.ts";

/** SageMaker real-time endpoints accept at most 6 MB per request. */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
const DEFAULT_MAX_QUEUED = 32;
/**
 * Images read from S3 ahead of their inference, per inference thread. The workflow sends up to 8
 * wafers at once: read all at once, they shared the S3 reads and the first inference waited for
 * the slowest of 8 (and 8 images sat in memory); a few ahead keep every thread fed.
 */
const READ_AHEAD_PER_THREAD = 2;
const PRODUCTION_VARIANT = "AllTraffic";

/**
 * The inference code (detector, quality gate, sharp's pictures), imported when a request runs in
 * this thread: with worker threads, this thread only names the model and passes requests on.
 */
let inference: Promise<typeof import("./inference.ts")> | undefined;
const loadInference = () => {
  inference ??= import("./inference.ts");
  return inference;
};

export interface EndpointServerOptions {
  port: number;
  /** Default 127.0.0.1: the server is for this machine, never the network. */
  host?: string;
  /**
   * A model object, run in the server's own thread one inference at a time (tests' stub models,
   * a model built in code). Without it the server builds `modelSpec` in worker threads.
   */
  model?: WaferModel;
  /** The model spec (models/index.ts) each inference thread builds; default WAFERFLOW_MODEL. */
  modelSpec?: string;
  /**
   * Worker threads running inferences side by side when the model comes from a spec; default one
   * per core. 0 runs them in the server's thread, one at a time.
   */
  inferenceThreads?: number;
  /**
   * Seeded wafers each inference thread inspects before /ping answers 200 (endpoint/warmup.ts), for
   * a model built from a spec; default WAFERFLOW_WARMUP_WAFERS, else 12. A `model` object is not
   * warmed up.
   */
  warmupWafers?: number;
  /** When set, /endpoints/{name}/invocations answers 404 for any other name. */
  endpointName?: string;
  maxBodyBytes?: number;
  /** Requests running or waiting for the model before new ones get 503. */
  maxQueuedRequests?: number;
  /**
   * Default true: resolve only once the model is loaded and warmed up, and reject (with the server closed)
   * when loading fails. false: resolve as soon as the port is bound; /ping answers 503 and
   * invocations wait until `ready` settles.
   */
  awaitLoad?: boolean;
  /**
   * Where application/json requests ({ "s3Uri" }) are read from. Default: WAFERFLOW_IMAGE_BUCKET's
   * bucket, or none (such requests get 400). null: none, whatever the environment says.
   */
  imageSource?: ImageSource | null;
  /** Receives one JSON line per request; default writes to stderr. */
  log?: (line: string) => void;
  /**
   * Default true: the image-quality gate (endpoint/quality/) answers `unusable` before the model
   * sees an out-of-spec image. false only for tests of the server's own machinery with stub models.
   */
  qualityGate?: boolean;
}

export interface RunningEndpoint {
  url: string;
  port: number;
  /** The model served (name and version). */
  model: ModelInfo;
  /** Inferences that run at once (worker threads, or 1 in the server's thread). */
  concurrency: number;
  /** Settles when the model has loaded, or failed to. */
  ready: Promise<void>;
  /**
   * Stops accepting connections, lets requests already received finish (up to `drainMs`,
   * default 30 s; SageMaker and `docker stop` wait that long before SIGKILL), then closes.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

/** How long close() waits for in-flight requests by default. */
export const DEFAULT_DRAIN_MS = 30_000;

interface RequestLog {
  method: string | undefined;
  path: string;
  status: number;
  ms: number;
  bytesIn?: number;
  /** The S3 object a reference request named. */
  source?: string;
  defects?: number;
  unusable?: boolean;
  error?: string;
  /** Waiting for a read-ahead slot before reading the referenced object, ms. */
  readWaitMs?: number;
  /** Reading the referenced object from S3, ms. */
  fetchMs?: number;
  /** Requests already running or waiting for an inference thread when this one joined them. */
  queueDepth?: number;
  /** Waiting for an inference thread, ms. */
  queueMs?: number;
  /** On the inference thread (decode, gate, detection, preview and overlay), ms. */
  runMs?: number;
  /** Mark-compacts of the inference thread's heap during it (worker threads only). */
  majorGcs?: number;
  /** Of runMs, the worker thread's own time on the task (the rest is the hand-over both ways). */
  threadBusyMs?: number;
  /** The worker thread's wait for this task since its previous answer, ms. */
  threadIdleMs?: number;
}

export async function startEndpointServer(
  options: EndpointServerOptions,
): Promise<RunningEndpoint> {
  const host = options.host ?? "127.0.0.1";
  // Without an explicit model, WAFERFLOW_MODEL decides, so the local stack honours it too.
  const modelSpec = options.modelSpec ?? (options.model ? undefined : modelSpecFromEnv());
  // Built here too (checks the spec now, names the model); the worker threads build their own.
  const model =
    options.model ??
    (options.modelSpec !== undefined ? createModel(options.modelSpec) : modelFromEnv());
  const threads = options.model ? 0 : (options.inferenceThreads ?? defaultInferenceThreads());
  const warmupWafers = options.model ? 0 : (options.warmupWafers ?? warmupWafersFromEnv());
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const imageSource =
    options.imageSource === null ? undefined : (options.imageSource ?? imageSourceFromEnv());
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let loaded = false;
  let loadFailure: unknown;
  /** Requests received and not yet answered; close() waits for them. */
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let drained: (() => void) | undefined;

  const writeLog = (entry: RequestLog) => {
    log(JSON.stringify({ time: new Date().toISOString(), model: model.info.name, ...entry }));
  };

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      // While draining, every answer ends its connection so keep-alive clients cannot hold us open.
      ...(draining ? { connection: "close" } : {}),
      ...headers,
    });
    res.end(text);
  };

  const sendError = (
    res: ServerResponse,
    error: unknown,
    runtimeApi: boolean,
    extra: Record<string, string> = {},
  ) => {
    const answer = errorAnswer(error, runtimeApi);
    sendJson(res, answer.status, answer.body, { ...extra, ...answer.headers });
    return answer.status;
  };

  const pool: InferencePool | undefined =
    threads > 0 && modelSpec !== undefined
      ? startInferencePool({ modelSpec, threads, warmupWafers, log })
      : undefined;
  const concurrency = pool?.size ?? 1;
  const maxQueued = options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED;
  // Bounds the requests waiting for the model or on it (over maxQueuedRequests they get 503). The
  // in-process model runs one at a time from here; the pool takes every request at once and its
  // threads take them in turn themselves, so no thread waits for this thread to hand one over.
  const queue = createWorkQueue(maxQueued, pool ? maxQueued : 1);
  /** S3 reads in flight or done and not yet on a thread; `reading` counts the requests at it. */
  const readAhead = new Semaphore(READ_AHEAD_PER_THREAD * concurrency);
  let reading = 0;
  const round = (value: number) => Math.round(value * 100) / 100;
  /** Runs the inference; `onStart` is told when it is on a thread, and the log says how long it waited. */
  const infer = async (
    request: InferenceRequest,
    entry: RequestLog,
    onStart: () => void,
  ): Promise<InferenceResult> => {
    if (!pool) {
      const started = performance.now();
      onStart();
      const result = await (await loadInference()).runInference(model, request);
      entry.queueMs ??= 0;
      entry.runMs = round(performance.now() - started);
      return result;
    }
    const { result, majorGcs, thread, waitedMs } = await pool.run(request, { onStart });
    entry.majorGcs = majorGcs;
    // By the thread's clock: its wait in the pool, and from its start to the answer here.
    entry.queueMs = round(waitedMs);
    entry.runMs = round(performance.timeOrigin + performance.now() - thread.startedAt);
    entry.threadBusyMs = round(thread.busyMs);
    entry.threadIdleMs = round(thread.idleMs);
    return result;
  };

  const ready = (async () => {
    if (pool) {
      await pool.ready;
    } else {
      await model.load();
      if (warmupWafers > 0) {
        const warmup = await warmUp(model, warmupWafers);
        log(JSON.stringify({ event: "inference-thread-warm", ...warmup }));
      }
    }
    // /ping answers 200 from here on: SageMaker sends traffic only to a container that does.
    loaded = true;
  })();
  ready.catch((error: unknown) => {
    loadFailure = error;
  });

  const invoke = async (
    req: IncomingMessage,
    res: ServerResponse,
    route: Extract<Route, { kind: "invoke" }>,
    entry: RequestLog,
  ) => {
    const variantHeader = { "x-amzn-invoked-production-variant": PRODUCTION_VARIANT };
    // A read-ahead slot, held from the image's S3 read until it is on a thread (or it failed).
    let releaseReadSlot = () => {};
    try {
      if (
        route.runtimeApi &&
        options.endpointName !== undefined &&
        route.endpointName !== options.endpointName
      ) {
        throw new UnknownEndpointError(
          `endpoint '${route.endpointName}' not found; this server is '${options.endpointName}'`,
        );
      }
      checkContentType(req.headers["content-type"]);
      const declaredLength = Number(req.headers["content-length"]);
      if (Number.isFinite(declaredLength) && declaredLength > maxBodyBytes) {
        throw new PayloadTooLargeError(
          `request body of ${declaredLength} bytes exceeds the ${maxBodyBytes} byte limit`,
        );
      }
      const body = await readBodyUpTo(
        req,
        maxBodyBytes,
        (limit) => new PayloadTooLargeError(`request body exceeds the ${limit} byte limit`),
      );
      entry.bytesIn = body.length;
      let image: Uint8Array = body;
      let fetchMs: number | undefined;
      if (isImageReference(req.headers["content-type"])) {
        const reference = parseImageReference(body);
        entry.source = reference.s3Uri;
        if (!imageSource) {
          throw new ImageReferenceError(
            "this endpoint reads no S3 references (WAFERFLOW_IMAGE_BUCKET is not set); send the image itself",
          );
        }
        // Waiting for a read slot is waiting for the model: counted against the same bound.
        if (queue.depth + reading >= maxQueued) {
          throw new QueueFullError(
            `${queue.depth + reading} requests are already waiting for the model; try again later`,
          );
        }
        reading++;
        try {
          const waitStarted = performance.now();
          releaseReadSlot = await readAhead.acquire();
          entry.readWaitMs = Math.round((performance.now() - waitStarted) * 100) / 100;
          const fetchStarted = performance.now();
          image = await imageSource.read(reference);
          fetchMs = Math.round((performance.now() - fetchStarted) * 100) / 100;
        } finally {
          reading--;
        }
        if (sniffImageFormat(image) === undefined) {
          throw new ImageContentError(`${reference.s3Uri} is neither PNG nor TIFF`);
        }
      } else {
        imageFormatOf(req.headers["content-type"], body);
      }
      const header = req.headers[CUSTOM_ATTRIBUTES_HEADER];
      const { hints, previewMaxSide, overlayMaxSide } = parseInvocationAttributes(
        Array.isArray(header) ? header.join(";") : header,
      );
      if (!loaded) {
        if (loadFailure !== undefined)
          throw new ModelNotLoadedError("the model failed to load", { cause: loadFailure });
        await ready.catch((cause: unknown) => {
          throw new ModelNotLoadedError("the model failed to load", { cause });
        });
      }
      if (fetchMs !== undefined) entry.fetchMs = fetchMs;
      entry.queueDepth = queue.depth;
      const queued = performance.now();
      // Where a request's time goes (waiting for a thread or on one): bench/pipeline.ts reads it.
      const result = await queue.run(() => {
        // The in-process model's wait is this queue's; the pool's is measured by the pool.
        if (!pool) entry.queueMs = round(performance.now() - queued);
        return infer(
          {
            image,
            hints,
            qualityGate: options.qualityGate !== false,
            ...(previewMaxSide !== undefined ? { previewMaxSide } : {}),
            ...(overlayMaxSide !== undefined ? { overlayMaxSide } : {}),
          },
          entry,
          // On a thread now: the next image may be read.
          () => releaseReadSlot(),
        );
      });
      const response: EndpointAnswer = {
        model: model.info,
        ...result,
        timingMs: {
          ...(fetchMs !== undefined ? { fetch: fetchMs } : {}),
          // Time from the request's turn in the queue to its answer, waiting included.
          inference: round(performance.now() - queued),
          ...result.timingMs,
        },
      };
      const checked = EndpointAnswerSchema.safeParse(response);
      if (!checked.success) {
        throw new ModelOutputError(
          `model answer breaks the contract: ${describeZodError(checked.error)}`,
          {
            cause: checked.error,
          },
        );
      }
      entry.defects = checked.data.defects.length;
      if (checked.data.status === "unusable") entry.unusable = true;
      entry.status = 200;
      sendJson(res, 200, checked.data, variantHeader);
    } catch (error) {
      const tooLarge = error instanceof PayloadTooLargeError;
      // Unread body bytes would be taken as the next request: close the connection after answering.
      const connection: Record<string, string> = tooLarge ? { connection: "close" } : {};
      entry.status = sendError(res, error, route.runtimeApi, { ...variantHeader, ...connection });
      entry.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (statusFor(error) === 500) {
        entry.error += error instanceof Error && error.stack ? ` ${error.stack}` : "";
      }
      if (tooLarge) {
        // Keep draining what the client still sends so it can read the 413 instead of a reset.
        req.resume();
      }
    } finally {
      releaseReadSlot();
    }
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    const entry: RequestLog = { method: req.method, path: url.pathname, status: 0, ms: 0 };
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      if (inFlight.size === 0) drained?.();
    });
    res.once("finish", () => {
      entry.ms = Math.round((performance.now() - started) * 100) / 100;
      writeLog(entry);
    });
    const route = routeOf(url.pathname);
    if (route.kind === "ping") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        entry.status = 405;
        sendJson(
          res,
          405,
          { error: { name: "MethodNotAllowed", message: "use GET /ping" } },
          { allow: "GET, HEAD" },
        );
        return;
      }
      entry.status = loaded ? 200 : 503;
      sendJson(
        res,
        entry.status,
        loaded
          ? { status: "ok", model: model.info }
          : { status: loadFailure ? "failed" : "loading", model: model.info },
      );
      return;
    }
    if (route.kind === "invoke") {
      if (req.method !== "POST") {
        entry.status = 405;
        sendJson(
          res,
          405,
          { error: { name: "MethodNotAllowed", message: `use POST ${url.pathname}` } },
          { allow: "POST" },
        );
        return;
      }
      void invoke(req, res, route, entry);
      return;
    }
    entry.status = 404;
    sendJson(res, 404, {
      error: {
        name: "NotFound",
        message: `no route ${req.method} ${url.pathname}; use GET /ping or POST /invocations`,
      },
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const close = async ({ drainMs = DEFAULT_DRAIN_MS }: { drainMs?: number } = {}) => {
    draining = true;
    const closed = new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
    server.closeIdleConnections();
    if (inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          drained = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // What is left is idle keep-alive sockets, or requests that overran the drain period.
    server.closeAllConnections();
    await closed;
    await pool?.close();
  };
  if (options.awaitLoad ?? true) {
    try {
      await ready;
    } catch (error) {
      await close({ drainMs: 0 });
      throw error;
    }
  }
  return { url: `http://${host}:${port}`, port, model: model.info, concurrency, ready, close };
}
