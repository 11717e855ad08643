// Starts the local DynamoDB (dynalite) and creates the template's tables in it.
import type { Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { LOCAL_REGION } from "./account.ts";
import { ServiceApiError, ServiceStartError } from "./errors.ts";
import { startFront } from "./front.ts";
import { closeServer, listen } from "./http.ts";
import type { LocalTable } from "./resource-model.ts";
import { jsonProtocolError } from "./sigv4.ts";

const require = createRequire(import.meta.url);
const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;

export interface LocalDynamoDb {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const TABLE_ACTIVE_WAIT_MS = 10_000;
/** DynamoDB's own cap on a request (BatchWriteItem of 25 items of 400 KB is 10 MB). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** An awsJson1_0 error as DynamoDB writes it. */
function replyError(response: ServerResponse, error: ServiceApiError): void {
  response
    .writeHead(error.statusCode, {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-errortype": error.code,
    })
    .end(
      JSON.stringify({ __type: `com.amazon.coral.service#${error.code}`, message: error.message }),
    );
}

/** The table as the template declares it: keys only (SSE and PITR only matter to a real account). */
export function createTableInput(table: LocalTable): CreateTableCommandInput {
  return {
    TableName: table.name,
    KeySchema: table.keySchema,
    AttributeDefinitions: table.attributeDefinitions,
    BillingMode: "PAY_PER_REQUEST",
  };
}

export async function startDynamoDb(options: {
  port: number;
  /** LevelDB directory; in memory when undefined. */
  directory: string | undefined;
  tables: LocalTable[];
  credentials: { accessKeyId: string; secretAccessKey: string };
  log: (line: string) => void;
}): Promise<LocalDynamoDb> {
  const server = dynalite({
    ...(options.directory ? { path: options.directory } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  // dynalite checks no signature: it listens on a private port behind a front that does.
  const innerPort = await listen(server, 0, "DynamoDB (dynalite)");
  const front = await startFront({
    port: options.port,
    label: "DynamoDB",
    targetPort: () => innerPort,
    credentials: options.credentials,
    maxBodyBytes: MAX_REQUEST_BYTES,
    refusal: jsonProtocolError,
    replyError,
    unreachable: (error) => new ServiceApiError("InternalServerError", error.message, 500),
    log: options.log,
  });
  const stop = async () => {
    await front.stop();
    await closeServer(server);
  };
  const port = front.port;
  const url = front.url;
  const client = new DynamoDBClient({
    endpoint: url,
    region: LOCAL_REGION,
    credentials: options.credentials,
  });
  try {
    for (const table of options.tables) {
      try {
        await client.send(new CreateTableCommand(createTableInput(table)));
      } catch (error) {
        // A persisted data dir keeps its tables from the last run.
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilActive(client, table.name);
    }
  } catch (cause) {
    await stop();
    throw new ServiceStartError(`cannot create the local DynamoDB tables: ${String(cause)}`, {
      cause,
    });
  } finally {
    client.destroy();
  }
  return { url, port, stop };
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + TABLE_ACTIVE_WAIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    if (Date.now() > deadline) {
      throw new ServiceStartError(`table ${tableName} is still ${Table?.TableStatus}`);
    }
    await new Promise((done) => setTimeout(done, 20));
  }
}
