// The Debian aws CLI, an independent client, sees a processed lot in the local stack's S3 and DynamoDB.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { replayLots } from "../../cli/replay.ts";
import type { LocalStack } from "../../local/stack.ts";
import { AlertSchema } from "../../schemas/alert.ts";
import { type AwsCli, assertAwsCliInstalled, awsCli } from "./helpers/awscli.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-e2e");

describe("a lot seen through the aws CLI", () => {
  let stack: LocalStack;
  let lotDir: string;
  const lotId = "AWSCLI-LOT-1";

  let aws: AwsCli;

  beforeAll(async () => {
    assertAwsCliInstalled();
    stack = sharedStack();
    aws = awsCli(stack);
    lotDir = mkdtempSync(join(tmpdir(), "waferflow-awscli-"));
    const truth = JSON.parse(readFileSync(join(FIXTURE, "truth.json"), "utf8")) as {
      wafers: Array<{ fileName: string }>;
    };
    for (const wafer of truth.wafers.slice(0, 2))
      cpSync(join(FIXTURE, wafer.fileName), join(lotDir, wafer.fileName));
    writeFileSync(join(lotDir, "lot.json"), JSON.stringify({ lotId, product: "awscli-check" }));
    const [outcome] = await replayLots([lotDir], { stack, timeoutMs: 300_000, log: () => {} });
    assert.equal(outcome?.ending?.kind, "report", outcome?.problem);
  });
  afterAll(async () => {
    await aws?.close();
    if (lotDir) rmSync(lotDir, { recursive: true, force: true });
  });

  it("lists the lot's images, manifest, intermediate results and report", async () => {
    const listing = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      `lots/${lotId}/`,
    )) as {
      Contents: Array<{ Key: string }>;
    };
    const keys = listing.Contents.map((c) => c.Key).sort();
    assert.ok(keys.includes(`lots/${lotId}/manifest.json`));
    assert.ok(keys.includes(`lots/${lotId}/report.json`));
    assert.equal(keys.filter((k) => k.includes("/images/")).length, 2);
    // Preprocessing only verifies: the endpoint reads the originals, so nothing is written beside them.
    assert.equal(keys.filter((k) => k.includes("/preprocessed/")).length, 0);
    assert.equal(keys.filter((k) => k.includes("/results/")).length, 2);
  });

  it("reads the lot's DynamoDB record with its final status and counts", async () => {
    const key = JSON.stringify({ pk: { S: `LOT#${lotId}` }, sk: { S: "LOT" } });
    const item = (await aws(
      "dynamodb",
      stack.endpoints.dynamodb,
      "get-item",
      "--table-name",
      stack.names.table,
      "--key",
      key,
    )) as {
      Item: Record<string, { S?: string; N?: string; M?: Record<string, { N?: string }> }>;
    };
    assert.ok(
      ["DEFECTS_FOUND", "CLEAN"].includes(item.Item.status?.S ?? ""),
      `status ${item.Item.status?.S}`,
    );
    assert.equal(item.Item.counts?.M?.images?.N, "2");
    assert.equal(item.Item.reportKey?.S, `lots/${lotId}/report.json`);
    const images = (await aws(
      "dynamodb",
      stack.endpoints.dynamodb,
      "query",
      "--table-name",
      stack.names.table,
      "--key-condition-expression",
      "pk = :pk AND begins_with(sk, :image)",
      "--expression-attribute-values",
      JSON.stringify({ ":pk": { S: `LOT#${lotId}` }, ":image": { S: "IMAGE#" } }),
    )) as {
      Count: number;
    };
    assert.equal(images.Count, 2);
  });

  it("quarantines a bad manifest put by the aws CLI and alerts on it", async () => {
    const alerts: unknown[] = [];
    // The stack is shared: only this lot's alerts count.
    const stop = stack.onMessage("alerts", (m) => {
      const alert = JSON.parse(m.message) as { lotId?: string };
      if (alert.lotId === "BAD-LOT") alerts.push(alert);
    });
    const bad = join(lotDir, "bad-manifest.json");
    writeFileSync(bad, JSON.stringify({ schemaVersion: 1, lotId: "BAD-LOT", images: [] }));
    await aws(
      "s3",
      stack.endpoints.s3,
      "cp",
      bad,
      `s3://${stack.names.bucket}/lots/BAD-LOT/manifest.json`,
    );
    // Up to two minutes, not ten seconds: the shared stack runs other files' lots at the same time,
    // and on a loaded machine StartLot's quarantine may wait behind them.
    for (let waited = 0; waited < 120_000 && alerts.length === 0; waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    stop();
    const alert = AlertSchema.parse(alerts[0]);
    assert.equal(alert.kind, "manifest_quarantined");
    assert.equal(alert.lotId, "BAD-LOT");
    assert.ok(
      alert.problems?.some((p) => p.startsWith("createdAt")),
      JSON.stringify(alert.problems),
    );
    const listing = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      "quarantine/",
    )) as {
      Contents: Array<{ Key: string }>;
    };
    assert.ok(listing.Contents.some((c) => c.Key === alert.key));
    const original = (await aws(
      "s3api",
      stack.endpoints.s3,
      "list-objects-v2",
      "--bucket",
      stack.names.bucket,
      "--prefix",
      "lots/BAD-LOT/",
    )) as { Contents?: unknown[] } | undefined;
    assert.equal(original?.Contents?.length ?? 0, 0);
  });
});
