// A lot the workflow cannot process ends FAILED: marked in DynamoDB, reported and alerted, never left hanging.
import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, it } from "vitest";
import { createDocumentClient, createS3Client, createSfnClient } from "../../lib/aws.ts";
import type { LocalStack } from "../../local/stack.ts";
import { AlertSchema } from "../../schemas/alert.ts";
import { ReportSchema } from "../../schemas/report.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

describe("a lot that fails", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = sharedStack();
  });

  it("is caught, marked FAILED, reported as failed and alerted", async () => {
    const lotId = "BROKEN-LOT-1";
    // The stack is shared: only this lot's messages count.
    const reports: unknown[] = [];
    const alerts: unknown[] = [];
    const ofLot = (into: unknown[]) => (m: { message: string }) => {
      const parsed = JSON.parse(m.message) as { lotId?: string };
      if (parsed.lotId === lotId) into.push(parsed);
    };
    const stopReports = stack.onMessage("reports", ofLot(reports));
    const stopAlerts = stack.onMessage("alerts", ofLot(alerts));
    // A manifest the start function would never accept (no images), stored where no event
    // fires and started by hand to reach the Catch.
    const manifestKey = `lots/${lotId}/accepted-manifest.json`;
    await createS3Client().send(
      new PutObjectCommand({
        Bucket: stack.names.bucket,
        Key: manifestKey,
        Body: JSON.stringify({
          schemaVersion: 1,
          lotId,
          createdAt: new Date().toISOString(),
          source: { agent: "test" },
          metadata: {},
          images: [],
        }),
      }),
    );
    await createSfnClient().send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.stateMachineArn,
        name: lotId,
        input: JSON.stringify({ lotId, manifestKey }),
      }),
    );
    const outcome = await stack.waitForExecution(lotId, 60_000);
    stopReports();
    stopAlerts();
    assert.equal(outcome.status, "FAILED");
    assert.equal(outcome.error, "LotFailed");

    const report = ReportSchema.parse(reports[0]);
    assert.equal(report.status, "failed");
    assert.equal(report.error?.name, "ManifestInvalidError");
    assert.match(report.error?.message ?? "", /images/);
    const alert = AlertSchema.parse(alerts[0]);
    assert.equal(alert.kind, "lot_failed");
    assert.equal(alert.lotId, lotId);

    const item = await createDocumentClient().send(
      new GetCommand({ TableName: stack.names.table, Key: { pk: `LOT#${lotId}`, sk: "LOT" } }),
    );
    assert.equal(item.Item?.status, "FAILED");
    assert.equal(item.Item?.reportKey, report.reportKey);
  });
});
