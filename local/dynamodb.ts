// Starts the local DynamoDB (dynalite) and creates the template's tables in it.
import type { Server } from "node:http";
import { createRequire } from "node:module";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { ServiceStartError, TemplateError } from "./errors.ts";
import { startFront } from "./front.ts";
import { closeServer, listen } from "./http.ts";
import type { LocalTable } from "./model.ts";
import { LOCAL_REGION } from "./model.ts";
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
function jsonError(code: string, status: number, message: string) {
  return {
    status,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": code },
    body: JSON.stringify({ __type: `com.amazon.coral.service#${code}`, message }),
  };
}

/** The parts of AWS::DynamoDB::Table that shape data access; SSE, PITR, tags do not matter locally. */
export function createTableInput(table: LocalTable): CreateTableCommandInput {
  const p = table.properties;
  if (!Array.isArray(p.KeySchema) || !Array.isArray(p.AttributeDefinitions)) {
    throw new TemplateError(`${table.logicalId}: needs KeySchema and AttributeDefinitions`);
  }
  const throughput = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const onDemand = p.BillingMode === "PAY_PER_REQUEST";
  const withThroughput = (index: Record<string, unknown>) =>
    onDemand ? index : { ProvisionedThroughput: throughput, ...index };
  return {
    TableName: table.name,
    KeySchema: p.KeySchema as CreateTableCommandInput["KeySchema"],
    AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput["AttributeDefinitions"],
    ...(onDemand
      ? { BillingMode: "PAY_PER_REQUEST" }
      : { ProvisionedThroughput: (p.ProvisionedThroughput as typeof throughput) ?? throughput }),
    ...(Array.isArray(p.GlobalSecondaryIndexes)
      ? {
          GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map(
            withThroughput,
          ) as unknown as CreateTableCommandInput["GlobalSecondaryIndexes"],
        }
      : {}),
    ...(Array.isArray(p.LocalSecondaryIndexes)
      ? {
          LocalSecondaryIndexes:
            p.LocalSecondaryIndexes as CreateTableCommandInput["LocalSecondaryIndexes"],
        }
      : {}),
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
    refusal: (error) => {
      const { code, status } = jsonProtocolError(error);
      return jsonError(code, status, error.message);
    },
    unreachable: (error) => jsonError("InternalServerError", 500, error.message),
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
    if (cause instanceof TemplateError) throw cause;
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
