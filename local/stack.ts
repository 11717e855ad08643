// Starts the embedded local AWS stack (S3, DynamoDB, SNS, Step Functions, SageMaker endpoint, S3 trigger) from template.yaml.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { createS3ImageSource } from "../endpoint/image-source.ts";
import { loadBuiltFunctions } from "../infra/build-layout.ts";
import { loadTemplate, TEMPLATE_PATH } from "../infra/template.ts";
import { readConfig, wholeNumberVariable } from "../lib/config.ts";
import { executionArnOf, LOCAL_REGION } from "./account.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { startDynamoDb } from "./dynamodb.ts";
import { LocalStackError, ServiceStartError, TemplateError } from "./errors.ts";
import { createExecutionEngine, type ExecutionEngine } from "./executions.ts";
import { createLambdaInvoker, type LambdaInvoker } from "./lambda.ts";
import { createProcessLambdaInvoker } from "./lambda-process.ts";
import { buildLocalModel, type LocalModel } from "./resource-model.ts";
import { LOCAL_CREDENTIALS, startS3 } from "./s3.ts";
import { startSageMakerFront } from "./sagemaker.ts";
import { startSfn } from "./sfn.ts";
import { type PublishedMessage, startSns } from "./sns.ts";
import { createTrigger, type Trigger } from "./trigger.ts";

export interface LocalStackOptions {
  /** Where S3 objects, tables, messages and executions live; default ".waferflow". */
  dataDir?: string;
  /** Use a fresh temporary data dir and delete it on stop. */
  ephemeral?: boolean;
  /** Default: template.yaml at the repo root. */
  templatePath?: string;
  /** 0 (the default) picks a free port. */
  ports?: { s3?: number; dynamodb?: number; sfn?: number; sns?: number; endpoint?: number };
  /** A SageMaker runtime endpoint already running (a container, a fault injector); no model server is started. */
  sagemakerUrl?: string;
  log?: (line: string) => void;
  /** Start the SageMaker model server (endpoint/server.ts); default true. */
  startEndpoint?: boolean;
  /**
   * "sources": handlers imported in this process from TypeScript (fast inner loop). "built": the
   * bundles of `npm run build`, one Node process per sandbox, as `sam local invoke` runs them.
   * Default: WAFERFLOW_FUNCTIONS, else "sources".
   */
  functions?: FunctionsMode;
  /**
   * How many times the local EventBridge delivers each matching event (default 1). EventBridge
   * delivers at least once; fault tests use 3 to prove a duplicate does no harm.
   */
  eventDeliveries?: number;
  /**
   * Tests only: every state machine Retry waits this many milliseconds between attempts instead of
   * IntervalSeconds x BackoffRate^n with jitter (aws-local-stepfunctions' retryIntervalOverrides).
   * ErrorEquals and MaxAttempts still apply, and the ASL itself is unchanged. Default: the ASL's own.
   */
  retryIntervalMs?: number;
  /**
   * Built functions only: sandboxes (Node processes) each function may run at once; invocations
   * beyond wait for a free one, as with reserved concurrency. Default: WAFERFLOW_MAX_SANDBOXES,
   * else 4. A test whose lot is a few images sets 1: every extra sandbox is a process start.
   */
  maxSandboxesPerFunction?: number;
}

export interface LocalStackFaults {
  /** The next `times` InvokeEndpoint calls answer HTTP 400 ThrottlingException. */
  throttleEndpoint(times: number): void;
  /** Stops the model server: InvokeEndpoint then answers 503 ServiceUnavailable, as with a dead container. */
  stopModelServer(): Promise<void>;
}

export type FunctionsMode = "sources" | "built";

const SandboxEnvSchema = z.object({ WAFERFLOW_MAX_SANDBOXES: wholeNumberVariable(1) });

export interface ExecutionOutcome {
  status: string;
  output?: unknown;
  error?: string;
  cause?: string;
}

export interface LocalStack {
  env: Record<string, string>;
  endpoints: Record<"s3" | "dynamodb" | "sfn" | "sns" | "sagemaker", string>;
  names: {
    bucket: string;
    table: string;
    reportTopicArn: string;
    alertTopicArn: string;
    stateMachineArn: string;
    endpointName: string;
  };
  dataDir: string;
  /** Real faults, injected into the running stack (for fault tests and drills). */
  faults: LocalStackFaults;
  onMessage(topic: "reports" | "alerts", listener: (message: PublishedMessage) => void): () => void;
  waitForExecution(name: string, timeoutMs?: number): Promise<ExecutionOutcome>;
  stop(): Promise<void>;
}

export { LOCAL_CREDENTIALS };

const DEFAULT_WAIT_MS = 120_000;
/** Imported only when wanted: loading the model is the slowest part of starting. */
const MODEL_SERVER_MODULE = new URL("../endpoint/server.ts", import.meta.url).href;

type EndpointServerModule = typeof import("../endpoint/server.ts");

/** Handlers read their configuration (and build their clients) once, so only one stack per process. */
let runningStack: Promise<LocalStack> | undefined;

/** The stack's names are its template's Outputs, as a deployed stack's are: one source for both. */
const NAME_OUTPUTS = {
  bucket: "LotBucketName",
  table: "LotTableName",
  reportTopicArn: "ReportTopicArn",
  alertTopicArn: "AlertTopicArn",
  stateMachineArn: "LotStateMachineArn",
} as const;

function namesOf(model: LocalModel): LocalStack["names"] {
  const names: Record<string, string> = { endpointName: model.endpointName };
  for (const [field, output] of Object.entries(NAME_OUTPUTS)) {
    const value = model.outputs[output];
    if (value === undefined) {
      throw new TemplateError(
        `template needs the output ${output} (the local stack's names.${field})`,
      );
    }
    names[field] = value;
  }
  return names as LocalStack["names"];
}

function defaultLog(line: string): void {
  process.stderr.write(`[waferflow local] ${line}\n`);
}

export function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (runningStack) {
    return Promise.reject(
      new LocalStackError(
        "a local stack is already running in this process; stop it first (handlers share process.env)",
      ),
    );
  }
  const starting = start(options);
  runningStack = starting;
  starting.catch(() => {
    runningStack = undefined;
  });
  return starting;
}

/** Checks the options before anything starts; the functions' mode and sandbox limit fall back on the environment. */
function checkOptions(options: LocalStackOptions) {
  for (const [service, port] of Object.entries(options.ports ?? {})) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new LocalStackError(
        `ports.${service} must be an integer from 0 (any free port) to 65535, got ${port}`,
      );
    }
  }
  if (options.ephemeral && options.dataDir !== undefined) {
    throw new LocalStackError("give either dataDir or ephemeral, not both");
  }
  const functionsMode = options.functions ?? process.env.WAFERFLOW_FUNCTIONS ?? "sources";
  if (functionsMode !== "sources" && functionsMode !== "built") {
    throw new LocalStackError(
      `functions (WAFERFLOW_FUNCTIONS) must be 'sources' or 'built', got '${functionsMode}'`,
    );
  }
  const count = options.maxSandboxesPerFunction;
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) {
    throw new LocalStackError(
      `maxSandboxesPerFunction must be a whole number from 1, got ${count}`,
    );
  }
  const maxSandboxes = count ?? readConfig(SandboxEnvSchema).WAFERFLOW_MAX_SANDBOXES;
  return { functionsMode, maxSandboxes };
}

async function start(options: LocalStackOptions): Promise<LocalStack> {
  const { functionsMode, maxSandboxes: maxSandboxesPerFunction } = checkOptions(options);
  // Checked before any server starts: a missing or stale build is the user's next command, not a crash.
  const built = functionsMode === "built" ? loadBuiltFunctions() : undefined;
  const log = options.log ?? defaultLog;
  const templatePath = resolve(options.templatePath ?? TEMPLATE_PATH);
  let template: ReturnType<typeof loadTemplate>;
  try {
    template = loadTemplate(templatePath);
  } catch (cause) {
    throw new TemplateError(`cannot read the template ${templatePath}`, { cause });
  }
  const model = buildLocalModel(template, templatePath);
  const names = namesOf(model);
  const ephemeral = options.ephemeral === true;
  const dataDir = ephemeral
    ? mkdtempSync(join(tmpdir(), "waferflow-"))
    : resolve(options.dataDir ?? ".waferflow");
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (cause) {
    throw new LocalStackError(`cannot use ${dataDir} as the data dir`, { cause });
  }
  const unlockDataDir = lockDataDir(dataDir);
  const ports = options.ports ?? {};
  const stoppers: Array<() => Promise<void>> = [];
  const noEndpoint = () => {
    throw new LocalStackError("the stack was started without the model endpoint");
  };
  const faults: LocalStackFaults = { throttleEndpoint: noEndpoint, stopModelServer: noEndpoint };
  let engine: ExecutionEngine | undefined;
  let trigger: Trigger | undefined;
  const previousEnv = new Map<string, string | undefined>();

  const stopAll = async () => {
    // Deliveries and executions first: they still talk to the servers.
    await trigger?.drain();
    await engine?.close();
    for (const stop of stoppers.reverse()) {
      await stop().catch((error: unknown) => log(`stopping: ${String(error)}`));
    }
    for (const [key, value] of previousEnv) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    unlockDataDir();
    if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const s3 = await startS3({
      port: ports.s3 ?? 0,
      directory: join(dataDir, "s3"),
      buckets: model.buckets.map((bucket) => bucket.name),
      kmsBuckets: Object.fromEntries(
        model.buckets.flatMap((bucket) =>
          bucket.defaultKms ? [[bucket.name, bucket.defaultKms]] : [],
        ),
      ),
      onObjectCreated: (object) => trigger?.onObjectCreated(object),
      log,
    });
    stoppers.push(s3.stop);
    const dynamodb = await startDynamoDb({
      port: ports.dynamodb ?? 0,
      directory: ephemeral ? undefined : join(dataDir, "dynamodb"),
      tables: model.tables,
      log,
    });
    stoppers.push(dynamodb.stop);
    const sns = await startSns({
      port: ports.sns ?? 0,
      dataDir,
      topics: model.topics,
      log,
    });
    stoppers.push(sns.stop);

    let sagemakerUrl = options.sagemakerUrl ?? "";
    if (!sagemakerUrl && options.startEndpoint !== false) {
      const modulePath = MODEL_SERVER_MODULE;
      let endpointModule: EndpointServerModule;
      try {
        endpointModule = (await import(modulePath)) as EndpointServerModule;
      } catch (cause) {
        throw new ServiceStartError(`cannot load the model server ${modulePath}`, { cause });
      }
      // The model server has no idea of AWS signatures: it listens on a private port behind a
      // front that checks them on the runtime API path (and can inject faults).
      const endpoint = await endpointModule.startEndpointServer({
        port: 0,
        host: "127.0.0.1",
        endpointName: model.endpointName,
        // As on AWS (WAFERFLOW_IMAGE_BUCKET on the model): images too large for a request are read from the lot bucket.
        imageSource: createS3ImageSource({
          bucket: names.bucket,
          s3: new S3Client({
            endpoint: s3.url,
            region: LOCAL_REGION,
            credentials: LOCAL_CREDENTIALS,
          }),
        }),
        log: (line) => log(`endpoint: ${line}`),
      });
      let closing: Promise<void> | undefined;
      const stopModelServer = () => {
        closing ??= endpoint.close();
        return closing;
      };
      stoppers.push(stopModelServer);
      const front = await startSageMakerFront({
        port: ports.endpoint ?? 0,
        modelPort: endpoint.port,
        log,
      });
      stoppers.push(front.stop);
      sagemakerUrl = front.url;
      faults.throttleEndpoint = (times) => front.throttle(times);
      faults.stopModelServer = () => {
        front.setModelPort(undefined);
        return stopModelServer();
      };
    }

    const env: Record<string, string> = {
      ...model.functionEnvironment,
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
      AWS_ENDPOINT_URL_SNS: sns.url,
      ...(sagemakerUrl ? { AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sagemakerUrl } : {}),
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
    };

    let invoker: LambdaInvoker;
    if (built) {
      const processInvoker = createProcessLambdaInvoker({
        functions: model.functions,
        built,
        stackEnvironment: () => env,
        sharedFunctionVariables: Object.keys(model.functionEnvironment),
        log,
        ...(maxSandboxesPerFunction ? { maxSandboxesPerFunction } : {}),
      });
      stoppers.push(() => processInvoker.close());
      invoker = processInvoker;
    } else {
      invoker = createLambdaInvoker({ functions: model.functions, log });
    }
    engine = createExecutionEngine({
      stateMachines: model.stateMachines,
      functions: model.functions,
      invoker,
      dataDir,
      log,
      retryIntervalMs: options.retryIntervalMs,
      onExecutionEnded: (record) => trigger?.onExecutionEnded(record),
    });
    const sfn = await startSfn({
      port: ports.sfn ?? 0,
      engine,
      log,
    });
    stoppers.push(sfn.stop);
    env.AWS_ENDPOINT_URL_SFN = sfn.url;

    // Before any handler module loads: handlers read configuration and build clients at load.
    for (const [key, value] of Object.entries(env)) {
      previousEnv.set(key, process.env[key]);
      process.env[key] = value;
    }
    for (const key of ["AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
      previousEnv.set(key, process.env[key]);
      delete process.env[key];
    }
    trigger = createTrigger({
      eventBridgeBuckets: model.buckets
        .filter((bucket) => bucket.eventBridgeEnabled)
        .map((bucket) => bucket.name),
      rules: model.eventRules,
      schedules: model.schedules,
      functions: model.functions,
      invoker,
      log,
      ...(options.eventDeliveries ? { deliveries: options.eventDeliveries } : {}),
      dataDir,
    });

    // Only now can the executions a stop or crash cut off run again: their handlers need it all.
    engine.resumeInterrupted();
    trigger.redeliverPending();
    const runningEngine = engine;
    let stopped: Promise<void> | undefined;
    log(
      `S3 ${s3.url}, DynamoDB ${dynamodb.url}, SNS ${sns.url}, Step Functions ${sfn.url}${sagemakerUrl ? `, SageMaker ${sagemakerUrl}` : ""}; data in ${dataDir}`,
    );
    return {
      env,
      endpoints: {
        s3: s3.url,
        dynamodb: dynamodb.url,
        sfn: sfn.url,
        sns: sns.url,
        sagemaker: sagemakerUrl,
      },
      names,
      dataDir,
      faults,
      onMessage(topic, listener) {
        return sns.subscribe(
          topic === "reports" ? names.reportTopicArn : names.alertTopicArn,
          listener,
        );
      },
      async waitForExecution(name, timeoutMs = DEFAULT_WAIT_MS) {
        const record = await runningEngine.waitFor(
          executionArnOf(names.stateMachineArn, name),
          timeoutMs,
        );
        return {
          status: record.status,
          ...(record.output !== undefined ? { output: JSON.parse(record.output) as unknown } : {}),
          ...(record.error ? { error: record.error } : {}),
          ...(record.cause ? { cause: record.cause } : {}),
        };
      },
      stop() {
        stopped ??= stopAll().finally(() => {
          runningStack = undefined;
        });
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
