// Run by bench-help.test.ts as `node --import tsx bench-help-harness.ts <bench>...`: imports each
// benchmark with `--help` as its command line in this one process (one tsx start, not one per
// benchmark), and prints, per benchmark, its exit code, what it wrote to stdout and every module
// the import resolved beyond Node's built-ins (which is what "--help starts nothing" means).
import { registerHooks } from "node:module";

const resolved: string[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    if (!result.url.startsWith("node:")) resolved.push(result.url);
    return result;
  },
});

/** Thrown by the stand-in process.exit: ends the benchmark's module evaluation where exit would. */
class Exited {
  readonly code: number | undefined;
  constructor(code: number | undefined) {
    this.code = code;
  }
}

const writeOut = process.stdout.write.bind(process.stdout);
const exit = process.exit.bind(process);
let stdout = "";
process.stdout.write = ((chunk: string | Uint8Array) => {
  stdout += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  return true;
}) as typeof process.stdout.write;
process.exit = ((code?: number) => {
  throw new Exited(code);
}) as typeof process.exit;

const answers: Array<{ file: string; exit: number | string; stdout: string; modules: string[] }> =
  [];
const [node = process.execPath, , ...files] = process.argv;
for (const file of files) {
  process.argv = [node, file, "--help"];
  stdout = "";
  resolved.length = 0;
  let code: number | string = "did not exit";
  try {
    await import(file);
  } catch (error) {
    code =
      error instanceof Exited
        ? (error.code ?? Number(process.exitCode ?? 0))
        : `threw ${String(error)}`;
  }
  answers.push({ file, exit: code, stdout, modules: [...resolved] });
}
writeOut(`${JSON.stringify(answers)}\n`, () => exit(0));
