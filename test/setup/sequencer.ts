// vitest sequencer: the slowest files start first (isolated files, then each worker-sharing project as one block), so the last minute of a run is not one long file on one busy worker while the others idle.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Wall seconds each slow file took in a full run on 2 cores, for a clean clone: vitest's own
 * results cache (which it prefers, below) is empty there, and its fallback, file size, puts every
 * e2e file before every integration file and the unit files last. From the lead's clean run of
 * round testfast7's merge on 2026-12-02 17:21 (each file's wall in `WAFERFLOW_CPU_REPORT`, quiet):
 * every file of 3 s or more. Only the order counts. A file not listed costs nothing here and keeps
 * vitest's order, so an unlisted slow file may start among the last: round testfast6's runs of
 * 3405bc3 ended on `bench-help` and `synth-noise`, 4 s each and unlisted then.
 * Keep the list to the slow ones, and files that wait long (local-lambda-process sits out a 10 s
 * function timeout: started late, that wait would be the run's tail).
 */
const MEASURED_SECONDS: Record<string, number> = {
  "test/e2e/console.test.ts": 52.4,
  "test/integration/built-functions.test.ts": 20.1,
  "test/integration/endpoint-server.test.ts": 16.9,
  "test/e2e/lot-stack.test.ts": 25,
  "test/unit/detector-locate-seed.test.ts": 16,
  "test/unit/infra.test.ts": 14.5,
  "test/integration/local-faults.test.ts": 14,
  "test/integration/pipeline-parity.test.ts": 14,
  "test/integration/local-crash.test.ts": 12.5,
  "test/integration/container.test.ts": 12.3,
  "test/unit/synth-generate.test.ts": 11.6,
  "test/unit/detector-sensor-faults.test.ts": 11.2,
  "test/integration/inference-pool.test.ts": 11.1,
  "test/integration/local-lambda-process.test.ts": 11.1,
  "test/integration/evaluate.test.ts": 10.8,
  "test/integration/awscli-local.test.ts": 10,
  "test/integration/edge-agent-network.test.ts": 8.9,
  "test/unit/detector-threshold-speed.test.ts": 7.8,
  "test/integration/local-stack.test.ts": 7.6,
  "test/integration/edge-agent-upload.test.ts": 7.5,
  "test/unit/detector-fault-spread.test.ts": 7.5,
  "test/integration/local-restart.test.ts": 7,
  "test/integration/local-cli.test.ts": 6.5,
  "test/integration/launcher.test.ts": 6.1,
  "test/integration/lot-awscli.test.ts": 6,
  "test/unit/synth-artefacts.test.ts": 5.7,
  "test/unit/detector-rim-streets.test.ts": 5.3,
  "test/unit/detector-wafer.test.ts": 5,
  "test/integration/cli.test.ts": 4.4,
  "test/integration/endpoint-onnx.test.ts": 4.4,
  "test/unit/detector-speed-exact.test.ts": 4.3,
  "test/unit/detector-stages.test.ts": 3.9,
  "test/integration/execution-ended.test.ts": 3.2,
  "test/integration/local-s3-digests.test.ts": 3.1,
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
    // The files of a project that shares its workers (isolate: false: unit, integration-shared) run
    // one after another, never between other projects' files: a worker is reused only for a file
    // of its own project, so each switch of project started a fresh one (32 workers, 7 of them for
    // a single file, where grouped the run needs about 23; a fresh worker is about 0.3 s of CPU and
    // loads the project's modules again). Isolated files (a process each anyway) go first, then
    // each sharing project, the one with the slowest file first; within a group the slowest first.
    const groupOf = (spec: TestSpecification): string =>
      spec.project.config.isolate ? "" : spec.project.name;
    const slowestInGroup = new Map<string, number>();
    for (const spec of ordered) {
      const group = groupOf(spec);
      slowestInGroup.set(group, Math.max(slowestInGroup.get(group) ?? 0, cost.get(spec) ?? 0));
    }
    const rank = (spec: TestSpecification): number => {
      const group = groupOf(spec);
      return group === "" ? Number.POSITIVE_INFINITY : (slowestInGroup.get(group) ?? 0);
    };
    // Stable: files of equal rank and cost keep vitest's order (which keeps projects together).
    return ordered.sort(
      (a, b) =>
        rank(b) - rank(a) ||
        (groupOf(a) === groupOf(b) ? 0 : groupOf(a) < groupOf(b) ? -1 : 1) ||
        (cost.get(b) ?? 0) - (cost.get(a) ?? 0),
    );
  }
}
