// Per-stage wall times of one detection, reported in the result's timingMs.
import { performance } from "node:perf_hooks";

/** Per-stage wall times, ms to 0.01; `done()` adds the total. */
export class StageTimer {
  private readonly started = performance.now();
  private readonly timing: Record<string, number> = {};

  run<T>(name: string, stage: () => T): T {
    const t = performance.now();
    const out = stage();
    this.timing[name] = Math.round((performance.now() - t) * 100) / 100;
    return out;
  }

  done(): Record<string, number> {
    this.timing.total = Math.round((performance.now() - this.started) * 100) / 100;
    return this.timing;
  }
}
