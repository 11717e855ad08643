// The fixture lot end to end, replayed once: `waferflow local` running the built bundles, the lot's files put into its bucket, the console in Debian's chromium, every true defect reported where it is, a lot dropped into its inbox, and every event of events/ replayed through `waferflow invoke` against it (the Map's two are the inputs its run gave the same built functions, read from the history).
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand, SFNClient } from "@aws-sdk/client-sfn";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, it } from "vitest";
import { CLASS_COLOURS } from "../../lib/defect-style.ts";
import { lotKeys } from "../../lib/keys.ts";
import { executionArnOf } from "../../local/account.ts";
import { readRunningStack } from "../../local/endpoints-file.ts";
import { LOCAL_CREDENTIALS } from "../../local/stack.ts";
import type { Defect } from "../../schemas/detection.ts";
import { type Report, ReportSchema } from "../../schemas/report.ts";
import { TruthSchema, type TruthWafer } from "../../schemas/truth.ts";
import { EVENTS_DIR, fixtureManifest } from "../../scripts/make-events.ts";
import { readKlarf } from "../helpers/klarf-reader.ts";
import { type CliRun, inProcess } from "../integration/helpers/cli-in-process.ts";

const runFile = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURE = join(ROOT, "test/fixtures/lot-e2e");
/**
 * Where the screenshots, overlay and e-mail go: a temp dir, so a test run never rewrites tracked
 * files. Refresh the README's pictures with `WAFERFLOW_DOCS_OUT=docs npx vitest run test/e2e/console.test.ts`.
 */
const DOCS = process.env.WAFERFLOW_DOCS_OUT
  ? resolve(ROOT, process.env.WAFERFLOW_DOCS_OUT)
  : mkdtempSync(join(tmpdir(), "waferflow-console-docs-"));
/**
 * The full-page screenshots only when the docs are refreshed: nothing reads them otherwise (no
 * test compares them), and each is a full-page render and PNG encode in chromium.
 */
async function screenshotForDocs(name: string): Promise<void> {
  if (process.env.WAFERFLOW_DOCS_OUT)
    await page.screenshot({ path: join(DOCS, name), fullPage: true });
}
const CHROMIUM = "/usr/bin/chromium";
/**
 * Chromium 15x preloads its WebUI omnibox popup (chrome://omnibox-popup.top-chrome/, two documents)
 * in a renderer of its own even headless: about 2 s of CPU for a page this test never shows. The
 * features are switched off; chromium keeps only the last --disable-features and Playwright passes
 * its own list first, so this wrapper of CHROMIUM merges them into one switch.
 */
const CHROMIUM_MERGING_FEATURES = join(ROOT, "test/e2e/helpers/chromium.sh");
const OMNIBOX_POPUP_FEATURES = "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup";
const truth = TruthSchema.parse(JSON.parse(readFileSync(join(FIXTURE, "truth.json"), "utf8")));
/** A patterned wafer with defects in dies: the one whose overlay and map are checked. */
const WAFER = truth.wafers.find(
  (w) => w.surface === "patterned" && w.defects.some((d) => d.die),
) as TruthWafer;

type Box = { x: number; y: number; width: number; height: number };
const centre = (b: Box) => ({ x: b.x + b.width / 2, y: b.y + b.height / 2 });
const contains = (b: Box, p: { x: number; y: number }) =>
  p.x >= b.x && p.x <= b.x + b.width && p.y >= b.y && p.y <= b.y + b.height;
function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return (ix * iy) / (a.width * a.height + b.width * b.height - ix * iy);
}
/** The spec's rule for a found defect: IoU >= 0.1, or one box holds the other's centre. */
const overlaps = (a: Box, b: Box) =>
  iou(a, b) >= 0.1 || contains(a, centre(b)) || contains(b, centre(a));

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stderr:\n${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolveLine(match[1]);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`waferflow local exited (${code}) early; stderr:\n${seen}`));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), "waferflow-console-"));
const dataDir = join(work, "data");
const inbox = join(work, "inbox");
let child: ChildProcess;
let browser: BrowserContext;
let page: Page;
let url: string;

/** A lot folder staged beside the inbox and renamed in, so the watcher never sees half a folder. */
function dropLot(name: string, fill: (dir: string) => void): void {
  const staged = join(work, name);
  mkdirSync(staged, { recursive: true });
  fill(staged);
  renameSync(staged, join(inbox, name));
}

/**
 * The fixture lot put into the running stack's bucket as events/ name it: its images and the very
 * manifest text the events' checksums are of (an agent upload would stamp its own createdAt and
 * host, and the replayed events below would no longer match it). The inbox and the agent are the
 * way in of the corrupt lot further down.
 */
async function putFixtureLot(): Promise<void> {
  const running = readRunningStack(dataDir);
  assert.ok(running, `waferflow local wrote no endpoints.json in ${dataDir}`);
  const { manifest, manifestText } = fixtureManifest();
  const s3 = new S3Client({
    endpoint: running.endpoints.s3,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
  });
  const bucket = running.names.bucket ?? "";
  try {
    for (const image of manifest.images) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: image.key,
          Body: readFileSync(join(FIXTURE, image.fileName)),
          ContentType: image.contentType,
        }),
      );
    }
    // The manifest last: its arrival starts the lot, as the agent's upload order makes it.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: lotKeys.manifest(manifest.lotId),
        Body: manifestText,
        ContentType: "application/json",
      }),
    );
  } finally {
    s3.destroy();
  }
}

/** The stored report of a lot, once its workflow has written it (the console serves the bucket's files). */
async function storedReport(lotId: string, timeoutMs: number): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A kept-alive socket the server closes just as it is reused resets: ask again, it is a wait.
    const response = await fetch(`${url}/files/lots/${lotId}/report.json`).catch(
      (error: Error & { cause?: { code?: string } }) => {
        if (error.cause?.code === "ECONNRESET") return undefined;
        throw error;
      },
    );
    if (response?.ok) return ReportSchema.parse(await response.json());
    if (child.exitCode !== null) throw new Error(`waferflow local exited (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`no report of ${lotId} within ${timeoutMs} ms`);
    await new Promise((wake) => setTimeout(wake, 250));
  }
}

beforeAll(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: npm test installs it (scripts/ensure-chromium.js)`,
  );
  mkdirSync(inbox, { recursive: true });
  child = spawn(
    process.execPath,
    [
      "bin/waferflow.js",
      "local",
      "--data-dir",
      dataDir,
      "--inbox",
      inbox,
      "--console-port",
      "0",
      "--quiet-ms",
      "1000",
    ],
    // The bundles that ship (npm run build), each in its own Node process, as Lambda runs them.
    // One sandbox per function: a lot of six images needs no more, and each is a process start.
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WAFERFLOW_FUNCTIONS: "built", WAFERFLOW_MAX_SANDBOXES: "1" },
    },
  );
  child.stdout?.resume();
  url = await waitForLine(child, /Console: (http:\/\/127\.0\.0\.1:\d+)/, 240_000);
  browser = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
    executablePath: CHROMIUM_MERGING_FEATURES,
    headless: true,
    args: [
      OMNIBOX_POPUP_FEATURES,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1400, height: 1000 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  // Playwright gives each wait, click and navigation 30 s by default; these took 1-5 s in a full
  // run at load 20, so a busier CI machine could come near it. Two minutes: a hang still fails
  // well within testTimeout, and the lot's own waits say how long they allow.
  browser.setDefaultTimeout(120_000);
  browser.setDefaultNavigationTimeout(120_000);
  // Nothing may leave the machine: every request the page makes must go to the console.
  await page.route("**/*", (route) =>
    route.request().url().startsWith(url) ? route.continue() : route.abort(),
  );
});

/** Once: after the console's tests, or at the file's end if they never got that far. */
let browserClosed: Promise<void> | undefined;
const closeBrowser = (): Promise<void> => {
  browserClosed ??= browser ? browser.close() : Promise.resolve();
  return browserClosed;
};

afterAll(async () => {
  await closeBrowser();
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(work, { recursive: true, force: true });
});

describe("the operator console on a running local stack", () => {
  // The later tests read the stack through the CLI and plain fetch: an open page would keep
  // chromium rendering the lot's updates (the replays below set it PROCESSING again) meanwhile.
  afterAll(closeBrowser);

  it("shows a lot as it arrives, without reloading the page", async () => {
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]");
    await page.evaluate("window.sameLoad = true");
    await putFixtureLot();
    const row = page.locator(`tr[data-lot-id="${truth.lotId}"][data-status="DEFECTS_FOUND"]`);
    await row.waitFor({ timeout: 240_000 });
    assert.equal(await page.evaluate("window.sameLoad"), true, "the row came without a reload");
    assert.match((await row.textContent()) ?? "", /MACRO-INSP-01/);
  });

  it("opens the lot: wafer map, every wafer's overlay, filters; screenshot for the docs", async () => {
    await page.locator(`tr[data-lot-id="${truth.lotId}"] a`).click();
    await page.waitForURL(`${url}/lots/${truth.lotId}`);
    await page.waitForSelector("#wafer-map svg.wafer-map");
    assert.equal(await page.locator(".card").count(), truth.wafers.length);
    assert.equal(await page.locator(".card .overlay img").count(), truth.wafers.length);
    const marks = truth.wafers.reduce((n, w) => n + w.defects.length, 0);
    assert.equal(await page.locator("#wafer-map circle.defect").count(), marks);
    // Filtering by class hides the other classes' marks.
    await page.locator('input[data-filter=class][value="scratch"]').uncheck();
    assert.equal(
      await page.locator('#wafer-map circle.defect[data-class="scratch"]:visible').count(),
      0,
    );
    await page.locator('input[data-filter=class][value="scratch"]').check();
    await page.evaluate("Promise.all([...document.images].map((i) => i.decode()))");
    await screenshotForDocs("console.png");
  });

  it("draws a true defect's box where it is on the overlay, and marks it in its die on the wafer map", async () => {
    await page.goto(`${url}/lots/${truth.lotId}/wafers/${WAFER.fileName}`);
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("#wafer-map svg.wafer-map");
    const img = page.locator("#wafer-overlay img");
    await img.evaluate((el) => (el as unknown as { decode(): Promise<void> }).decode());
    const shown = await img.boundingBox();
    assert.ok(shown);
    const toImage = WAFER.width / shown.width;
    type ShownBox = Box & { cls: string | null };
    const boxes: ShownBox[] = await page
      .locator("#wafer-overlay rect.defect-box")
      .evaluateAll((rects) =>
        rects.map((r) => {
          const b = r.getBoundingClientRect();
          return {
            cls: r.getAttribute("data-class"),
            x: b.x,
            y: b.y,
            width: b.width,
            height: b.height,
          };
        }),
      );
    // The picture itself: the class colour is drawn around each true defect.
    const src = await img.getAttribute("src");
    const webp = Buffer.from(await (await page.request.get(`${url}${src}`)).body());
    writeFileSync(join(DOCS, "overlay-example.webp"), webp);
    const { data, info } = await sharp(webp)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const scale = info.width / WAFER.width;

    for (const expected of WAFER.defects) {
      const onPage: ShownBox | undefined = boxes.find((b) =>
        overlaps(
          {
            x: (b.x - shown.x) * toImage,
            y: (b.y - shown.y) * toImage,
            width: b.width * toImage,
            height: b.height * toImage,
          },
          expected.bbox,
        ),
      );
      assert.ok(onPage, `a box over the ${expected.class} at ${JSON.stringify(expected.bbox)}`);
      assert.equal(onPage.cls, expected.class);

      const colour = CLASS_COLOURS[expected.class];
      const want = [1, 3, 5].map((i) => Number.parseInt(colour.slice(i, i + 2), 16));
      const margin = 14;
      let inked = 0;
      for (
        let y = Math.floor(expected.bbox.y * scale) - margin;
        y <= (expected.bbox.y + expected.bbox.height) * scale + margin;
        y++
      ) {
        for (
          let x = Math.floor(expected.bbox.x * scale) - margin;
          x <= (expected.bbox.x + expected.bbox.width) * scale + margin;
          x++
        ) {
          if (x < 0 || y < 0 || x >= info.width || y >= info.height) continue;
          const at = (y * info.width + x) * info.channels;
          const distance = want.reduce(
            (sum, v, c) => sum + Math.abs((data[at + c] as number) - v),
            0,
          );
          if (distance < 90) inked++;
        }
      }
      assert.ok(
        inked >= 8,
        `${expected.class} box drawn in ${colour} on the overlay (${inked} px)`,
      );
    }

    for (const expected of WAFER.defects.filter((d) => d.die)) {
      const die = expected.die as { row: number; col: number };
      const mark = await page.locator("#wafer-map circle.defect").evaluateAll((circles, want) => {
        const near = circles
          .map((c) => ({
            c,
            d: Math.hypot(
              Number(c.getAttribute("cx")) - want.x,
              Number(c.getAttribute("cy")) + want.y,
            ),
          }))
          .sort((a, b) => a.d - b.d)[0];
        if (!near || near.d > 3) return undefined;
        const b = near.c.getBoundingClientRect();
        return {
          x: b.x + b.width / 2,
          y: b.y + b.height / 2,
          cls: near.c.getAttribute("data-class"),
        };
      }, expected.waferMm);
      assert.ok(mark, `a mark near (${expected.waferMm.x}, ${expected.waferMm.y}) mm`);
      assert.equal(mark.cls, expected.class);
      const cell = await page
        .locator(`#wafer-map rect.die[data-row="${die.row}"][data-col="${die.col}"]`)
        .boundingBox();
      assert.ok(cell, `die r${die.row} c${die.col} is drawn`);
      assert.ok(
        contains(cell, mark),
        `the ${expected.class} mark lies in die r${die.row} c${die.col}`,
      );
    }
    await screenshotForDocs("console-wafer.png");
  });

  it("stores a KLARF that reads back to the report's defects, dies and classes, and an e-mail an operator reads", async () => {
    const report = ReportSchema.parse(
      await (await page.request.get(`${url}/files/lots/${truth.lotId}/report.json`)).json(),
    );
    assert.equal(report.links?.console, `${url}/lots/${truth.lotId}`);
    const klarf = readKlarf(
      await (await page.request.get(`${url}/files/lots/${truth.lotId}/report.klarf`)).text(),
    );
    for (const image of report.images) {
      const wafer = klarf.wafers.find((w) => w.waferId === image.fileName);
      assert.ok(wafer, image.fileName);
      assert.deepEqual(
        wafer.defects.map((d) => [d.className, image.defects.some((e) => e.die) ? d.die : null]),
        image.defects.map((d) => [d.class, d.die]),
      );
      wafer.defects.forEach((d, i) => {
        const e = image.defects[i];
        assert.ok(e && Math.hypot(d.waferMm.x - e.waferMm.x, d.waferMm.y - e.waferMm.y) < 0.01);
      });
    }
    const sns = join(dataDir, "sns");
    const file = readdirSync(sns).find((name) => name.startsWith("waferflow-reports"));
    assert.ok(file);
    const published = readFileSync(join(sns, file), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const last = published.at(-1) as {
      subject: string;
      email: string;
      attributes: Record<string, string>;
    };
    assert.equal(last.subject, `Lot ${truth.lotId} on MACRO-INSP-01: 5 wafers with defects`);
    assert.equal(last.attributes.severity, "major");
    assert.match(last.email, new RegExp(`Console:\\s+${url}/lots/${truth.lotId}`));
    writeFileSync(join(DOCS, "alert-email.txt"), `Subject: ${last.subject}\n\n${last.email}\n`);
  });

  it("prints the stored report with `waferflow report` as JSON, KLARF and CSV", async () => {
    const args = (format: string) => [
      "report",
      truth.lotId,
      "--format",
      format,
      "--data-dir",
      dataDir,
    ];
    // Every format from main() in this process: a `waferflow` start is about 1 s of CPU,
    // cli.test.ts holds main() to what a real process answers, and this file's real starts are
    // `waferflow local` and `waferflow invoke` (below) against the same running stack.
    const report = async (format: string) => {
      const run = await inProcess(args(format));
      assert.equal(run.code, 0, run.stderr);
      return run.stdout;
    };
    const json = ReportSchema.parse(JSON.parse(await report("json")));
    assert.equal(json.lotId, truth.lotId);
    const klarf = readKlarf(await report("klarf"));
    assert.equal(
      klarf.wafers.reduce((sum, wafer) => sum + wafer.defects.length, 0),
      json.counts.defects,
    );
    const csv = (await report("csv")).trim().split("\n");
    const waferRows = json.images.reduce((n, image) => n + Math.max(1, image.defects.length), 0);
    assert.equal(csv.length, 1 + waferRows, "a header, a row per defect, a row per clean wafer");
    const bad = await inProcess(args("pdf"));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be one of json, klarf, csv/);
  });

  it("lists the lot with `waferflow lots`, reaching the running stack through its data dir", async () => {
    // main() in this process: the real starts of this file are `waferflow local`, `report` and
    // `invoke`; how `lots` finds the stack (endpoints.json in the data dir) is the same in both.
    const { code, stdout, stderr } = await inProcess(["lots", "--json", "--data-dir", dataDir]);
    assert.equal(code, 0, stderr);
    const lots = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { lotId: string; status: string });
    assert.deepEqual(
      lots.map((lot) => [lot.lotId, lot.status]),
      [[truth.lotId, "DEFECTS_FOUND"]],
    );
  });
});

describe("the lot's report through the shipped bundles", () => {
  let report: Report;
  beforeAll(async () => {
    // The lot the console showed above: replayed once for both.
    report = await storedReport(truth.lotId, 240_000);
  });

  it("covers what the issue asks of the fixture: 5+ wafers, bare and patterned, every class, a clean one", () => {
    assert.ok(truth.wafers.length >= 5);
    const surfaces = new Set(truth.wafers.map((w) => w.surface));
    assert.deepEqual([...surfaces].sort(), ["bare", "patterned"]);
    const classes = new Set(truth.wafers.flatMap((w) => w.defects.map((d) => d.class)));
    assert.deepEqual([...classes].sort(), ["edge_chip", "particle", "scratch", "stain", "void"]);
    assert.ok(truth.wafers.some((w) => w.defects.length === 0));
  });

  it("reports every wafer of the lot, none failed", () => {
    assert.equal(report.lotId, truth.lotId);
    assert.equal(report.status, "defects_found");
    assert.equal(report.counts.images, truth.wafers.length);
    assert.equal(report.counts.failed, 0);
  });

  it("finds every true defect at its true place (pixels and wafer mm) with its class", () => {
    for (const wafer of truth.wafers) {
      const image = report.images.find((i) => i.fileName === wafer.fileName);
      assert.ok(image, `${wafer.fileName} is in the report`);
      for (const expected of wafer.defects) {
        const found: Defect | undefined = image.defects.find((d) =>
          overlaps(d.bbox, expected.bbox),
        );
        assert.ok(
          found,
          `${wafer.fileName}: ${expected.class} at ${JSON.stringify(expected.bbox)} found`,
        );
        assert.equal(
          found.class,
          expected.class,
          `${wafer.fileName}: class of defect at ${JSON.stringify(expected.bbox)}`,
        );
        const mmTolerance = Math.max(2, (wafer.diameterMm / (2 * wafer.radiusPx)) * 12);
        assert.ok(
          Math.hypot(found.waferMm.x - expected.waferMm.x, found.waferMm.y - expected.waferMm.y) <=
            mmTolerance,
          `${wafer.fileName}: ${expected.class} at ${JSON.stringify(found.waferMm)} mm, truth ${JSON.stringify(expected.waferMm)}`,
        );
        if (expected.die)
          assert.deepEqual(found.die, expected.die, `${wafer.fileName}: die of ${expected.class}`);
      }
    }
  });

  it("reports nothing on clean wafers and no false alarms elsewhere", () => {
    for (const wafer of truth.wafers) {
      const image = report.images.find((i) => i.fileName === wafer.fileName);
      const spurious = (image?.defects ?? []).filter(
        (d) => !wafer.defects.some((t) => overlaps(d.bbox, t.bbox)),
      );
      assert.deepEqual(spurious, [], `${wafer.fileName}: no false alarms`);
      if (wafer.defects.length === 0) assert.equal(image?.status, "clean");
    }
  });

  it("reports a corrupt image of a lot while processing the rest", async () => {
    // Two wafers are enough: one cut short after its header, one whole.
    const [victim, intact] = truth.wafers.map((wafer) => wafer.fileName);
    assert.ok(victim && intact);
    const lotId = "E2E-CORRUPT";
    dropLot("lot-corrupt", (dir) => {
      const bytes = readFileSync(join(FIXTURE, victim));
      writeFileSync(
        join(dir, victim),
        Buffer.concat([bytes.subarray(0, 400), Buffer.alloc(4000, 0x5a)]),
      );
      cpSync(join(FIXTURE, intact), join(dir, intact));
      const lot = JSON.parse(readFileSync(join(FIXTURE, "lot.json"), "utf8")) as object;
      writeFileSync(join(dir, "lot.json"), JSON.stringify({ ...lot, lotId }));
    });
    const corrupt = await storedReport(lotId, 240_000);
    assert.equal(corrupt.counts.images, 2);
    assert.equal(corrupt.counts.failed, 1);
    const failed = corrupt.images.find((i) => i.fileName === victim);
    assert.equal(failed?.status, "failed");
    assert.match(failed?.error?.message ?? "", /corrupt|decod/i);
    const processed = corrupt.images.find((i) => i.fileName === intact);
    assert.ok(
      processed?.status === "clean" || processed?.status === "defects_found",
      `${intact} inspected (${processed?.status})`,
    );
  });
});

/** Which function each event is for; an event file missing here fails the test. */
const EVENT_FUNCTIONS: Record<string, string> = {
  "manifest-created.json": "StartLotFunction",
  "record-lot.json": "RecordLotFunction",
  "preprocess-image.json": "PreprocessImageFunction",
  "detect-defects.json": "DetectDefectsFunction",
  "publish-report.json": "PublishReportFunction",
  "fail-lot.json": "FailLotFunction",
};
/**
 * The events of the Map's two tasks, by the task's state name: the lot's own run already called
 * those built functions with the first wafer's input, so the event is compared with that input in
 * the run's history instead of replayed through a fresh sandbox of its own (a sandbox start, and
 * for DetectDefects the model and one more detection, for a call the run made).
 */
const EVENT_TASKS: Record<string, string> = {
  "preprocess-image.json": "PreprocessImage",
  "detect-defects.json": "DetectDefects",
};

// Last in this file: RecordLot sets the lot PROCESSING again and PublishReport publishes again, so
// what the console and the report tests above read is the lot's first run.
describe("waferflow invoke: every event in events/ against the running local stack and its fixture lot", () => {
  it("knows which function each event file is for", () => {
    const files = readdirSync(EVENTS_DIR).filter(
      (name) => name.endsWith(".json") && name !== "env.json",
    );
    assert.deepEqual(files.sort(), Object.keys(EVENT_FUNCTIONS).sort());
  });

  it("replays every event but the Map's two successfully through the built functions", async () => {
    // The events name the objects the lot's run wrote (preprocessed images, results).
    await storedReport(truth.lotId, 240_000);
    // In this process through main(): a `waferflow` start is 1-2 s of CPU, and the wiring from
    // bin/waferflow.js to the command's exit code and stderr is proven by the real start below.
    // One after the other, in the workflow's order: RecordLot sets the lot PROCESSING again, so
    // PublishReport must come after it, and FailLot last, on a lot that has its final report.
    const runs: Array<{ file: string; logicalId: string; run: CliRun }> = [];
    for (const [file, logicalId] of Object.entries(EVENT_FUNCTIONS)) {
      if (EVENT_TASKS[file]) continue;
      const run = await inProcess([
        "invoke",
        logicalId,
        "-e",
        join(EVENTS_DIR, file),
        "--data-dir",
        dataDir,
      ]);
      runs.push({ file, logicalId, run });
    }
    assert.equal(runs.length, 4, "every event but the Map's two, which the history holds");
    const results: Record<string, unknown> = {};
    for (const { file, logicalId, run } of runs) {
      assert.equal(run.code, 0, `${logicalId} with events/${file}: ${run.stderr}`);
      assert.match(run.stderr, /using the local stack of process/, "the running stack was used");
      results[file] = JSON.parse(run.stdout) as unknown;
    }
    // The lot was started by its manifest's arrival: the replayed event is recognised, not ignored.
    assert.deepEqual(results["manifest-created.json"], {
      outcome: "already_started",
      lotId: truth.lotId,
    });
    assert.equal((results["record-lot.json"] as { imageCount: number }).imageCount, 6);
    assert.equal((results["publish-report.json"] as { status: string }).status, "defects_found");
    // The lot already has its final report: ending it again says nothing twice.
    assert.equal((results["fail-lot.json"] as { status: string }).status, "already_final");
  });

  it("names in the Map's events the very input the lot's run gave those built functions, which succeeded", async () => {
    const running = readRunningStack(dataDir);
    assert.ok(running);
    const sfn = new SFNClient({
      endpoint: running.endpoints.sfn,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const executionArn = executionArnOf(running.names.stateMachineArn ?? "", truth.lotId);
      const { events = [] } = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
      );
      for (const [file, task] of Object.entries(EVENT_TASKS)) {
        const event = JSON.parse(readFileSync(join(EVENTS_DIR, file), "utf8")) as { index: number };
        // This wafer's entries of the task (Map iterations run side by side: found by index).
        const of = (details: Array<{ name?: string; text?: string } | undefined>) =>
          details
            .filter((d) => d?.name === task)
            .map((d) => JSON.parse(d?.text ?? "null") as { index?: number })
            .filter((value) => value.index === event.index);
        const entered = of(
          events
            .filter((e) => e.type === "TaskStateEntered")
            .map((e) => ({
              name: e.stateEnteredEventDetails?.name,
              text: e.stateEnteredEventDetails?.input,
            })),
        );
        const exited = of(
          events
            .filter((e) => e.type === "TaskStateExited")
            .map((e) => ({
              name: e.stateExitedEventDetails?.name,
              text: e.stateExitedEventDetails?.output,
            })),
        );
        assert.deepEqual(entered, [event], `events/${file} is ${task}'s input`);
        assert.equal(exited.length, 1, `${task} of wafer ${event.index} succeeded`);
      }
    } finally {
      sfn.destroy();
    }
  });

  // A real `waferflow` process: what the in-process runs above stand for reaches a shell this way.
  it("exits 1 with the function's errorType on stderr when the function fails", async () => {
    const bad = join(work, "bad-event.json");
    writeFileSync(bad, JSON.stringify({ lotId: truth.lotId }));
    const run = await runFile(
      process.execPath,
      ["bin/waferflow.js", "invoke", "RecordLotFunction", "-e", bad, "--data-dir", dataDir],
      { cwd: ROOT },
    ).catch((error: { code: number; stdout: string; stderr: string }) => error);
    assert.equal((run as { code?: number }).code, 1);
    assert.match(run.stderr, /^InvalidInputError: invalid RecordLot input/m);
    assert.equal(run.stdout, "");
  });

  it("exits 2 on usage errors and 0 for --help", async () => {
    const help = await inProcess(["invoke", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: waferflow invoke <LogicalId> -e <event.json>/);
    const noEvent = await inProcess(["invoke", "StartLotFunction"]);
    assert.equal(noEvent.code, 2);
    assert.match(noEvent.stderr, /-e <event.json>/);
    const unknown = await inProcess([
      "invoke",
      "NoSuchFunction",
      "-e",
      join(EVENTS_DIR, "record-lot.json"),
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no function 'NoSuchFunction'.*StartLotFunction/);
  });

  it("starts a stack of its own for the one invocation when none runs on --data-dir", async () => {
    const run = await inProcess([
      "invoke",
      "FailLotFunction",
      "-e",
      join(EVENTS_DIR, "fail-lot.json"),
      "--data-dir",
      join(work, "nobody-runs-here"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /no running stack holds .*starting one on a temporary dir/);
    // An empty stack: no manifest to name the images, yet the lot is ended and said so.
    assert.equal((JSON.parse(run.stdout) as { status: string }).status, "failed");
  });
});
