// Loads template.yaml (with CloudFormation short-form tags) so CDK, the local stack and tests read one source.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import type { Tags } from "yaml";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const TEMPLATE_PATH = resolve(REPO_ROOT, "template.yaml");

export interface TemplateResource {
  Type: string;
  Condition?: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface Template {
  Parameters?: Record<string, { Type: string; Default?: string | number }>;
  Conditions?: Record<string, unknown>;
  Globals?: { Function?: Record<string, unknown> };
  Resources: Record<string, TemplateResource>;
  Outputs?: Record<string, unknown>;
}

const SHORT_TAGS = [
  ["Ref", "Ref"],
  ["GetAtt", "Fn::GetAtt"],
  ["Sub", "Fn::Sub"],
  ["Join", "Fn::Join"],
  ["If", "Fn::If"],
  ["Not", "Fn::Not"],
  ["Equals", "Fn::Equals"],
  ["And", "Fn::And"],
  ["Or", "Fn::Or"],
  ["Select", "Fn::Select"],
  ["Split", "Fn::Split"],
  ["FindInMap", "Fn::FindInMap"],
  ["GetAZs", "Fn::GetAZs"],
  ["ImportValue", "Fn::ImportValue"],
  ["Base64", "Fn::Base64"],
  ["Condition", "Condition"],
] as const;

/** Each short tag becomes its long form, so `!GetAtt A.Arn` reads as `{ "Fn::GetAtt": ["A", "Arn"] }`. */
const cloudFormationTags: Tags = SHORT_TAGS.flatMap(([tag, longName]) =>
  (["scalar", "seq", "map"] as const).map((collection) => ({
    tag: `!${tag}`,
    collection: collection === "scalar" ? undefined : collection,
    resolve: (value: unknown) => {
      const plain =
        value && typeof value === "object" && "toJSON" in value
          ? (value as { toJSON(): unknown }).toJSON()
          : value;
      if (tag === "GetAtt" && typeof plain === "string") {
        const dot = plain.indexOf(".");
        return { [longName]: [plain.slice(0, dot), plain.slice(dot + 1)] };
      }
      return { [longName]: plain };
    },
  })),
) as unknown as Tags;

/** The yaml library, loaded on the first parse: a template read from the cache never needs it. */
const requireYaml = (): typeof import("yaml") =>
  createRequire(import.meta.url)("yaml") as typeof import("yaml");

export function parseTemplate(text: string): Template {
  return requireYaml().parse(text, { customTags: cloudFormationTags }) as Template;
}

/**
 * Where parsed templates are remembered: beside Node's compile cache and the ASL validation marks,
 * inside node_modules so a reinstall (another yaml version) starts empty; the version is in the key.
 */
export const DEFAULT_TEMPLATE_CACHE_DIR = fileURLToPath(
  new URL("../node_modules/.cache/waferflow/template-json/", import.meta.url),
);

/** The key of one template text for this yaml version and these tags. */
export function templateCacheKey(text: string): string {
  const yamlVersion = (
    JSON.parse(
      readFileSync(createRequire(import.meta.url).resolve("yaml/package.json"), "utf8"),
    ) as { version: string }
  ).version;
  return createHash("sha256")
    .update(`yaml@${yamlVersion}\n${JSON.stringify(SHORT_TAGS)}\n`)
    .update(text)
    .digest("hex");
}

/**
 * template.yaml (45 KB) takes yaml 0.1-0.25 s of CPU to parse, and a stack start parses it (and
 * the built copy) three times, each `waferflow` command and stack process again. The parse of a
 * given text is remembered as JSON, by the text's hash: in this process, and on disk for the next
 * ones. Only a parse that JSON holds exactly is remembered (plain strings, numbers, booleans,
 * null, arrays, objects: what a CloudFormation template is), so a cached read returns what the
 * parse returned; each caller gets its own copy. The disk is a cache: a folder that cannot be
 * written, or an entry that cannot be read, only means parsing.
 */
const parsedTexts = new Map<string, string>();

export function loadTemplate(
  path: string = TEMPLATE_PATH,
  cacheDir: string = DEFAULT_TEMPLATE_CACHE_DIR,
): Template {
  const text = readFileSync(path, "utf8");
  const known = parsedTexts.get(text);
  if (known !== undefined) return JSON.parse(known) as Template;
  const entry = join(cacheDir, `${templateCacheKey(text)}.json`);
  try {
    const json = readFileSync(entry, "utf8");
    const template = JSON.parse(json) as Template;
    parsedTexts.set(text, json);
    return template;
  } catch {
    // Not cached yet (or unreadable): parse.
  }
  const template = parseTemplate(text);
  const json = JSON.stringify(template);
  if (json !== undefined && isDeepStrictEqual(JSON.parse(json), template)) {
    parsedTexts.set(text, json);
    try {
      mkdirSync(cacheDir, { recursive: true });
      // Whole or absent: another process may read the entry while this one writes it.
      const temp = `${entry}.${process.pid}.tmp`;
      writeFileSync(temp, json);
      renameSync(temp, entry);
    } catch {
      // Read-only install: nothing remembered, nothing lost but the time.
    }
  }
  return template;
}
