// The benchmarks' command line: --help on stdout with exit 0, a usage error as one stderr line with exit 2.
import assert from "node:assert/strict";
import { afterEach, describe, it, vi } from "vitest";
import { commandLineOrExit } from "../../lib/cli.ts";

class Exited extends Error {
  readonly code: number | undefined;
  constructor(code: number | undefined) {
    super(`exit ${code}`);
    this.code = code;
  }
}

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  vi.spyOn(process, "exit").mockImplementation((code) => {
    throw new Exited(code === undefined || code === null ? undefined : Number(code));
  });
  return { out, err };
}

const options = { seed: { type: "string" }, quiet: { type: "boolean" } } as const;
const usage = "Usage: bench/x.ts [--seed n] [--quiet]\n";

describe("commandLineOrExit", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers --help (or -h) with the usage on stdout and exit 0, before parsing", () => {
    for (const argv of [["--help"], ["-h"], ["--bogus", "--help"]]) {
      const { out, err } = captured();
      assert.throws(() => commandLineOrExit("bench/x.ts", usage, argv, options), { code: 0 });
      assert.deepEqual(out, [usage]);
      assert.deepEqual(err, []);
      vi.restoreAllMocks();
    }
  });

  it("turns a usage error into one stderr line naming the command, and exit 2", () => {
    const { out, err } = captured();
    assert.throws(() => commandLineOrExit("bench/x.ts", usage, ["--sed", "4"], options), {
      code: 2,
    });
    assert.deepEqual(out, []);
    assert.equal(err.length, 1);
    assert.match(
      err[0] ?? "",
      /^bench\/x\.ts: Unknown option '--sed'.*\(see 'bench\/x\.ts --help'\)\n$/,
    );
  });

  it("returns the parsed values otherwise", () => {
    const { values } = commandLineOrExit("bench/x.ts", usage, ["--seed", "7", "--quiet"], options);
    assert.deepEqual({ ...values }, { seed: "7", quiet: true });
  });
});
