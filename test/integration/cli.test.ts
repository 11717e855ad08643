// One command-line convention for every `waferflow` command: --help on stdout with exit 0, usage errors one stderr line with exit 2, no class names.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, it } from "vitest";
import { COMMAND_NAMES } from "../../cli/main.ts";
import {
  commandKey,
  flagsOf,
  HELP_COMMANDS,
  type HelpText,
  referenceSynopses,
  renderCliDoc,
  synopses,
} from "../../scripts/cli-doc.ts";
import { inProcess } from "./helpers/cli-in-process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A real `waferflow` process through bin/waferflow.js, as a user starts it. */
function waferflow(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      NODE,
      ["bin/waferflow.js", ...args],
      { cwd: ROOT, env: { ...process.env, WAFERFLOW_DEBUG: "" } },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

/** Each command and sub-command with a flag it does not have: the same usage error everywhere. */
const MISTAKES: string[][] = [
  ...COMMAND_NAMES.filter((name) => name !== "agent").map((name) => [name, "--no-such-flag"]),
  ["agent", "upload", "--no-such-flag"],
  ["agent", "watch", "--no-such-flag"],
];

/** Flags given values they cannot take: usage errors too, however deep the value is checked. */
const BAD_VALUES: string[][] = [
  ["local", "--quiet-ms", "soon"],
  ["replay", "--timeout-s", "x", "lot"],
  ["report", "A1", "--format", "pdf"],
  ["endpoint", "--port", "http"],
  ["fixtures", "--out", "x", "--lots", "many"],
  ["evaluate", "--min-recall", "2", "set"],
  ["agent", "upload", "--concurrency", "0", "lot"],
  ["lots", "--since", "yesterday"],
  ["lots", "--status", "nope"],
  ["lots", "--stuck-after", "0"],
];

describe("waferflow command line", () => {
  let help: HelpText[];

  beforeAll(async () => {
    help = [];
    for (const command of HELP_COMMANDS) {
      const run = await inProcess([...command, "--help"]);
      assert.equal(run.code, 0, `waferflow ${command.join(" ")} --help: ${run.stderr}`);
      help.push({ command, stdout: run.stdout });
    }
  });

  it("answers --help for every command with usage on stdout and exit 0", async () => {
    for (const text of help) {
      assert.match(text.stdout, /Usage:/, `waferflow ${text.command.join(" ")} --help`);
    }
    for (const sub of [
      ["agent", "upload"],
      ["agent", "watch"],
    ]) {
      const run = await inProcess([...sub, "--help"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`waferflow ${sub.join(" ")} `));
    }
  });

  it("turns every usage mistake into one stderr line and exit 2", async () => {
    const cases = [[], ["no-such-command"], ...MISTAKES, ...BAD_VALUES];
    for (const args of cases) {
      const run = await inProcess(args);
      const where = `waferflow ${args.join(" ")}`;
      assert.equal(run.code, 2, `${where}: ${run.stderr}`);
      assert.equal(run.stdout, "", where);
      const lines = run.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${where}: one line, got ${run.stderr}`);
      assert.match(lines[0] ?? "", /\(see 'waferflow.* --help'\)$/, where);
      if (args.includes("--no-such-flag")) assert.match(lines[0] ?? "", /--no-such-flag/);
    }
  });

  it("fails other errors with exit 1 and a message free of class names", async () => {
    const run = await inProcess(["evaluate", "/no/such/labelled/set"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^waferflow evaluate: .*\/no\/such\/labelled\/set/);
    assert.doesNotMatch(run.stderr, /\b[A-Z][A-Za-z]*Error\b/);
  });

  it("lists in the overview the flags each command's own usage has", () => {
    const overview = help.find((text) => text.command.length === 0)?.stdout ?? "";
    const own = new Map(referenceSynopses(help).map((line) => [commandKey(line), flagsOf(line)]));
    const listed = synopses(overview).filter((line) => !/ \| [a-z]/.test(line));
    assert.ok(listed.length >= COMMAND_NAMES.length - 1);
    for (const line of listed) {
      assert.deepEqual(flagsOf(line), own.get(commandKey(line)), line);
    }
  });

  it("keeps docs/cli.md generated from the usage texts (npm run make:cli-doc)", () => {
    const committed = readFileSync(`${ROOT}/docs/cli.md`, "utf8");
    assert.equal(committed, renderCliDoc(help), "docs/cli.md is stale: run npm run make:cli-doc");
  });

  it("has README's command-line block list the same commands and flags", () => {
    const readme = readFileSync(`${ROOT}/README.md`, "utf8");
    const section = readme.slice(readme.indexOf("## Command line"));
    const block = /```[a-z]*\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const documented = new Map(
      block
        .split("\n")
        .map((line) => line.replace(/\s+#.*$/, "").trim())
        .filter((line) => /^(npx\s+)?waferflow\s/.test(line))
        .map((line) => [commandKey(line), flagsOf(line)]),
    );
    const own = new Map(referenceSynopses(help).map((line) => [commandKey(line), flagsOf(line)]));
    assert.deepEqual([...documented.keys()].sort(), [...own.keys()].sort());
    for (const [key, flags] of own) assert.deepEqual(documented.get(key), flags, key);
  });

  it("answers the same through real processes: help texts, a usage error, a failure", async () => {
    // Real starts of bin/waferflow.js (the launcher, tsx, streams, exit codes), two at a time; the
    // commands whose --help once crashed or exited 2 among them.
    const cases = [
      ["--help"],
      ["local", "--help"],
      ["replay", "--help"],
      ["evaluate", "--help"],
      ["no-such-command"],
      ["agent", "upload", "--no-such-flag"],
      ["evaluate", "/no/such/labelled/set"],
    ];
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      const runs = await Promise.all(batch.map(waferflow));
      for (const [index, args] of batch.entries()) {
        assert.deepEqual(runs[index], await inProcess(args), `waferflow ${args.join(" ")}`);
      }
    }
  });
});
