// Starts the local DynamoDB (dynalite) and creates the template's tables in it.
import type { Server } from "node:http";
import { createRequire } from "node:module";
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./account.ts";
import { ServiceApiError, ServiceStartError } from "./errors.ts";
import { startFront } from "./front.ts";
import { closeServer, jsonErrorReply, type LocalService, listen } from "./http.ts";
import type { LocalTable } from "./resource-model.ts";
import { jsonProtocolError } from "./sigv4.ts";

const require = createRequire(import.meta.url);
const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;

/** The SDK's waiter for ACTIVE, in seconds: dynalite creates tables at once (createTableMs 0). */
const TABLE_ACTIVE_WAIT = { maxWaitTime: 10, minDelay: 0.02, maxDelay: 0.2 };
/** DynamoDB's own cap on a request (BatchWriteItem of 25 items of 400 KB is 10 MB). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export async function startDynamoDb(options: {
  port: number;
  /** LevelDB directory; in memory when undefined. */
  directory: string | undefined;
  tables: LocalTable[];
  log: (line: string) => void;
}): Promise<LocalService> {
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
    maxBodyBytes: MAX_REQUEST_BYTES,
    refusal: jsonProtocolError,
    replyError: jsonErrorReply(
      "application/x-amz-json-1.0",
      (code) => `com.amazon.coral.service#${code}`,
    ),
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
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    for (const table of options.tables) {
      try {
        // Keys only: SSE and PITR only matter to a real account.
        const { name: TableName, keySchema: KeySchema, attributeDefinitions } = table;
        await client.send(
          new CreateTableCommand({
            TableName,
            KeySchema,
            AttributeDefinitions: attributeDefinitions,
            BillingMode: "PAY_PER_REQUEST",
          }),
        );
      } catch (error) {
        // A persisted data dir keeps its tables from the last run.
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilTableExists({ client, ...TABLE_ACTIVE_WAIT }, { TableName: table.name });
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
