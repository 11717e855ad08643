// Where `npm run build` puts what ships (.aws-sam/build, sam build's layout) and how its users find and trust it.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { loadTemplate, REPO_ROOT } from "./template.ts";

export const BUILD_DIR = resolve(REPO_ROOT, ".aws-sam/build");
export const BUILT_TEMPLATE_PATH = resolve(BUILD_DIR, "template.yaml");
/** What went into the last build, so runners of the built functions can tell when it is stale. */
export const BUILD_INFO_PATH = resolve(REPO_ROOT, ".aws-sam/waferflow-build.json");

export class BuildOutputError extends Error {
  override name = "BuildOutputError";
}

export interface BuildInfo {
  /** sha256 over template.yaml, package-lock.json, layers/ and our own files the bundles hold. */
  inputsHash: string;
  builtAt: string;
  functions: string[];
  layers: string[];
  /** Our own source files (repo-relative) the bundles were made from. */
  inputs: string[];
}

/** One built function as `sam local invoke` would run it. */
export interface BuiltFunction {
  logicalId: string;
  /** The function's code folder (Lambda's /var/task). */
  codeDir: string;
  /** Lambda's Handler setting, `file.export`. */
  handler: string;
  /** Each layer's folder (what Lambda unpacks into /opt), in the template's order. */
  layerDirs: string[];
}

function hashFiles(paths: string[]): string {
  const hash = createHash("sha256");
  for (const path of [...new Set(paths)].sort()) {
    hash.update(relative(REPO_ROOT, path));
    hash.update("\0");
    hash.update(existsSync(path) ? readFileSync(path) : "(missing)");
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** The inputs hash of a build made today from these source files. */
export function inputsHash(templatePath: string, sourceInputs: string[]): string {
  const layersDir = resolve(REPO_ROOT, "layers");
  const layerFiles = existsSync(layersDir)
    ? readdirSync(layersDir, { recursive: true })
        .map((name) => resolve(layersDir, String(name)))
        .filter((path) => statSync(path).isFile())
    : [];
  return hashFiles([
    resolve(templatePath),
    resolve(REPO_ROOT, "package-lock.json"),
    ...layerFiles,
    ...sourceInputs.map((path) => resolve(REPO_ROOT, path)),
  ]);
}

/** Why the last build cannot be used (missing, or older than the template or the sources), or undefined. */
export function buildProblem(
  templatePath: string = resolve(REPO_ROOT, "template.yaml"),
): string | undefined {
  if (!existsSync(BUILT_TEMPLATE_PATH) || !existsSync(BUILD_INFO_PATH)) {
    return `there is no build in ${relative(process.cwd(), BUILD_DIR) || "."}: run npm run build`;
  }
  const info = JSON.parse(readFileSync(BUILD_INFO_PATH, "utf8")) as BuildInfo;
  if (info.inputsHash !== inputsHash(templatePath, info.inputs)) {
    return `the build in ${relative(process.cwd(), BUILD_DIR)} (${info.builtAt}) is older than template.yaml, package-lock.json, layers/ or the function sources: run npm run build`;
  }
  return undefined;
}

function refName(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "Ref" in value) return String(value.Ref);
  return undefined;
}

/** The built functions, read from the built template as `sam local invoke` reads it. */
export function loadBuiltFunctions(
  options: { checkFresh?: boolean } = {},
): Map<string, BuiltFunction> {
  if (options.checkFresh !== false) {
    const problem = buildProblem();
    if (problem) throw new BuildOutputError(problem);
  }
  const template = loadTemplate(BUILT_TEMPLATE_PATH);
  const globals = (template.Globals?.Function ?? {}) as Record<string, unknown>;
  const functions = new Map<string, BuiltFunction>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== "AWS::Serverless::Function") continue;
    const properties = resource.Properties ?? {};
    const layers = (properties.Layers ?? globals.Layers ?? []) as unknown[];
    const layerDirs = layers.map((layer) => {
      const layerId = refName(layer);
      const layerResource = layerId ? template.Resources[layerId] : undefined;
      const contentUri = layerResource?.Properties?.ContentUri;
      if (
        layerResource?.Type !== "AWS::Serverless::LayerVersion" ||
        typeof contentUri !== "string"
      ) {
        throw new BuildOutputError(
          `${logicalId}: layer ${JSON.stringify(layer)} is not a layer built into ${BUILD_DIR}`,
        );
      }
      return resolve(BUILD_DIR, contentUri);
    });
    functions.set(logicalId, {
      logicalId,
      codeDir: resolve(BUILD_DIR, String(properties.CodeUri ?? logicalId)),
      handler: String(properties.Handler ?? globals.Handler ?? ""),
      layerDirs,
    });
  }
  return functions;
}
