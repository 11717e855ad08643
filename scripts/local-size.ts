// Measures local/ against what it serves plus its own protocol code (issue 10's yardstick), so the share is read from the tree, not counted by hand.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * The local stack's own wire-protocol code: SigV4, the HTTP fronts and each service's API. It is
 * counted on both sides of the share: a protocol the handlers speak has to be spoken somewhere.
 */
const PROTOCOL_FILES = new Set(
  ["sigv4", "http", "front", "sns", "sfn", "dynamodb", "sagemaker", "aws-chunked"].map(
    (name) => `${name}.ts`,
  ),
);
const isProtocolFile = (name: string) => PROTOCOL_FILES.has(name) || /^s3.*\.ts$/.test(name);

/** What the local stack serves besides the functions: the state machine and the template it runs. */
const SERVED_FILES = ["statemachine/lot.asl.json", "template.yaml"];

export interface LocalSize {
  /** Lines of local/*.ts (TypeScript only, as `wc -l` counts them). */
  local: number;
  /** Of those, the protocol code (PROTOCOL_FILES and local/s3*.ts). */
  protocol: number;
  /** functions/**\/*.ts, the ASL and template.yaml. */
  served: number;
  /** local / (served + protocol). */
  share: number;
  /** Each local/ file's lines, largest first. */
  files: Array<{ name: string; path: string; lines: number; protocol: boolean }>;
}

const linesOf = (path: string) => readFileSync(path, "utf8").split("\n").length - 1;

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

export function measureLocalSize(root: string = ROOT): LocalSize {
  const localDir = join(root, "local");
  const files = readdirSync(localDir)
    .filter((name) => name.endsWith(".ts"))
    .map((name) => ({
      name,
      path: relative(root, join(localDir, name)),
      lines: linesOf(join(localDir, name)),
      protocol: isProtocolFile(name),
    }))
    .sort((a, b) => b.lines - a.lines);
  // A renamed protocol file would silently move to the other side of the share.
  for (const name of PROTOCOL_FILES) {
    if (!files.some((file) => file.name === name)) {
      throw new Error(`local/${name} is listed as protocol code but does not exist`);
    }
  }
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const local = sum(files.map((file) => file.lines));
  const protocol = sum(files.filter((file) => file.protocol).map((file) => file.lines));
  const served = sum(
    [...typeScriptFiles(join(root, "functions")), ...SERVED_FILES.map((f) => join(root, f))].map(
      linesOf,
    ),
  );
  return { local, protocol, served, share: local / (served + protocol), files };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const size = measureLocalSize();
  for (const file of size.files) {
    console.log(
      `${String(file.lines).padStart(6)}  ${file.path}${file.protocol ? "  (protocol)" : ""}`,
    );
  }
  console.log(
    `local/ ${size.local} lines (protocol ${size.protocol}); it serves ${size.served} (functions/, the ASL, template.yaml): ${(100 * size.share).toFixed(1)}% of ${size.served + size.protocol}`,
  );
}
