// Builds the model the endpoint serves from one specification string (WAFERFLOW_MODEL or --model).
import { existsSync, statSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { z } from "zod";
import { readConfig } from "../../lib/config.ts";
import type { ModelInfo } from "../../schemas/detection.ts";
import { ModelNotLoadedError, ModelSpecError } from "../errors.ts";
import { chainModels } from "./chain.ts";
import { createClassicalModel } from "./classical.ts";
import type { RefinementStage, WaferModel } from "./model.ts";

export type { RefinementStage, WaferModel } from "./model.ts";

export const MODEL_SPEC_HELP =
  "'classical' (default), 'classical+onnx:<file.onnx>' (ONNX second stage after the classical detector) or 'onnx:<file.onnx>' (ONNX model replaces it)";

export type ModelSpec =
  | { kind: "classical" }
  | { kind: "classical+onnx"; onnxPath: string }
  | { kind: "onnx"; onnxPath: string };

function onnxPathFrom(spec: string, text: string): string {
  if (text.trim() === "")
    throw new ModelSpecError(
      `model spec '${spec}' names no ONNX file; expected ${MODEL_SPEC_HELP}`,
    );
  const path = resolve(text.trim());
  if (!existsSync(path))
    throw new ModelSpecError(`model spec '${spec}': ONNX file ${path} does not exist`);
  if (!statSync(path).isFile())
    throw new ModelSpecError(`model spec '${spec}': ${path} is not a file`);
  return path;
}

/** Parses a model spec; ONNX paths are resolved against the working directory and must exist. */
export function parseModelSpec(spec: string): ModelSpec {
  const text = spec.trim();
  if (text === "" || text === "classical") return { kind: "classical" };
  if (text.startsWith("classical+onnx:")) {
    return {
      kind: "classical+onnx",
      onnxPath: onnxPathFrom(spec, text.slice("classical+onnx:".length)),
    };
  }
  if (text.startsWith("onnx:"))
    return { kind: "onnx", onnxPath: onnxPathFrom(spec, text.slice("onnx:".length)) };
  throw new ModelSpecError(`unknown model spec '${spec}'; expected ${MODEL_SPEC_HELP}`);
}

/** An ONNX plugin's name before it is loaded: the file's base name (onnx-detector.ts, onnx-stage.ts). */
const onnxInfo = (path: string): ModelInfo => ({
  name: `onnx-${basename(path, extname(path))}`,
  version: "unloaded",
});

/**
 * The ONNX plugins' code (onnxruntime-node, protobufjs, the detector's geometry and its
 * WebAssembly kernels) is imported at their load(), not when a spec is checked or a model named:
 * `waferflow endpoint`/`serve` and every stack's endpoint build the model in their own thread only
 * to check the spec and name it (its inference threads load it), and a classical server never
 * needs that code (about 0.2-0.3 s of CPU per server start). Until load() the info is the file's
 * name and "unloaded", as the plugins' own; after it, theirs.
 */
function onnxDetectorLoadedLater(path: string): WaferModel {
  let loaded: WaferModel | undefined;
  return {
    get info() {
      return loaded?.info ?? onnxInfo(path);
    },
    load: async () => {
      const model = (await import("./onnx-detector.ts")).createOnnxDetectorModel(path);
      await model.load();
      loaded = model;
    },
    detect: async (image, hints) => {
      if (!loaded) throw new ModelNotLoadedError(`ONNX model ${path} is not loaded`);
      return await loaded.detect(image, hints);
    },
  };
}

function onnxStageLoadedLater(path: string): RefinementStage {
  let loaded: RefinementStage | undefined;
  return {
    get info() {
      return loaded?.info ?? onnxInfo(path);
    },
    load: async () => {
      const stage = (await import("./onnx-stage.ts")).createOnnxRefinementStage(path);
      await stage.load();
      loaded = stage;
    },
    refine: async (image, result) => {
      if (!loaded) throw new ModelNotLoadedError(`ONNX stage ${path} is not loaded`);
      return await loaded.refine(image, result);
    },
  };
}

/** The model a spec names, not yet loaded: call load() (the server does) to read and check ONNX files. */
export function createModel(spec: string): WaferModel {
  const parsed = parseModelSpec(spec);
  switch (parsed.kind) {
    case "classical":
      return createClassicalModel();
    case "classical+onnx":
      return chainModels(createClassicalModel(), [onnxStageLoadedLater(parsed.onnxPath)]);
    case "onnx":
      return onnxDetectorLoadedLater(parsed.onnxPath);
  }
}

const ModelEnvSchema = z.object({
  WAFERFLOW_MODEL: z.string().trim().default("classical"),
});

/** The spec WAFERFLOW_MODEL gives ('classical' when unset), for servers that build the model in worker threads. */
export function modelSpecFromEnv(env: Record<string, string | undefined> = process.env): string {
  return readConfig(ModelEnvSchema, env).WAFERFLOW_MODEL;
}

/** The model WAFERFLOW_MODEL names (classical when unset), checked once at start. */
export function modelFromEnv(env: Record<string, string | undefined> = process.env): WaferModel {
  try {
    return createModel(modelSpecFromEnv(env));
  } catch (cause) {
    if (cause instanceof ModelSpecError) {
      throw new ModelSpecError(`WAFERFLOW_MODEL: ${cause.message}`, { cause });
    }
    throw cause;
  }
}
