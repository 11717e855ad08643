// vitest sequencer: the slowest files start first, whatever their project, so the last minute of a run is not one long file on one busy worker while the others idle.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Wall seconds each slow file took in a full run on 2 cores (WAFERFLOW_CPU_REPORT's startedAt and
 * endedAt, clean clone, load average 2-6, 2026-11-30 09:48), for
 * a clean clone: vitest's own results cache (which it prefers, below) is empty there, and its
 * fallback, file size, puts every e2e file before every integration file and the unit files last.
 * A file not listed costs nothing here and keeps vitest's order. Keep the list to the slow ones.
 */
const MEASURED_SECONDS: Record<string, number> = {
  "test/e2e/console.test.ts": 87,
  "test/integration/pipeline-parity.test.ts": 48,
  "test/integration/endpoint-server.test.ts": 40,
  "test/integration/local-faults.test.ts": 22,
  "test/integration/built-functions.test.ts": 21,
  "test/integration/awscli-local.test.ts": 21,
  "test/integration/evaluate.test.ts": 20,
  "test/integration/local-restart.test.ts": 19,
  "test/integration/local-crash.test.ts": 19,
  // 95 s at 1000 images; its lot is now at a lowered limit of 100 (testfast3): about a fifth.
  "test/e2e/lot-limits.test.ts": 18,
  "test/e2e/lot-identity.test.ts": 16,
  "test/integration/container.test.ts": 13,
  "test/unit/infra.test.ts": 11,
  "test/unit/synth-generate.test.ts": 9,
  "test/integration/lot-awscli.test.ts": 8,
  "test/integration/endpoint-cli.test.ts": 7,
  "test/integration/edge-agent-upload.test.ts": 6,
  "test/integration/edge-agent-network.test.ts": 5,
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
