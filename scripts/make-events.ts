// Writes events/*.json, one fixture event per function, from the committed e2e lot, for `sam local invoke`.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { inspectImageBytes } from "../functions/preprocess-image/core.ts";
import { REPO_ROOT } from "../infra/template.ts";
import { lotKeys } from "../lib/keys.ts";
import { LotFileSchema, type Manifest, ManifestSchema } from "../schemas/lot.ts";
import type { ImageOutcome } from "../schemas/workflow.ts";

const LOT_DIR = resolve(REPO_ROOT, "test/fixtures/lot-e2e");
const EVENTS_DIR = resolve(REPO_ROOT, "events");
/** sam local invoke talks to real AWS: the bucket is a placeholder replaced at deploy time. */
const BUCKET = "waferflow-lots-123456789012-eu-west-1";
const EXECUTION_ID = "arn:aws:states:eu-west-1:123456789012:execution:waferflow-lot-waferflow:";

const lotFile = LotFileSchema.parse(JSON.parse(readFileSync(join(LOT_DIR, "lot.json"), "utf8")));
const lotId = lotFile.lotId ?? "FIXTURE-LOT";
const { lotId: _ignored, ...metadata } = lotFile;
const images = readdirSync(LOT_DIR)
  .filter((name) => /\.(png|tiff?)$/i.test(name))
  .sort()
  .map((fileName) => {
    const bytes = readFileSync(join(LOT_DIR, fileName));
    return {
      fileName,
      key: lotKeys.image(lotId, fileName),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: statSync(join(LOT_DIR, fileName)).size,
      contentType: fileName.endsWith(".png") ? ("image/png" as const) : ("image/tiff" as const),
    };
  });
const manifest: Manifest = ManifestSchema.parse({
  schemaVersion: 1,
  lotId,
  createdAt: "2026-11-26T08:00:00.000Z",
  source: { agent: "waferflow-edge-agent/0.1.0", host: "line-7" },
  metadata,
  images,
});
const [first] = manifest.images;
if (!first) throw new Error("the fixture lot has no images");

const events: Record<string, unknown> = {
  "manifest-created": {
    version: "0",
    id: "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "123456789012",
    time: "2026-11-26T08:00:01Z",
    region: "eu-west-1",
    resources: [`arn:aws:s3:::${BUCKET}`],
    detail: {
      version: "0",
      bucket: { name: BUCKET },
      object: {
        key: lotKeys.manifest(lotId),
        size: 2048,
        etag: "d41d8cd98f00b204e9800998ecf8427e",
      },
      "request-id": "N4N7GDK58NMKJ12R",
      requester: "123456789012",
      reason: "PutObject",
    },
  },
  "record-lot": {
    lotId,
    manifestKey: lotKeys.manifest(lotId),
    metadata,
    images,
    executionId: `${EXECUTION_ID}${lotId}`,
    startedAt: "2026-11-26T08:00:02.000Z",
  },
  "preprocess-image": { lotId, metadata, image: first },
  "detect-defects": {
    lotId,
    metadata,
    image: first,
    // What PreprocessImage answers for this image: read from its header, as the function does.
    preprocessed: await inspectImageBytes(readFileSync(join(LOT_DIR, first.fileName))),
  },
  "publish-report": {
    lotId,
    executionId: `${EXECUTION_ID}${lotId}`,
    results: images.map(
      (image): ImageOutcome => ({
        status: "clean",
        fileName: image.fileName,
        key: image.key,
        resultKey: lotKeys.result(lotId, image.fileName),
        defectCount: 0,
      }),
    ),
  },
  "fail-lot": {
    lotId,
    executionId: `${EXECUTION_ID}${lotId}`,
    images,
    error: { Error: "States.Timeout", Cause: "the lot did not finish within 3600 s" },
  },
};
for (const [name, event] of Object.entries(events)) {
  writeFileSync(join(EVENTS_DIR, `${name}.json`), `${JSON.stringify(event, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(events).length} events for lot ${lotId} to ${EVENTS_DIR}`);
