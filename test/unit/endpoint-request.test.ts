// Unit tests of how the endpoint reads a request: custom-attribute hints, content types and magic bytes, the queue.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { imageFormatOf } from "../../endpoint/content.ts";
import { InvalidHintsError, WaferNotFoundError } from "../../endpoint/detector/errors.ts";
import {
  CustomAttributeError,
  ImageContentError,
  ModelNotLoadedError,
  ModelOutputError,
  PayloadTooLargeError,
  QueueFullError,
  UnknownEndpointError,
  UnsupportedContentTypeError,
} from "../../endpoint/errors.ts";
import { errorAnswer, statusFor } from "../../endpoint/http-errors.ts";
import { createSerialQueue, createWorkQueue } from "../../endpoint/queue.ts";
import { routeOf } from "../../endpoint/routes.ts";
import { parseCustomAttributes, parseInvocationAttributes } from "../../lib/custom-attributes.ts";
import { ImageDecodeError, ImageSizeError } from "../../lib/image-errors.ts";
import { isWebpFile, sniffImageFormat } from "../../lib/image-format.ts";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const TIFF_LE = Uint8Array.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]);
const TIFF_BE = Uint8Array.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]);

describe("parseCustomAttributes", () => {
  it("returns no hints for a missing or blank header", () => {
    assert.deepEqual(parseCustomAttributes(undefined), {});
    assert.deepEqual(parseCustomAttributes("  "), {});
  });

  it("reads all three hints separated by ';' or ',' with spaces and any key case", () => {
    assert.deepEqual(
      parseCustomAttributes("notch_angle_deg=90; Wafer_Diameter_MM=200 , die_pitch_mm=10x12.5"),
      { notchAngleDeg: 90, waferDiameterMm: 200, diePitchMm: { x: 10, y: 12.5 } },
    );
  });

  it("takes a single die pitch for both axes", () => {
    assert.deepEqual(parseCustomAttributes("die_pitch_mm=8"), { diePitchMm: { x: 8, y: 8 } });
  });

  it("brings notch angles outside 0-360 into range, since angles are periodic", () => {
    assert.deepEqual(parseCustomAttributes("notch_angle_deg=-90"), { notchAngleDeg: 270 });
    assert.deepEqual(parseCustomAttributes("notch_angle_deg=450"), { notchAngleDeg: 90 });
  });

  const refusals: Array<[string, RegExp]> = [
    ["notch_angle_deg=ninety", /notch_angle_deg: 'ninety' is not a number/],
    ["notch_angle_deg=0x10", /notch_angle_deg: '0x10' is not a number/],
    ["wafer_diameter_mm=450", /wafer_diameter_mm.*200 or 300/],
    ["die_pitch_mm=0", /die_pitch_mm/],
    ["die_pitch_mm=3x4x5", /die_pitch_mm: '3x4x5' is not N or NxM/],
    ["die_pitch_mm=3xabc", /die_pitch_mm: 'abc' is not a number/],
    ["notch_angle=90", /unknown custom attribute 'notch_angle'/],
    ["notch_angle_deg", /'notch_angle_deg' is not a key=value pair/],
    ["notch_angle_deg=", /notch_angle_deg has no value/],
    ["notch_angle_deg=1;notch_angle_deg=2", /notch_angle_deg is given twice/],
    [`notch_angle_deg=${"1".repeat(1100)}`, /at most 1024/],
    ["preview_px=0", /preview_px: '0' must be a whole number of pixels from 1 to 2048/],
    ["preview_px=4096", /preview_px: '4096' must be/],
    ["preview_px=512.5", /preview_px: '512.5' must be/],
    ["overlay_px=0", /overlay_px: '0' must be a whole number of pixels from 1 to 2048/],
    ["overlay_px=1024;overlay_px=512", /overlay_px is given twice/],
  ];
  it("reads the preview and overlay sizes apart from the detection hints", () => {
    assert.deepEqual(parseInvocationAttributes("preview_px=1024;notch_angle_deg=90"), {
      hints: { notchAngleDeg: 90 },
      previewMaxSide: 1024,
    });
    assert.deepEqual(parseInvocationAttributes("notch_angle_deg=90"), {
      hints: { notchAngleDeg: 90 },
    });
    assert.deepEqual(parseCustomAttributes("preview_px=256"), {});
    assert.deepEqual(parseInvocationAttributes("overlay_px=1024;die_pitch_mm=8;preview_px=256"), {
      hints: { diePitchMm: { x: 8, y: 8 } },
      previewMaxSide: 256,
      overlayMaxSide: 1024,
    });
  });
  for (const [header, message] of refusals) {
    it(`refuses '${header.slice(0, 40)}' naming what is wrong`, () => {
      assert.throws(
        () => parseCustomAttributes(header),
        (error: unknown) => error instanceof CustomAttributeError && message.test(error.message),
      );
    });
  }
});

describe("sniffImageFormat", () => {
  it("recognises PNG and both TIFF byte orders", () => {
    assert.equal(sniffImageFormat(PNG), "png");
    assert.equal(sniffImageFormat(TIFF_LE), "tiff");
    assert.equal(sniffImageFormat(TIFF_BE), "tiff");
  });

  it("recognises nothing else, nor truncated magic", () => {
    assert.equal(sniffImageFormat(JPEG), undefined);
    assert.equal(sniffImageFormat(PNG.subarray(0, 4)), undefined);
    assert.equal(sniffImageFormat(new Uint8Array(0)), undefined);
  });
});

describe("isWebpFile", () => {
  it("takes a RIFF container of WEBP, nothing else, nor a truncated one", () => {
    const riff = (kind: string) =>
      new TextEncoder().encode(`RIFF\u0004\u0000\u0000\u0000${kind}VP8 `);
    assert.equal(isWebpFile(riff("WEBP")), true);
    assert.equal(isWebpFile(riff("WAVE")), false);
    assert.equal(isWebpFile(riff("WEBP").subarray(0, 11)), false);
    assert.equal(isWebpFile(PNG), false);
  });
});

describe("imageFormatOf", () => {
  it("accepts a declared type that matches the bytes, with parameters and any case", () => {
    assert.equal(imageFormatOf("image/png", PNG), "png");
    assert.equal(imageFormatOf("Image/TIFF; charset=binary", TIFF_BE), "tiff");
  });

  it("sniffs application/x-image and a missing content type", () => {
    assert.equal(imageFormatOf("application/x-image", TIFF_LE), "tiff");
    assert.equal(imageFormatOf(undefined, PNG), "png");
  });

  it("refuses content types it does not serve as unsupported", () => {
    for (const type of ["image/jpeg", "application/xml", "text/plain"]) {
      assert.throws(
        () => imageFormatOf(type, PNG),
        (error: unknown) =>
          error instanceof UnsupportedContentTypeError && error.message.includes(`'${type}'`),
      );
    }
  });

  it("refuses a body that disagrees with its declared type, naming both", () => {
    assert.throws(
      () => imageFormatOf("image/png", TIFF_LE),
      (error: unknown) =>
        error instanceof ImageContentError &&
        /says image\/png but the body is a TIFF/.test(error.message),
    );
  });

  it("refuses bodies that are no image at all, and empty ones", () => {
    assert.throws(() => imageFormatOf("application/x-image", JPEG), /neither PNG nor TIFF/);
    assert.throws(() => imageFormatOf("image/png", new Uint8Array(0)), /body is empty/);
  });
});

describe("createSerialQueue", () => {
  it("runs one task at a time, in order, and keeps going after a failure", async () => {
    const queue = createSerialQueue(10);
    const events: string[] = [];
    let running = 0;
    const task =
      (name: string, fail = false) =>
      async () => {
        running++;
        assert.equal(running, 1, `${name} overlapped another task`);
        events.push(`start ${name}`);
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`end ${name}`);
        running--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = await Promise.allSettled([
      queue.run(task("a")),
      queue.run(task("b", true)),
      queue.run(task("c")),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.deepEqual(events, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.equal(queue.depth, 0);
  });

  it("refuses work beyond its depth instead of queueing without bound", async () => {
    const queue = createSerialQueue(2);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = queue.run(() => gate);
    const second = queue.run(async () => "second");
    await assert.rejects(
      queue.run(async () => "third"),
      QueueFullError,
    );
    release();
    await first;
    assert.equal(await second, "second");
    assert.equal(await queue.run(async () => "fourth"), "fourth");
  });
});

describe("createWorkQueue", () => {
  it("runs at most `concurrency` tasks at once, starting them in arrival order", async () => {
    const queue = createWorkQueue(10, 2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const gates: Array<() => void> = [];
    const tasks = Array.from({ length: 5 }, (_, i) =>
      queue.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        return i;
      }),
    );
    // Let the first two start; the other three must wait.
    for (let tick = 0; tick < 5; tick++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1]);
    assert.equal(queue.depth, 5);
    while (started.length < 5 || gates.length > 0) {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3, 4]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(most, 2);
    assert.equal(queue.depth, 0);
  });

  it("counts running and waiting tasks against its depth", async () => {
    const queue = createWorkQueue(2, 2);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const both = [queue.run(() => gate), queue.run(() => gate)];
    await assert.rejects(
      queue.run(async () => "third"),
      QueueFullError,
    );
    release();
    await Promise.all(both);
    assert.equal(await queue.run(async () => "again"), "again");
  });

  it("refuses a concurrency that is not a positive integer", () => {
    assert.throws(() => createWorkQueue(4, 0), RangeError);
  });
});

describe("statusFor", () => {
  it("maps each refusal to its HTTP status and everything else to 500", () => {
    const cases: Array<[unknown, number]> = [
      [new UnsupportedContentTypeError("x"), 415],
      [new ImageContentError("x"), 400],
      [new ImageDecodeError("x"), 400],
      [new ImageSizeError("x"), 400],
      [new CustomAttributeError("x"), 400],
      [new InvalidHintsError("x"), 400],
      [new PayloadTooLargeError("x"), 413],
      [new UnknownEndpointError("x"), 404],
      [new WaferNotFoundError("x"), 422],
      [new QueueFullError("x"), 503],
      [new ModelNotLoadedError("x"), 503],
      [new ModelOutputError("x"), 500],
      [new TypeError("x"), 500],
      ["a string", 500],
    ];
    for (const [error, status] of cases) {
      assert.equal(statusFor(error), status, String((error as Error).name ?? error));
    }
  });
});

describe("errorAnswer", () => {
  it("answers the container path with the error's own status and body", () => {
    assert.deepEqual(errorAnswer(new ImageContentError("not an image"), false), {
      status: 400,
      body: { error: { name: "ImageContentError", message: "not an image" } },
      headers: {},
    });
  });

  it("wraps a model refusal on the runtime API as ModelError 424 with the original status", () => {
    const answer = errorAnswer(new WaferNotFoundError("no disk"), true);
    assert.equal(answer.status, 424);
    assert.deepEqual(answer.headers, { "x-amzn-errortype": "ModelError" });
    const body = answer.body as Record<string, unknown>;
    assert.equal(body.OriginalStatusCode, 422);
    assert.equal(body.ErrorCode, "CLIENT_ERROR_FROM_MODEL");
    assert.equal(
      body.OriginalMessage,
      JSON.stringify({ error: { name: "WaferNotFoundError", message: "no disk" } }),
    );
    const crash = errorAnswer(new TypeError("boom"), true).body as Record<string, unknown>;
    assert.equal(crash.ErrorCode, "SERVER_ERROR_FROM_MODEL");
    assert.equal(crash.OriginalStatusCode, 500);
  });

  it("passes SageMaker's own refusals through the runtime API unwrapped", () => {
    const tooLarge = errorAnswer(new PayloadTooLargeError("too big"), true);
    assert.equal(tooLarge.status, 413);
    assert.deepEqual(tooLarge.headers, { "x-amzn-errortype": "ValidationError" });
    assert.equal((tooLarge.body as { message: string }).message, "too big");
    const busy = errorAnswer(new QueueFullError("busy"), true);
    assert.equal(busy.status, 503);
    assert.deepEqual(busy.headers, { "x-amzn-errortype": "ServiceUnavailable" });
  });
});

describe("routeOf", () => {
  it("names the container paths, the runtime API path with its decoded endpoint name, and nothing else", () => {
    assert.deepEqual(routeOf("/ping"), { kind: "ping" });
    assert.deepEqual(routeOf("/invocations"), {
      kind: "invoke",
      runtimeApi: false,
      endpointName: undefined,
    });
    assert.deepEqual(routeOf("/endpoints/wafer%20ep/invocations"), {
      kind: "invoke",
      runtimeApi: true,
      endpointName: "wafer ep",
    });
    // A malformed escape keeps the name as sent rather than failing the request.
    assert.deepEqual(routeOf("/endpoints/bad%E0/invocations"), {
      kind: "invoke",
      runtimeApi: true,
      endpointName: "bad%E0",
    });
    assert.deepEqual(routeOf("/endpoints//invocations"), { kind: "unknown" });
    assert.deepEqual(routeOf("/invocations/extra"), { kind: "unknown" });
  });
});
