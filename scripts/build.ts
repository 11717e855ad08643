// `npm run build`: bundles every function and installs every layer into .aws-sam/build/, the layout `sam build` writes.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { stringify } from "yaml";
import {
  BUILD_DIR,
  BUILD_INFO_PATH,
  BUILT_TEMPLATE_PATH,
  type BuildInfo,
  inputsHash,
} from "../infra/build-layout.ts";
import {
  loadTemplate,
  REPO_ROOT,
  type Template,
  type TemplateResource,
} from "../infra/template.ts";

const run = promisify(execFile);

const ESBUILD = resolve(REPO_ROOT, "node_modules/.bin/esbuild");

export class BuildError extends Error {
  override name = "BuildError";
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * BuildProperties as `sam build` hands them to esbuild (aws-lambda-builders' EsbuildCommandBuilder):
 * PascalCase keys become kebab-case flags, booleans `--flag`, strings `--flag=value`, lists one
 * `--flag:item` per item; `EntryPoints` are the inputs; bundle, platform and outdir are fixed; target
 * es2020, format cjs and minify are the defaults when the template does not say.
 */
export function esbuildArguments(
  buildProperties: Record<string, unknown>,
  outdir: string,
): { entryPoints: string[]; args: string[] } {
  const kebab = (key: string) =>
    key
      .replace(/(?<!^)(?=[A-Z])/g, "_")
      .toLowerCase()
      .replaceAll("_", "-");
  const entryPoints = buildProperties.EntryPoints;
  if (!Array.isArray(entryPoints) || entryPoints.length === 0) {
    throw new BuildError("BuildProperties.EntryPoints must be a non-empty list");
  }
  const args = ["--bundle", "--platform=node", `--outdir=${outdir}`];
  const given = new Set(Object.keys(buildProperties).map(kebab));
  if (!given.has("target")) args.push("--target=es2020");
  if (!given.has("format")) args.push("--format=cjs");
  if (!given.has("minify")) args.push("--minify");
  for (const [key, value] of Object.entries(buildProperties)) {
    const flag = kebab(key);
    if (["entry-points", "use-npm-ci", "bundle", "platform", "outdir"].includes(flag)) continue;
    if (typeof value === "boolean") {
      if (value) args.push(`--${flag}`);
    } else if (typeof value === "string" || typeof value === "number") {
      args.push(`--${flag}=${value}`);
    } else if (Array.isArray(value)) {
      for (const item of value) args.push(`--${flag}:${String(item)}`);
    } else {
      throw new BuildError(`BuildProperties.${key}: expected a boolean, a string or a list`);
    }
  }
  return { entryPoints: entryPoints.map(String), args };
}

function resourcesOf(template: Template, type: string): Array<[string, TemplateResource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** Our own files a bundle was made from (node_modules is covered by package-lock.json). */
function ownInputs(metafilePaths: string[]): string[] {
  const inputs: string[] = [];
  for (const path of metafilePaths) {
    const meta = JSON.parse(readFileSync(path, "utf8")) as { inputs: Record<string, unknown> };
    for (const input of Object.keys(meta.inputs)) {
      if (!input.includes("node_modules/")) inputs.push(resolve(REPO_ROOT, input));
    }
  }
  return inputs;
}

/** Lambda's architecture names to npm's --cpu. */
function npmCpu(architecture: string): string {
  if (architecture === "x86_64") return "x64";
  if (architecture === "arm64") return "arm64";
  throw new BuildError(`unknown Lambda architecture '${architecture}'`);
}

/**
 * Functions the template builds alike: the same code folder and the same BuildProperties but for
 * their one entry point. esbuild bundles several entry points in one run (no code splitting: each
 * output is the whole bundle it would be alone), and one process parses the shared sources (the AWS
 * SDK, zod, Powertools) once instead of once per function.
 */
interface FunctionGroup {
  logicalIds: string[];
  codeDir: string;
  buildProperties: Record<string, unknown>;
}

function groupFunctions(
  functions: Array<[string, TemplateResource]>,
  templateDir: string,
): FunctionGroup[] {
  const groups = new Map<string, FunctionGroup>();
  for (const [logicalId, resource] of functions) {
    const buildProperties = (resource.Metadata?.BuildProperties ?? {}) as Record<string, unknown>;
    const codeDir = resolve(templateDir, String(resource.Properties?.CodeUri ?? "."));
    const { EntryPoints: entryPoints, ...options } = buildProperties;
    // A function of several entry points keeps a run of its own: sam build lays those out by
    // their common folder, which a shared run would change.
    const key =
      Array.isArray(entryPoints) && entryPoints.length === 1
        ? JSON.stringify([codeDir, options])
        : `alone:${logicalId}`;
    const group = groups.get(key) ?? { logicalIds: [], codeDir, buildProperties };
    group.logicalIds.push(logicalId);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * One esbuild run for a group. Each function's bundle lands where sam build's run of that function
 * alone puts it: `<BUILD_DIR>/<LogicalId>/<entry's name>.<ext>`, named with esbuild's `out=in` entry
 * syntax under an outdir of BUILD_DIR. Returns the run's metafile.
 */
async function buildFunctionGroup(
  group: FunctionGroup,
  resources: Map<string, TemplateResource>,
): Promise<string> {
  const [first] = group.logicalIds as [string, ...string[]];
  const metafile = join(BUILD_DIR, `.${first}.meta.json`);
  let entryPoints: string[];
  let args: string[];
  if (group.logicalIds.length === 1) {
    ({ entryPoints, args } = esbuildArguments(group.buildProperties, join(BUILD_DIR, first)));
  } else {
    args = esbuildArguments(group.buildProperties, BUILD_DIR).args;
    entryPoints = group.logicalIds.map((logicalId) => {
      const properties = (resources.get(logicalId)?.Metadata?.BuildProperties ?? {}) as Record<
        string,
        unknown
      >;
      const [entry] = esbuildArguments(properties, BUILD_DIR).entryPoints as [string];
      return `${logicalId}/${basename(entry, extname(entry))}=${entry}`;
    });
  }
  try {
    await run(ESBUILD, [...entryPoints, ...args, `--metafile=${metafile}`, "--log-level=warning"], {
      cwd: group.codeDir,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? "";
    throw new BuildError(
      `esbuild failed for ${group.logicalIds.join(", ")}: ${stderr.trim() || String(cause)}`,
      { cause },
    );
  }
  return metafile;
}

/** A layer built for `BuildMethod: nodejsXX.x`: its package installed for Lambda's OS, CPU and libc. */
async function buildLayer(
  logicalId: string,
  resource: TemplateResource,
  templateDir: string,
  log: (line: string) => void,
): Promise<void> {
  const properties = resource.Properties ?? {};
  const contentDir = resolve(templateDir, String(properties.ContentUri ?? "."));
  const architectures = (properties.CompatibleArchitectures as string[] | undefined) ?? ["x86_64"];
  if (architectures.length !== 1) {
    throw new BuildError(`${logicalId}: build one layer per architecture (got ${architectures})`);
  }
  const cpu = npmCpu(String(architectures[0]));
  const target = join(BUILD_DIR, logicalId, "nodejs");
  const sources = ["package.json", "package-lock.json"].filter((name) =>
    existsSync(join(contentDir, name)),
  );
  const stamp = createHash("sha256")
    .update(sources.map((name) => readFileSync(join(contentDir, name), "utf8")).join("\0"))
    .update(`linux-${cpu}-glibc`)
    .digest("hex");
  const stampPath = join(BUILD_DIR, logicalId, ".waferflow-layer-stamp");
  if (existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp) {
    log(`${logicalId}: unchanged, kept`);
    return;
  }
  rmSync(join(BUILD_DIR, logicalId), { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const name of sources) cpSync(join(contentDir, name), join(target, name));
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const install = sources.includes("package-lock.json") ? ["ci"] : ["install", "--no-package-lock"];
  try {
    await run(
      npm,
      [
        ...install,
        "--omit=dev",
        "--include=optional",
        "--os=linux",
        `--cpu=${cpu}`,
        "--libc=glibc",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
      ],
      { cwd: target, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? "";
    throw new BuildError(`npm could not install ${logicalId}: ${stderr.trim() || String(cause)}`, {
      cause,
    });
  }
  const dependencies = Object.keys(
    (
      JSON.parse(readFileSync(join(target, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
      }
    ).dependencies ?? {},
  );
  // sharp's native code comes in platform packages npm picks by --os/--cpu/--libc: insist on them.
  const needed = dependencies.includes("sharp")
    ? [`@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`]
    : [];
  for (const name of [...dependencies, ...needed]) {
    if (!existsSync(join(target, "node_modules", name, "package.json"))) {
      throw new BuildError(
        `${logicalId}: ${name} is missing after npm install (linux-${cpu}-glibc)`,
      );
    }
  }
  writeFileSync(stampPath, stamp);
}

export interface BuildResult {
  templatePath: string;
  functions: string[];
  layers: string[];
  info: BuildInfo;
}

/** Builds everything template.yaml deploys from local code; the options come from the template alone. */
export async function build(
  options: { templatePath?: string; log?: (line: string) => void } = {},
): Promise<BuildResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`build: ${line}\n`));
  const templatePath = resolve(options.templatePath ?? join(REPO_ROOT, "template.yaml"));
  const templateDir = dirname(templatePath);
  const template = loadTemplate(templatePath);
  const globals = (template.Globals?.Function ?? {}) as Record<string, unknown>;
  mkdirSync(BUILD_DIR, { recursive: true });

  const functions = resourcesOf(template, "AWS::Serverless::Function");
  for (const [logicalId, resource] of functions) {
    if (resource.Metadata?.BuildMethod !== "esbuild") {
      throw new BuildError(`${logicalId}: only Metadata.BuildMethod esbuild is built here`);
    }
    rmSync(join(BUILD_DIR, logicalId), { recursive: true, force: true });
  }
  const layers = resourcesOf(template, "AWS::Serverless::LayerVersion");
  const started = Date.now();
  const [metafiles] = await Promise.all([
    Promise.all(
      groupFunctions(functions, templateDir).map((group) =>
        buildFunctionGroup(group, new Map(functions)),
      ),
    ),
    Promise.all(
      layers.map(([logicalId, resource]) => buildLayer(logicalId, resource, templateDir, log)),
    ),
  ]);
  log(
    `${functions.length} functions and ${layers.length} layers in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  // The built template, as `sam build` writes it: code paths point into the build dir, the rest is kept.
  const built = structuredClone(template) as Template;
  for (const [logicalId] of functions) {
    const resource = built.Resources[logicalId] as TemplateResource;
    resource.Properties ??= {};
    const properties = resource.Properties;
    properties.CodeUri = logicalId;
    resource.Metadata = { ...resource.Metadata, SamResourceId: logicalId };
    // sam build adds --enable-source-maps where a function has Sourcemap but not the option.
    const buildProperties = (resource.Metadata.BuildProperties ?? {}) as { Sourcemap?: unknown };
    const variables = {
      ...((globals.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ??
        {}),
      ...((properties.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ??
        {}),
    };
    const nodeOptions = typeof variables.NODE_OPTIONS === "string" ? variables.NODE_OPTIONS : "";
    if (
      buildProperties.Sourcemap === true &&
      !nodeOptions.split(" ").includes("--enable-source-maps")
    ) {
      properties.Environment ??= {};
      const environment = properties.Environment as { Variables?: Record<string, Json> };
      environment.Variables = {
        ...environment.Variables,
        NODE_OPTIONS: `${nodeOptions} --enable-source-maps`.trim(),
      };
    }
  }
  for (const [logicalId] of layers) {
    const resource = built.Resources[logicalId] as TemplateResource;
    resource.Properties ??= {};
    resource.Properties.ContentUri = logicalId;
    resource.Metadata = { ...resource.Metadata, SamResourceId: logicalId };
  }
  // Paths the build does not own stay valid relative to the built template's folder.
  for (const resource of Object.values(built.Resources)) {
    const uri = resource.Properties?.DefinitionUri;
    if (resource.Type === "AWS::Serverless::StateMachine" && typeof uri === "string") {
      (resource.Properties as Record<string, unknown>).DefinitionUri = relative(
        BUILD_DIR,
        resolve(templateDir, uri),
      );
    }
  }
  const builtTemplatePath = BUILT_TEMPLATE_PATH;
  writeFileSync(
    builtTemplatePath,
    `# Written by npm run build (scripts/build.ts) from template.yaml; do not edit.\n${stringify(built, { lineWidth: 0 })}`,
  );

  const sourceInputs = [...new Set(ownInputs(metafiles))]
    .map((path) => relative(REPO_ROOT, path))
    .sort();
  for (const metafile of metafiles) rmSync(metafile, { force: true });
  const info: BuildInfo = {
    inputsHash: inputsHash(templatePath, sourceInputs),
    builtAt: new Date().toISOString(),
    functions: functions.map(([logicalId]) => logicalId),
    layers: layers.map(([logicalId]) => logicalId),
    inputs: sourceInputs,
  };
  writeFileSync(BUILD_INFO_PATH, `${JSON.stringify(info, null, 2)}\n`);
  return { templatePath: builtTemplatePath, functions: info.functions, layers: info.layers, info };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  build().then(
    (result) => {
      console.log(
        `built ${result.functions.join(", ")}; layers ${result.layers.join(", ") || "none"} -> ${relative(process.cwd(), result.templatePath)}`,
      );
    },
    (error: unknown) => {
      console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
