// The pipeline must not change what the detector sees: each wafer's defects through the embedded stack equal the endpoint's answer to the original file.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { replayLots } from "../../cli/replay.ts";
import { createModel } from "../../endpoint/models/index.ts";
import { startEndpointServer } from "../../endpoint/server.ts";
import { customAttributes } from "../../functions/detect-defects/core.ts";
import type { LocalStack } from "../../local/stack.ts";
import {
  INLINE_IMAGE_MAX_BYTES,
  type InvocationResponse,
  InvocationResponseSchema,
} from "../../schemas/detection.ts";
import { LotFileSchema } from "../../schemas/lot.ts";
import type { Report } from "../../schemas/report.ts";
import { generateWafer } from "../../synth/generate.ts";
import { sharedStack, sharedStackLog } from "./helpers/shared-stack.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/lot-e2e");
/**
 * Three of the fixture lot's six wafers, one of each kind the two paths could treat apart: 8-bit
 * PNG (bare, not square), 16-bit PNG (patterned), TIFF (bare, three defects). What the property
 * turns on is the path (the lot's hints, the S3 reference, the report's copy of each answer), the
 * same for every wafer of a kind; the other three (an 8-bit TIFF without defects, two 8-bit
 * patterned PNGs) are one more detection each on both paths.
 */
const WAFERS = ["wafer-001.png", "wafer-002.png", "wafer-005.tif"];
/** 2048 px at 16 bit: about 7.7 MB, over the inline limit (which an inline-configured DetectDefects keeps to). */
const LARGE_WAFER = "wafer-large-16bit.png";

describe("native path and pipeline path agree", () => {
  let stack: LocalStack;
  let native: Awaited<ReturnType<typeof startEndpointServer>>;
  let lotDir: string;
  let report: Report;
  const sizes = new Map<string, number>();

  beforeAll(async () => {
    lotDir = mkdtempSync(join(tmpdir(), "waferflow-parity-"));
    for (const name of ["lot.json", ...WAFERS]) cpSync(join(FIXTURE, name), join(lotDir, name));
    const lotFile = join(lotDir, "lot.json");
    writeFileSync(
      lotFile,
      JSON.stringify({ ...JSON.parse(readFileSync(lotFile, "utf8")), lotId: "PARITY-1" }),
    );
    const large = await generateWafer(7, 0, { size: 2048, format: "png", bitDepth: 16 });
    writeFileSync(join(lotDir, LARGE_WAFER), large.bytes);
    for (const name of readdirSync(lotDir).filter((n) => /\.(png|tiff?)$/.test(n))) {
      sizes.set(name, readFileSync(join(lotDir, name)).length);
    }
    stack = sharedStack();
    // The endpoint alone, as a customer would call it with the file in hand (any size, no S3).
    // The classical model in this thread: the same runInference an inference thread runs (the
    // stack's endpoint runs it in threads, so the comparison also spans the two), without a thread
    // to start and a detector to compile in it (this worker's other files have compiled it here).
    native = await startEndpointServer({
      port: 0,
      model: createModel("classical"),
      maxBodyBytes: 64 * 1024 * 1024,
      imageSource: null,
      log: () => {},
    });
    const [outcome] = await replayLots([lotDir], { stack, timeoutMs: 300_000, log: () => {} });
    assert.ok(outcome?.ending?.kind === "report", `lot reported: ${outcome?.problem}`);
    report = outcome.ending.report;
  });

  afterAll(async () => {
    await native?.close();
    if (lotDir) rmSync(lotDir, { recursive: true, force: true });
  });

  async function nativeAnswer(fileName: string): Promise<InvocationResponse> {
    const metadata = LotFileSchema.parse(
      JSON.parse(readFileSync(join(lotDir, "lot.json"), "utf8")),
    );
    const attributes = customAttributes(metadata);
    const response = await fetch(`${native.url}/invocations`, {
      method: "POST",
      headers: {
        "content-type": fileName.endsWith(".png") ? "image/png" : "image/tiff",
        ...(attributes ? { "x-amzn-sagemaker-custom-attributes": attributes } : {}),
      },
      body: readFileSync(join(lotDir, fileName)),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return InvocationResponseSchema.parse(await response.json());
  }

  it("sends every wafer, small or over the inline limit, as an S3 reference the endpoint reads", () => {
    assert.ok([...sizes.values()].some((size) => size <= INLINE_IMAGE_MAX_BYTES));
    assert.ok((sizes.get(LARGE_WAFER) ?? 0) > INLINE_IMAGE_MAX_BYTES);
    assert.equal(report.counts.images, sizes.size);
    assert.equal(report.counts.failed, 0, JSON.stringify(report.images.map((i) => i.error)));
    // The endpoint logs the object a reference named (the stack is shared: this lot's lines only);
    // the native path below sends the same files inline.
    const referenced = sharedStackLog().filter(
      (line) => line.includes('"source":"s3://') && line.includes("/lots/PARITY-1/"),
    );
    for (const fileName of sizes.keys()) {
      const lines = referenced.filter((line) => line.includes(`/images/${fileName}"`));
      assert.equal(lines.length, 1, `${fileName}: ${referenced.join("\n")}`);
      assert.match(lines[0] ?? "", /"status":200/);
    }
  });

  it("gives every wafer the same wafer geometry and the same defects", async () => {
    for (const fileName of sizes.keys()) {
      const piped = report.images.find((image) => image.fileName === fileName);
      assert.ok(piped, `${fileName} is in the report`);
      const direct = await nativeAnswer(fileName);
      assert.deepEqual(piped.wafer, direct.wafer, `${fileName}: wafer`);
      assert.deepEqual(piped.defects, direct.defects, `${fileName}: defects`);
      assert.equal(piped.width, direct.wafer.imageWidth, `${fileName}: reported in its own pixels`);
    }
  });
});
