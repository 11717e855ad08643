// vitest setupFile, on only when WAFERFLOW_CPU_REPORT names a folder: each test file's CPU seconds (its worker plus the child processes it waited for) as one JSON line there, to find what makes `npm test` heavy.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, expect } from "vitest";

const REPORT_DIR = process.env.WAFERFLOW_CPU_REPORT;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux we run). */
const TICKS_PER_SECOND = 100;

/** This process's CPU seconds so far, its own and that of the children it reaped (Linux /proc). */
function cpuSeconds(): { self: number; children: number } {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime, stime, cutime, cstime are fields 14-17 of proc(5); here indexed from field 3.
  const tick = (field: number): number => Number(fields[field - 3]) / TICKS_PER_SECOND;
  return { self: tick(14) + tick(15), children: tick(16) + tick(17) };
}

if (REPORT_DIR) {
  // The worker's start (vitest's runtime, this file's imports) happened before this line.
  const atSetup = cpuSeconds();
  // Wall clock too: with the files' start and end, a run's report shows idle workers and the tail.
  const startedAt = Date.now();
  afterAll(() => {
    const atEnd = cpuSeconds();
    const file = relative(process.cwd(), expect.getState().testPath ?? "unknown");
    mkdirSync(REPORT_DIR, { recursive: true });
    appendFileSync(
      join(REPORT_DIR, "cpu.jsonl"),
      `${JSON.stringify({
        file,
        pid: process.pid,
        workerStart: atSetup.self,
        own: +(atEnd.self - atSetup.self).toFixed(2),
        children: +(atEnd.children - atSetup.children).toFixed(2),
        startedAt,
        endedAt: Date.now(),
      })}\n`,
    );
  });
}
