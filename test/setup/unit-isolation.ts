// vitest setupFile of the unit project, which shares one module cache per worker (isolate: false): what a file stubs or fakes is undone when the file ends, so no file passes or fails because of another.
import { createRequire } from "node:module";
import { afterAll, vi } from "vitest";

/**
 * aws-sdk-client-mock stubs `Client.prototype.send` with sinon's default sandbox, and its stubs
 * outlive the file that made them: a later file's real S3Client would send to the stub. Restoring
 * that sandbox (the very sinon instance the mock library loads) puts every `send` back.
 */
const sinon = createRequire(createRequire(import.meta.url).resolve("aws-sdk-client-mock"))(
  "sinon",
) as { restore(): void };

afterAll(() => {
  sinon.restore();
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
