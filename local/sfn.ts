// A local Step Functions API speaking awsJson1_0 (X-Amz-Target: AWSStepFunctions.*) over the execution engine.
import { ServiceApiError } from "./errors.ts";
import type { ExecutionEngine, ExecutionRecord } from "./executions.ts";
import { jsonErrorReply, type LocalService, startService } from "./http.ts";
import { jsonProtocolError } from "./sigv4.ts";

const TARGET_PREFIX = "AWSStepFunctions.";
const MAX_REQUEST_BYTES = 1024 * 1024;

/** awsJson timestamps are epoch seconds. */
const epochSeconds = (iso: string) => Date.parse(iso) / 1000;

function text(body: Record<string, unknown>, field: string, required: true): string;
function text(body: Record<string, unknown>, field: string, required?: false): string | undefined;
function text(body: Record<string, unknown>, field: string, required = false): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw new ServiceApiError("ValidationException", `${field} is required`);
    return undefined;
  }
  if (typeof value !== "string") {
    throw new ServiceApiError("ValidationException", `${field} must be a string`);
  }
  return value;
}

function pageOf<T>(items: T[], body: Record<string, unknown>, defaultSize: number) {
  const size = Math.min(Math.max(Number(body.maxResults ?? 0) || defaultSize, 1), 1000);
  const token = text(body, "nextToken");
  const start = token ? Number.parseInt(Buffer.from(token, "base64").toString("utf8"), 10) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new ServiceApiError("InvalidToken", `Invalid Token: '${token}'`);
  }
  const page = items.slice(start, start + size);
  const next =
    start + size < items.length ? Buffer.from(String(start + size)).toString("base64") : undefined;
  return { page, ...(next ? { nextToken: next } : {}) };
}

function summary(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: epochSeconds(record.startDate),
    ...(record.stopDate ? { stopDate: epochSeconds(record.stopDate) } : {}),
    ...(record.redriveCount ? { redriveCount: record.redriveCount } : {}),
    ...(record.redriveDate ? { redriveDate: epochSeconds(record.redriveDate) } : {}),
  };
}

function describe(record: ExecutionRecord) {
  return {
    ...summary(record),
    input: record.input,
    inputDetails: { included: true },
    ...(record.output !== undefined
      ? { output: record.output, outputDetails: { included: true } }
      : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.cause ? { cause: record.cause } : {}),
  };
}

function operations(engine: ExecutionEngine) {
  return {
    StartExecution(body: Record<string, unknown>) {
      const record = engine.start({
        stateMachineArn: text(body, "stateMachineArn", true),
        ...(text(body, "name") !== undefined ? { name: text(body, "name") } : {}),
        ...(text(body, "input") !== undefined ? { input: text(body, "input") } : {}),
      });
      return { executionArn: record.executionArn, startDate: epochSeconds(record.startDate) };
    },
    DescribeExecution(body: Record<string, unknown>) {
      return describe(engine.get(text(body, "executionArn", true)));
    },
    ListExecutions(body: Record<string, unknown>) {
      const status = text(body, "statusFilter");
      const all = engine
        .list(text(body, "stateMachineArn", true))
        .filter((record) => !status || record.status === status);
      const { page, nextToken } = pageOf(all, body, 100);
      return { executions: page.map(summary), ...(nextToken ? { nextToken } : {}) };
    },
    StopExecution(body: Record<string, unknown>) {
      const record = engine.stopExecution(
        text(body, "executionArn", true),
        text(body, "error"),
        text(body, "cause"),
      );
      return { stopDate: epochSeconds(record.stopDate ?? new Date().toISOString()) };
    },
    RedriveExecution(body: Record<string, unknown>) {
      const record = engine.redrive(text(body, "executionArn", true));
      return { redriveDate: epochSeconds(record.redriveDate ?? new Date().toISOString()) };
    },
    GetExecutionHistory(body: Record<string, unknown>) {
      const record = engine.get(text(body, "executionArn", true));
      const events = record.history.map((event) => ({
        ...event,
        timestamp: epochSeconds(event.timestamp),
      }));
      if (body.reverseOrder === true) events.reverse();
      const { page, nextToken } = pageOf(events, body, 100);
      return { events: page, ...(nextToken ? { nextToken } : {}) };
    },
    ListStateMachines() {
      return {
        stateMachines: engine.stateMachines.map((sm) => ({
          stateMachineArn: sm.arn,
          name: sm.name,
          type: "STANDARD",
          creationDate: 0,
        })),
      };
    },
  } satisfies Record<string, (body: Record<string, unknown>) => unknown>;
}

export async function startSfn(options: {
  port: number;
  engine: ExecutionEngine;
  log: (line: string) => void;
}): Promise<LocalService> {
  const handlers: Record<string, (body: Record<string, unknown>) => unknown> = operations(
    options.engine,
  );

  return startService({
    port: options.port,
    label: "Step Functions",
    maxBodyBytes: MAX_REQUEST_BYTES,
    refusal: jsonProtocolError,
    log: options.log,
    replyError: jsonErrorReply("application/x-amz-json-1.0", (code) => code),
    handle: ({ request, body: bytes }, response) => {
      const target = String(request.headers["x-amz-target"] ?? "");
      const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : "";
      const handler = handlers[operation];
      if (request.method !== "POST" || !handler) {
        throw new ServiceApiError(
          "UnknownOperationException",
          `The local Step Functions does not support '${target}'`,
        );
      }
      const raw = bytes.toString("utf8");
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        throw new ServiceApiError("SerializationException", "request body is not valid JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new ServiceApiError("SerializationException", "request body must be a JSON object");
      }
      const result = handler(body as Record<string, unknown>);
      response
        .writeHead(200, { "content-type": "application/x-amz-json-1.0" })
        .end(JSON.stringify(result));
    },
  });
}
