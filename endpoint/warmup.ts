// Warms an inference thread before it takes traffic: the real inference (decode, gate, detect, overlay) on small seeded wafers made in memory.
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { readConfig, wholeNumberVariable } from "../lib/config.ts";
import type { DetectionHints } from "../schemas/detection.ts";
import type { WaferModel } from "./models/model.ts";

/**
 * V8 needs about a dozen wafers before a thread runs the detector at full speed, and each thread
 * compiles it for itself (docs/benchmarks.md, Pipeline). Measured: after 12 wafers of 768 px a
 * 2048 px wafer costs what it costs warm; after 6 of 512 px or 8 of 768 px it still costs more.
 */
export const DEFAULT_WARMUP_WAFERS = 12;
/** Small enough to render and inspect cheaply, large enough to run every stage as a 2048 px wafer does. */
export const WARMUP_SIDE_PX = 768;
export const MAX_WARMUP_WAFERS = 64;
/** The overlay DetectDefects asks for (functions/detect-defects/core.ts OVERLAY_MAX_SIDE). */
const WARMUP_OVERLAY_PX = 1024;
/** Any fixed seed: the same wafers on every start, so every start costs the same. */
const WARMUP_SEED = 20261130;

const WarmupEnvSchema = z.object({
  WAFERFLOW_WARMUP_WAFERS: wholeNumberVariable(0, MAX_WARMUP_WAFERS),
});

/** Warm-up wafers per inference thread: WAFERFLOW_WARMUP_WAFERS, default 12; a bad value fails naming it. */
export function warmupWafersFromEnv(env: Record<string, string | undefined> = process.env): number {
  return readConfig(WarmupEnvSchema, env).WAFERFLOW_WARMUP_WAFERS ?? DEFAULT_WARMUP_WAFERS;
}

export interface WarmupReport {
  wafers: number;
  sidePx: number;
  /** Wall time of the warm-up in this thread, rendering included. */
  ms: number;
  /** CPU time of this thread during the warm-up (libvips' own threads, which decode and encode, not counted). */
  cpuMs: number;
}

/**
 * Runs `wafers` inferences on seeded wafers (bare and patterned by turns, each with defects) exactly
 * as a request runs them. A thrown error is the model failing on a valid wafer: the caller treats
 * it as a failed load.
 */
export async function warmUp(model: WaferModel, wafers: number): Promise<WarmupReport> {
  const started = performance.now();
  const cpuBefore = process.threadCpuUsage();
  if (wafers === 0) return { wafers, sidePx: WARMUP_SIDE_PX, ms: 0, cpuMs: 0 };
  // Loaded only when used: with 0 wafers (the tests' setting) a thread pays nothing for it.
  const { generateWafer } = await import("../synth/generate.ts");
  // So is the inference: the server's thread reads warmupWafersFromEnv from here without loading the detector.
  const { runInference } = await import("./inference.ts");
  const hints: DetectionHints = { waferDiameterMm: 300 };
  for (let index = 0; index < wafers; index++) {
    const wafer = await generateWafer(WARMUP_SEED, index, {
      size: WARMUP_SIDE_PX,
      diameterMm: 300,
      surface: index % 2 === 0 ? "patterned" : "bare",
      clean: false,
    });
    await runInference(model, {
      image: wafer.bytes,
      hints,
      qualityGate: true,
      overlayMaxSide: WARMUP_OVERLAY_PX,
    });
  }
  const cpu = process.threadCpuUsage(cpuBefore);
  return {
    wafers,
    sidePx: WARMUP_SIDE_PX,
    ms: Math.round(performance.now() - started),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}
