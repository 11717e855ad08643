// Loads template.yaml (with CloudFormation short-form tags) so CDK, the local stack and tests read one source.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, type Tags } from "yaml";

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

export function parseTemplate(text: string): Template {
  return parse(text, { customTags: cloudFormationTags }) as Template;
}

export function loadTemplate(path: string = TEMPLATE_PATH): Template {
  return parseTemplate(readFileSync(path, "utf8"));
}
