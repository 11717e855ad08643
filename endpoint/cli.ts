// `waferflow endpoint`: serves the model alone on 127.0.0.1 until SIGINT or SIGTERM.
import { parseArgs } from "node:util";
import { z } from "zod";
import { EndpointUsageError } from "./errors.ts";
import { createModel, MODEL_SPEC_HELP, modelFromEnv } from "./models/index.ts";
import { startEndpointServer } from "./server.ts";

const USAGE = `Usage: waferflow endpoint [--port <n>] [--model <spec>] [--endpoint-name <name>]
  --port           TCP port on 127.0.0.1 (default 8080, as SageMaker containers; 0 picks a free one)
  --model          ${MODEL_SPEC_HELP}; default: WAFERFLOW_MODEL, else classical
  --endpoint-name  answer only /endpoints/<name>/invocations on the runtime API path`;

const PortSchema = z.coerce.number().int().min(0).max(65535);

export async function runEndpointCommand(argv: string[]): Promise<number> {
  let values: { port?: string; model?: string; "endpoint-name"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        model: { type: "string" },
        "endpoint-name": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (cause) {
    throw new EndpointUsageError(`${(cause as Error).message}\n${USAGE}`, { cause });
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = PortSchema.safeParse(values.port ?? "8080");
  if (!port.success) {
    throw new EndpointUsageError(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  }
  const model = values.model !== undefined ? createModel(values.model) : modelFromEnv();
  const server = await startEndpointServer({
    port: port.data,
    model,
    ...(values["endpoint-name"] ? { endpointName: values["endpoint-name"] } : {}),
  });
  console.log(
    `waferflow endpoint: model ${model.info.name} ${model.info.version} listening on ${server.url} (GET /ping, POST /invocations)`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (received: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(received);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await server.close();
  console.log(`waferflow endpoint: stopped on ${signal}`);
  return 0;
}
