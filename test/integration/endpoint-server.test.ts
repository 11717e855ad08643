// Integration tests of the model server on 127.0.0.1: real wafer images over fetch and the real SageMaker runtime client.
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import {
  InvokeEndpointCommand,
  ModelError,
  SageMakerRuntimeClient,
} from "@aws-sdk/client-sagemaker-runtime";
import sharp from "sharp";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { DetectionResult, WaferModel } from "../../endpoint/models/model.ts";
import { startEndpointServer } from "../../endpoint/server.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { InvocationResponseSchema, UnusableResponseSchema } from "../../schemas/detection.ts";
import { generateWafer } from "../../synth/generate.ts";

const ENDPOINT_NAME = "waferflow-test";

function sageMakerClient(url: string): SageMakerRuntimeClient {
  return new SageMakerRuntimeClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

async function plainImage(width: number, height: number, format: "png" | "tiff"): Promise<Buffer> {
  const image = sharp(Buffer.alloc(width * height, 128), { raw: { width, height, channels: 1 } });
  return format === "png" ? image.png().toBuffer() : image.tiff().toBuffer();
}

/** A detection result for a stub model: these tests are about the server, not the detector. */
const stubResult = (image: GrayImage): DetectionResult => ({
  wafer: {
    imageWidth: image.width,
    imageHeight: image.height,
    centerPx: { x: image.width / 2, y: image.height / 2 },
    radiusPx: image.width * 0.45,
    diameterMm: 300,
    mmPerPx: 300 / (image.width * 0.9),
    notchAngleDeg: 90,
    notchSource: "detected",
    surface: "bare",
    diePitchPx: null,
    noiseSigma: 0.01,
    waferLevel: 0.5,
  },
  defects: [],
  timingMs: {},
});

// This file checks the default, one inference thread per core: the other tests' single thread
// (WAFERFLOW_INFERENCE_THREADS in vitest.config.ts) is not for it. Its own process, so only here.
delete process.env.WAFERFLOW_INFERENCE_THREADS;

/**
 * A stub model whose first detection signals `detecting` and every detection waits until
 * `release()`: a test holds the inference thread busy while it looks at the queue.
 */
function gatedModel(): { model: WaferModel; detecting: Promise<void>; release: () => void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started: () => void = () => {};
  const detecting = new Promise<void>((resolve) => {
    started = resolve;
  });
  const model: WaferModel = {
    info: { name: "gated", version: "1" },
    load: async () => {},
    detect: async (image) => {
      started();
      await gate;
      return stubResult(image);
    },
  };
  return { model, detecting, release: () => release() };
}

describe("endpoint server", () => {
  const logLines: string[] = [];
  let server: Awaited<ReturnType<typeof startEndpointServer>>;
  let client: SageMakerRuntimeClient;
  let png: Buffer;
  let tiff: Buffer;
  /** The smallest side the spec takes, for the concurrency test: a quarter of the detector's work. */
  let smallPng: Buffer;
  let pngTruthCount = 0;

  beforeAll(async () => {
    server = await startEndpointServer({
      port: 0,
      endpointName: ENDPOINT_NAME,
      log: (line) => logLines.push(line),
    });
    client = sageMakerClient(server.url);
    const pngWafer = await generateWafer(11, 0, { size: 1024, format: "png", clean: false });
    const tiffWafer = await generateWafer(11, 1, { size: 1024, format: "tiff", bitDepth: 16 });
    const smallWafer = await generateWafer(11, 2, { size: 512, format: "png", clean: false });
    png = pngWafer.bytes;
    tiff = tiffWafer.bytes;
    smallPng = smallWafer.bytes;
    pngTruthCount = pngWafer.truth.defects.length;
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  const invoke = (
    body: Uint8Array | string,
    headers: Record<string, string>,
    path = "/invocations",
  ) => fetch(`${server.url}${path}`, { method: "POST", body, headers });

  it("binds 127.0.0.1 and answers /ping once the model is loaded", async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${server.url}/ping`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { status: string }).status, "ok");
  });

  it("finds the wafer and defects in a generated PNG over /invocations", async () => {
    const response = await invoke(png, {
      "content-type": "image/png",
      "x-amzn-sagemaker-custom-attributes": "notch_angle_deg=90;wafer_diameter_mm=300",
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-amzn-invoked-production-variant"), "AllTraffic");
    const body = InvocationResponseSchema.parse(await response.json());
    assert.equal(body.model.name, "waferflow-classical");
    assert.equal(body.wafer.imageWidth, 1024);
    assert.equal(body.wafer.notchSource, "metadata");
    assert.equal(body.wafer.notchAngleDeg, 90);
    assert.ok(pngTruthCount > 0);
    assert.ok(body.defects.length > 0, "a defective wafer came back without defects");
    assert.equal(typeof body.timingMs?.decode, "number");
  });

  it("runs inferences in one worker thread per core and draws the preview and overlay it is asked for", async () => {
    assert.equal(server.concurrency, availableParallelism());
    const [withPreview, without] = await Promise.all([
      invoke(tiff, {
        "content-type": "image/tiff",
        "x-amzn-sagemaker-custom-attributes": "preview_px=256;overlay_px=512",
      }),
      invoke(tiff, { "content-type": "image/tiff" }),
    ]);
    assert.equal(withPreview.status, 200);
    const body = InvocationResponseSchema.parse(await withPreview.json());
    assert.ok(body.preview, "a preview was asked for");
    assert.equal(Math.max(body.preview.width, body.preview.height), 256);
    const meta = await sharp(Buffer.from(body.preview.data, "base64")).metadata();
    assert.equal(meta.format, "webp");
    assert.equal(meta.width, body.preview.width);
    // The overlay: the same raster at its own size, in colour (the marks), drawn on the thread.
    assert.ok(body.overlay, "an overlay was asked for");
    assert.equal(Math.max(body.overlay.width, body.overlay.height), 512);
    const drawn = await sharp(Buffer.from(body.overlay.data, "base64")).metadata();
    assert.equal(drawn.format, "webp");
    assert.equal(drawn.width, body.overlay.width);
    assert.equal(drawn.channels, 3);
    assert.equal(typeof body.timingMs?.overlay, "number");
    const plain = InvocationResponseSchema.parse(await without.json());
    assert.equal(plain.preview, undefined);
    assert.equal(plain.overlay, undefined);
    assert.deepEqual(plain.defects, body.defects, "the pictures do not change detection");
  });

  it("reads a 16-bit TIFF sent as application/x-image", async () => {
    const response = await invoke(tiff, { "content-type": "application/x-image" });
    assert.equal(response.status, 200);
    const body = InvocationResponseSchema.parse(await response.json());
    assert.equal(body.wafer.imageHeight, 1024);
  });

  it("answers the real SageMaker runtime client on /endpoints/{name}/invocations", async () => {
    const output = await client.send(
      new InvokeEndpointCommand({
        EndpointName: ENDPOINT_NAME,
        ContentType: "image/png",
        Accept: "application/json",
        Body: png,
        CustomAttributes: "die_pitch_mm=10x10,wafer_diameter_mm=300",
      }),
    );
    assert.equal(output.InvokedProductionVariant, "AllTraffic");
    assert.equal(output.ContentType, "application/json");
    const body = InvocationResponseSchema.parse(JSON.parse(new TextDecoder().decode(output.Body)));
    assert.equal(body.wafer.diameterMm, 300);
  });

  it("refuses an unsupported content type with 415 before reading the body", async () => {
    const response = await invoke(png, { "content-type": "image/jpeg" });
    assert.equal(response.status, 415);
    const body = (await response.json()) as { error: { name: string; message: string } };
    assert.equal(body.error.name, "UnsupportedContentTypeError");
    assert.match(body.error.message, /image\/jpeg/);
  });

  it("refuses a declared type that disagrees with the bytes with 400", async () => {
    const response = await invoke(tiff, { "content-type": "image/png" });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { name: string; message: string } };
    assert.match(body.error.message, /says image\/png but the body is a TIFF/);
  });

  it("refuses a corrupt PNG with 400", async () => {
    const corrupt = Buffer.concat([png.subarray(0, 64), Buffer.alloc(2000, 7)]);
    const response = await invoke(corrupt, { "content-type": "image/png" });
    assert.equal(response.status, 400);
    assert.equal(
      ((await response.json()) as { error: { name: string } }).error.name,
      "ImageDecodeError",
    );
  });

  it("refuses an image smaller than the spec allows with 400 ImageSizeError", async () => {
    const response = await invoke(await plainImage(256, 256, "png"), {
      "content-type": "image/png",
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { name: string; message: string } };
    assert.equal(body.error.name, "ImageSizeError");
    assert.match(body.error.message, /256x256/);
  });

  it("refuses a bad custom attribute with 400 naming it", async () => {
    const response = await invoke(png, {
      "content-type": "image/png",
      "x-amzn-sagemaker-custom-attributes": "wafer_diameter_mm=450",
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { name: string; message: string } };
    assert.equal(body.error.name, "CustomAttributeError");
    assert.match(body.error.message, /wafer_diameter_mm/);
  });

  it("answers 200 `unusable` with the measured reasons when the image holds no wafer", async () => {
    const response = await invoke(await plainImage(1024, 1024, "tiff"), {
      "content-type": "image/tiff",
    });
    assert.equal(response.status, 200);
    const body = UnusableResponseSchema.parse(await response.json());
    assert.ok(body.quality.reasons.some((r) => r.measure === "chuckContrast"));
  });

  it("answers 413 for a body over 6 MB and closes that connection", async () => {
    const response = await invoke(new Uint8Array(6 * 1024 * 1024 + 1), {
      "content-type": "image/png",
    });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(
      ((await response.json()) as { error: { name: string } }).error.name,
      "PayloadTooLargeError",
    );
  });

  it("answers 413 for a chunked body once it passes the limit", async () => {
    const chunk = new Uint8Array(512 * 1024);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 14; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: stream,
      headers: { "content-type": "image/png" },
      duplex: "half",
    } as RequestInit);
    assert.equal(response.status, 413);
    await response.arrayBuffer();
  });

  it("answers 404 for another endpoint name and unknown routes, 405 for wrong methods", async () => {
    const other = await invoke(
      png,
      { "content-type": "image/png" },
      "/endpoints/someone-else/invocations",
    );
    assert.equal(other.status, 404);
    assert.match(
      ((await other.json()) as { error: { message: string } }).error.message,
      /someone-else/,
    );
    assert.equal((await fetch(`${server.url}/nothing`)).status, 404);
    assert.equal((await fetch(`${server.url}/invocations`)).status, 405);
  });

  it("gives the SDK a ModelError carrying the container's status, as SageMaker does", async () => {
    await assert.rejects(
      client.send(
        new InvokeEndpointCommand({
          EndpointName: ENDPOINT_NAME,
          ContentType: "image/png",
          Body: await plainImage(256, 256, "png"),
        }),
      ),
      (error: unknown) =>
        error instanceof ModelError &&
        error.OriginalStatusCode === 400 &&
        /ImageSizeError/.test(error.OriginalMessage ?? ""),
    );
    await assert.rejects(
      client.send(
        new InvokeEndpointCommand({
          EndpointName: ENDPOINT_NAME,
          ContentType: "image/png",
          Body: tiff,
        }),
      ),
      (error: unknown) => error instanceof ModelError && error.OriginalStatusCode === 400,
    );
  });

  it("serves many concurrent requests, and still serves after all the refusals", async () => {
    // Two for each inference thread at once: every thread serves one while another waits. A 512 px
    // wafer: what is checked is the queue and the threads' agreement, not the detector at size.
    const count = 2 * server.concurrency;
    const responses = await Promise.all(
      Array.from({ length: count }, () => invoke(smallPng, { "content-type": "image/png" })),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      Array(count).fill(200),
    );
    const first = InvocationResponseSchema.parse(await responses[0]?.json());
    assert.ok(first.defects.length > 0, "the answers compared hold defects");
    for (const response of responses.slice(1)) {
      const body = InvocationResponseSchema.parse(await response.json());
      assert.deepEqual(body.defects, first.defects, "the same image gave different answers");
    }
    assert.equal((await fetch(`${server.url}/ping`)).status, 200);
  });

  it("logs one JSON line per request with its status", () => {
    // Request lines only: the inference threads log their warm-up on the same stream.
    const entries = logLines
      .map((line) => JSON.parse(line) as { path?: string; status: number })
      .filter((entry) => entry.path !== undefined);
    assert.ok(entries.length > 0);
    assert.ok(entries.some((e) => e.path === "/invocations" && e.status === 413));
    assert.ok(entries.some((e) => e.path === "/invocations" && e.status === 200));
    assert.ok(entries.every((e) => typeof e.status === "number" && e.status >= 200));
    // An answered inference says where its time went: waiting for a thread, and on one.
    const answered = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.path === "/invocations" && entry.status === 200);
    for (const entry of answered) {
      assert.equal(typeof entry.queueDepth, "number", JSON.stringify(entry));
      assert.ok((entry.queueMs as number) >= 0, JSON.stringify(entry));
      assert.ok((entry.runMs as number) > 0, JSON.stringify(entry));
      assert.ok((entry.runMs as number) <= (entry.ms as number), JSON.stringify(entry));
    }
  });
});

describe("endpoint server before its model is loaded", () => {
  it("answers /ping with 503 until load() resolves, and holds invocations until then", async () => {
    let finishLoading: () => void = () => {};
    const loading = new Promise<void>((resolve) => {
      finishLoading = resolve;
    });
    // What is held is the server's gate, not the detector: a model that answers at once, and a
    // plain frame past no quality gate (the detector's own start is the warm-up test's below).
    const wafer = { bytes: await plainImage(512, 512, "png") };
    const server = await startEndpointServer({
      port: 0,
      awaitLoad: false,
      log: () => {},
      qualityGate: false,
      model: {
        info: { name: "held", version: "1" },
        load: () => loading,
        detect: async (image) => stubResult(image),
      },
    });
    try {
      assert.equal((await fetch(`${server.url}/ping`)).status, 503);
      const pending = fetch(`${server.url}/invocations`, {
        method: "POST",
        body: wafer.bytes,
        headers: { "content-type": "image/png" },
      });
      finishLoading();
      await server.ready;
      assert.equal((await fetch(`${server.url}/ping`)).status, 200);
      assert.equal((await pending).status, 200);
    } finally {
      await server.close();
    }
  });

  it("answers /ping with 503 while its inference thread warms up, 200 once warm", async () => {
    const logLines: string[] = [];
    const server = await startEndpointServer({
      port: 0,
      awaitLoad: false,
      modelSpec: "classical",
      inferenceThreads: 1,
      warmupWafers: 1,
      log: (line) => logLines.push(line),
    });
    let warm = false;
    void server.ready.then(() => {
      warm = true;
    });
    try {
      const early = await fetch(`${server.url}/ping`);
      // Asked right after the port is bound: the worker has still to load and inspect its wafer.
      assert.equal(warm, false, "warm-up finished before the first /ping");
      assert.equal(early.status, 503);
      assert.equal(((await early.json()) as { status: string }).status, "loading");
      await server.ready;
      assert.equal((await fetch(`${server.url}/ping`)).status, 200);
      const events = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const warmup = events.find((entry) => entry.event === "inference-worker-warm");
      assert.equal(warmup?.wafers, 1, logLines.join("\n"));
      // The warm event comes before any /ping that answered 200.
      const warmAt = events.indexOf(warmup as Record<string, unknown>);
      const firstOk = events.findIndex((entry) => entry.path === "/ping" && entry.status === 200);
      assert.ok(warmAt >= 0 && warmAt < firstOk);
    } finally {
      await server.close();
    }
  });

  it("rejects at start, with the port released, when the model cannot load", async () => {
    await assert.rejects(
      startEndpointServer({
        port: 0,
        log: () => {},
        model: {
          info: { name: "broken", version: "0" },
          load: async () => {
            throw new Error("weights missing");
          },
          detect: async () => {
            throw new Error("unreachable");
          },
        },
      }),
      /weights missing/,
    );
  });
});

describe("endpoint server under load", () => {
  it("runs 20 concurrent invocations one at a time", async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const model: WaferModel = {
      info: { name: "counting", version: "1" },
      load: async () => {},
      detect: async (image) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return stubResult(image);
      },
    };
    // Plain frames reach the stub model: this tests the queue, not the quality gate.
    const server = await startEndpointServer({ port: 0, model, log: () => {}, qualityGate: false });
    try {
      const png = await plainImage(512, 512, "png");
      const statuses = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const response = await fetch(`${server.url}/invocations`, {
            method: "POST",
            body: png,
            headers: { "content-type": "image/png" },
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      assert.deepEqual(statuses, Array(20).fill(200));
      assert.equal(mostInFlight, 1);
    } finally {
      await server.close();
    }
  });

  it("reads S3 references a few ahead of the model, not all at once, and logs the wait", async () => {
    const { model, detecting, release } = gatedModel();
    const png = await plainImage(512, 512, "png");
    let reads = 0;
    const logLines: string[] = [];
    const server = await startEndpointServer({
      port: 0,
      model,
      log: (line) => logLines.push(line),
      qualityGate: false,
      imageSource: {
        bucket: "lot-bucket",
        read: async () => {
          reads++;
          return png;
        },
      },
    });
    try {
      const send = (i: number) =>
        fetch(`${server.url}/invocations`, {
          method: "POST",
          body: JSON.stringify({ s3Uri: `s3://lot-bucket/lots/L1/images/w${i}.png` }),
          headers: { "content-type": "application/json" },
        });
      const answers = [0, 1, 2, 3, 4, 5].map(send);
      await detecting;
      // The two read-aheads come as their requests arrive, which a loaded machine may delay past
      // any fixed wait: wait for them (the test's timeout is the limit), then give the other three
      // time to be read if nothing held them back. A slow machine can only make that last wait
      // prove less, never fail.
      while (reads < 3) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // One model thread: the image on it and two read ahead.
      assert.equal(reads, 3, "images read while the model holds one");
      release();
      assert.deepEqual(
        (await Promise.all(answers)).map((answer) => answer.status),
        Array(6).fill(200),
      );
      assert.equal(reads, 6);
      const entries = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => entry.path === "/invocations");
      assert.equal(entries.length, 6);
      assert.ok(entries.every((entry) => typeof entry.readWaitMs === "number"));
      assert.ok(entries.every((entry) => typeof entry.fetchMs === "number"));
    } finally {
      release();
      await server.close();
    }
  });

  it("answers 503 when more requests wait than the queue allows, and serves again after", async () => {
    const { model, detecting, release } = gatedModel();
    const server = await startEndpointServer({
      port: 0,
      model,
      maxQueuedRequests: 1,
      log: () => {},
      qualityGate: false,
    });
    try {
      const png = await plainImage(512, 512, "png");
      const send = () =>
        fetch(`${server.url}/invocations`, {
          method: "POST",
          body: png,
          headers: { "content-type": "image/png" },
        });
      const first = send();
      await detecting;
      const refused = await send();
      assert.equal(refused.status, 503);
      assert.equal(
        ((await refused.json()) as { error: { name: string } }).error.name,
        "QueueFullError",
      );
      release();
      assert.equal((await first).status, 200);
      assert.equal((await send()).status, 200);
    } finally {
      await server.close();
    }
  });
});
