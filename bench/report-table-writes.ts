// The report's table writes for a 1000-image lot, one UpdateItem per image against 25 items per BatchWriteItem, in CPU seconds of one process (client and the local stack's DynamoDB), same run.
//
//   node bench/report-table-writes.ts [--rounds 3]
import { commandLineOrExit } from "../lib/cli.ts";

const IMAGES = 1000;
/** updateItem's callers ran eight at a time (mapLimited(..., 8)). */
const UPDATE_CONCURRENCY = 8;
const { values } = commandLineOrExit(
  "bench/report-table-writes.ts",
  "Usage: node bench/report-table-writes.ts [--rounds n]   (default 3)",
  process.argv.slice(2),
  { rounds: { type: "string", default: "3" } },
);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error("--rounds must be a whole number >= 1");
// Loaded once the command line is read: --help and usage errors start no stack and load no SDK.
const { batchPut, imageItemKey, recordedImageItem, updateItem } = await import(
  "../functions/lot-table.ts"
);
const { createDocumentClient } = await import("../lib/aws.ts");
const { startLocalStack } = await import("../local/stack.ts");

const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const outcome = {
  status: "FAILED",
  defectCount: 0,
  error: { name: "ImageSizeError", message: "image is 64 x 64 px; the spec needs at least 1024" },
  updatedAt: new Date().toISOString(),
};
const image = (lotId: string, i: number) => ({
  fileName: `wafer-${String(i).padStart(4, "0")}.png`,
  key: `lots/${lotId}/images/wafer-${i}.png`,
  sha256: "a".repeat(64),
  bytes: 4096,
});

const stack = await startLocalStack({ ephemeral: true, startEndpoint: false, log: () => {} });
try {
  const db = createDocumentClient();
  const table = stack.names.table;
  for (let round = 1; round <= rounds; round++) {
    const updateLot = `UPDATE-${round}`;
    let started = cpuSeconds();
    for (let i = 0; i < IMAGES; i += UPDATE_CONCURRENCY) {
      await Promise.all(
        Array.from({ length: UPDATE_CONCURRENCY }, (_, k) =>
          updateItem(db, table, imageItemKey(updateLot, image(updateLot, i + k).fileName), outcome),
        ),
      );
    }
    const updates = cpuSeconds() - started;
    const batchLot = `BATCH-${round}`;
    started = cpuSeconds();
    await batchPut(
      db,
      table,
      Array.from({ length: IMAGES }, (_, i) => ({
        ...recordedImageItem(batchLot, i, image(batchLot, i)),
        ...outcome,
      })),
    );
    const batches = cpuSeconds() - started;
    console.log(
      `round ${round}: ${IMAGES} UpdateItem ${updates.toFixed(2)} s CPU, ${IMAGES / 25} BatchWriteItem ${batches.toFixed(2)} s CPU (${(batches / updates).toFixed(2)}x)`,
    );
  }
} finally {
  await stack.stop();
}
