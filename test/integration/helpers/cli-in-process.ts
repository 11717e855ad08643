// Runs the `waferflow` command line in the test's own process through cli/main.ts's main(), its output captured: the usage matrix without a Node start per case.
import { main } from "../../../cli/main.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The same `main()` bin/waferflow.js calls, in this process, its console and stdout/stderr
 * captured: each process start costs 1-2 s of CPU, and usage matrices have dozens of cases.
 * cli.test.ts compares it with real processes, so the two cannot drift apart unseen.
 */
export async function inProcess(args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const saved = {
    log: console.log,
    info: console.info,
    warn: console.warn,
    error: console.error,
    out: process.stdout.write,
    err: process.stderr.write,
  };
  const toOut = (...parts: unknown[]) => {
    stdout += `${parts.map(String).join(" ")}\n`;
  };
  const toErr = (...parts: unknown[]) => {
    stderr += `${parts.map(String).join(" ")}\n`;
  };
  console.log = toOut;
  console.info = toOut;
  console.warn = toErr;
  console.error = toErr;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  const debug = process.env.WAFERFLOW_DEBUG;
  delete process.env.WAFERFLOW_DEBUG;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    console.log = saved.log;
    console.info = saved.info;
    console.warn = saved.warn;
    console.error = saved.error;
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    if (debug !== undefined) process.env.WAFERFLOW_DEBUG = debug;
  }
}
