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
import { closeServer, listen } from "./http.ts";
import type { LocalTable } from "./model.ts";
import { LOCAL_REGION } from "./model.ts";

const require = createRequire(import.meta.url);
const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;

export interface LocalDynamoDb {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const TABLE_ACTIVE_WAIT_MS = 10_000;

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
}): Promise<LocalDynamoDb> {
  const server = dynalite({
    ...(options.directory ? { path: options.directory } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listen(server, options.port, "DynamoDB");
  const url = `http://127.0.0.1:${port}`;
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
    await closeServer(server);
    if (cause instanceof TemplateError) throw cause;
    throw new ServiceStartError(`cannot create the local DynamoDB tables: ${String(cause)}`, {
      cause,
    });
  } finally {
    client.destroy();
  }
  return { url, port, stop: () => closeServer(server) };
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
