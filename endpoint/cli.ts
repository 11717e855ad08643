// `waferflow endpoint` (the model alone on 127.0.0.1) and `waferflow serve` (the container's entry on all interfaces).
import { parseArgs } from "node:util";
import { z } from "zod";
import { readConfig } from "../lib/config.ts";
import { EndpointUsageError } from "./errors.ts";
import { createModel, MODEL_SPEC_HELP, modelFromEnv, modelSpecFromEnv } from "./models/index.ts";
import { type RunningEndpoint, startEndpointServer } from "./server.ts";

export const ENDPOINT_USAGE = `Usage: waferflow endpoint [--port <n>] [--model <spec>] [--endpoint-name <name>]
  --port           TCP port on 127.0.0.1 (default 8080, as SageMaker containers; 0 picks a free one)
  --model          ${MODEL_SPEC_HELP}; default: WAFERFLOW_MODEL, else classical
  --endpoint-name  answer only /endpoints/<name>/invocations on the runtime API path`;

export const SERVE_USAGE = `Usage: waferflow serve
  The model container's command (SageMaker runs the image with the argument 'serve'):
  serves GET /ping and POST /invocations on 0.0.0.0, port SAGEMAKER_BIND_TO_PORT or 8080.
  The model is WAFERFLOW_MODEL (default classical). /ping answers 503 until each inference
  thread has inspected WAFERFLOW_WARMUP_WAFERS seeded wafers (default 12; 0-64). SIGTERM or
  SIGINT: finish the requests already received, then exit 0.`;

const PortSchema = z.coerce.number().int().min(0).max(65535);

/** SageMaker names the port in SAGEMAKER_BIND_TO_PORT when it is not 8080 (inference pipelines). */
const ServeEnvSchema = z.object({
  SAGEMAKER_BIND_TO_PORT: z.preprocess(
    (value) => (value === undefined || String(value).trim() === "" ? "8080" : value),
    PortSchema,
  ),
});

/** All interfaces: inside a container, SageMaker's health checks and traffic arrive on the container's address. */
const CONTAINER_HOST = "0.0.0.0";

function parseOptions<T extends Record<string, { type: "string" | "boolean"; short?: string }>>(
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (cause) {
    throw new EndpointUsageError((cause as Error).message, { cause });
  }
}

/**
 * Announces the server (the line supervisors and tests wait for), then waits for SIGINT or SIGTERM
 * and drains and closes it. The handlers go in before the line is printed: a signal sent the moment
 * the line arrives otherwise found none and killed the process (exit by signal, nothing drained).
 */
async function serveUntilSignal(
  server: RunningEndpoint,
  name: string,
  ready: string,
): Promise<number> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (received: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(received);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    console.log(ready);
  });
  console.log(`waferflow ${name}: ${signal}: finishing requests in flight`);
  await server.close();
  console.log(`waferflow ${name}: stopped on ${signal}`);
  return 0;
}

export async function runEndpointCommand(argv: string[]): Promise<number> {
  const values = parseOptions(argv, {
    port: { type: "string" },
    model: { type: "string" },
    "endpoint-name": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(ENDPOINT_USAGE);
    return 0;
  }
  const port = PortSchema.safeParse(values.port ?? "8080");
  if (!port.success) {
    throw new EndpointUsageError(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  }
  // Checked here so a bad spec is a usage error before any port is bound.
  const modelSpec = values.model ?? modelSpecFromEnv();
  createModel(modelSpec);
  const server = await startEndpointServer({
    port: port.data,
    modelSpec,
    ...(values["endpoint-name"] ? { endpointName: values["endpoint-name"] } : {}),
  });
  return serveUntilSignal(
    server,
    "endpoint",
    `waferflow endpoint: model ${server.model.name} ${server.model.version} (${server.concurrency} inference threads) listening on ${server.url} (GET /ping, POST /invocations)`,
  );
}

export async function runServeCommand(argv: string[]): Promise<number> {
  const values = parseOptions(argv, { help: { type: "boolean", short: "h" } });
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  const config = readConfig(ServeEnvSchema);
  modelFromEnv(); // a bad WAFERFLOW_MODEL fails here, naming the variable
  const server = await startEndpointServer({
    port: config.SAGEMAKER_BIND_TO_PORT,
    host: CONTAINER_HOST,
    modelSpec: modelSpecFromEnv(),
  });
  return serveUntilSignal(
    server,
    "serve",
    `waferflow serve: model ${server.model.name} ${server.model.version} (${server.concurrency} inference threads) listening on ${CONTAINER_HOST}:${server.port} (GET /ping, POST /invocations)`,
  );
}
