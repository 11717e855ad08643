// vitest sequencer: the slowest files start first, whatever their project, so the last minute of a run is not one long file on one busy worker while the others idle.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each slow file took in a full run on 2 cores (vitest json reporter, 2026-11-30), for
 * a clean clone: vitest's own results cache (which it prefers, below) is empty there, and its
 * fallback, file size, puts every e2e file before every integration file and the unit files last.
 * A file not listed costs nothing here and keeps vitest's order. Keep the list to the slow ones.
 */
const MEASURED_SECONDS: Record<string, number> = {
  "test/e2e/lot-limits.test.ts": 58,
  "test/integration/evaluate.test.ts": 45,
  "test/integration/awscli-local.test.ts": 45,
  "test/e2e/console.test.ts": 69,
  "test/integration/lot-awscli.test.ts": 35,
  "test/integration/built-functions.test.ts": 31,
  "test/unit/synth-generate.test.ts": 27,
  "test/integration/local-restart.test.ts": 21,
  "test/integration/local-faults.test.ts": 20,
  "test/integration/local-crash.test.ts": 20,
  "test/integration/pipeline-parity.test.ts": 17,
  "test/unit/detector-wafer.test.ts": 16,
  "test/integration/endpoint-server.test.ts": 14,
  "test/integration/endpoint-cli.test.ts": 14,
  "test/e2e/lot-identity.test.ts": 12,
  "test/unit/detector-stages.test.ts": 12,
  "test/integration/launcher.test.ts": 11,
  "test/integration/cli.test.ts": 10,
  "test/unit/infra.test.ts": 8,
};

export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec);
      if (cached && !cached.failed) return cached.duration / 1000;
      return MEASURED_SECONDS[spec.moduleId.slice(root.length + 1)] ?? 0;
    };
    const cost = new Map(ordered.map((spec) => [spec, seconds(spec)]));
    // Stable: files of equal cost keep vitest's order.
    return ordered.sort((a, b) => (cost.get(b) ?? 0) - (cost.get(a) ?? 0));
  }
}
