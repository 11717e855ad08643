// Shared by the benchmarks: a description of this machine and in-place rewriting of docs/benchmarks.md sections.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";
import { REPO_ROOT } from "../infra/template.ts";

export const BENCHMARKS_PATH = resolve(REPO_ROOT, "docs/benchmarks.md");

export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`, appending the section if new. */
export function writeSection(name: string, body: string, path = BENCHMARKS_PATH): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${current.slice(0, from)}${block}${current.slice(to + end.length)}`
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

export function stats(values: number[]): { mean: number; p50: number; max: number; total: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const total = values.reduce((sum, v) => sum + v, 0);
  return {
    mean: values.length ? total / values.length : 0,
    p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
    total,
  };
}
