// `waferflow agent` end to end on real folders and a real S3 server: output, exit codes, configuration errors.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, test } from "vitest";
import { runAgentCommand } from "../../edge-agent/cli.ts";
import { startS3rver, type TestS3 } from "./helpers/s3rver.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("waferflow agent", () => {
  let s3: TestS3;
  let work: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    work = await mkdtemp(join(tmpdir(), "waferflow-agent-cli-"));
  });
  afterAll(async () => {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  });

  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, deps: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  }

  test("upload prints one JSON line per lot and exits 1 when one of them fails", async () => {
    const good = join(work, "good");
    await mkdir(good, { recursive: true });
    await writeFile(join(good, "w.png"), Buffer.concat([PNG, randomBytes(100)]));
    await writeFile(join(good, "lot.json"), JSON.stringify({ lotId: "LOT-IT-CLI" }));
    const bad = join(work, "bad");
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, "w.png"), PNG);
    await writeFile(join(bad, "lot.json"), JSON.stringify({ waferDiameterMm: 450 }));

    const { out, err, deps } = capture();
    const client = s3.client();
    const code = await runAgentCommand(["upload", good, bad], {
      ...deps,
      s3: client,
      env: { WAFERFLOW_BUCKET: s3.bucket, WAFERFLOW_STATE_DIR: join(work, "state") },
      signal: new AbortController().signal,
    });

    assert.equal(code, 1);
    assert.equal(out.length, 1);
    const line = JSON.parse(out[0] ?? "{}") as Record<string, unknown>;
    assert.equal(line.lotId, "LOT-IT-CLI");
    assert.equal(line.uploaded, 1);
    assert.equal(line.manifestWritten, true);
    await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "lots/LOT-IT-CLI/manifest.json" }),
    );
    const failure = err.find((l) => l.includes(bad));
    assert.match(failure ?? "", /lot\.json: field 'waferDiameterMm'/);
    assert.doesNotMatch(failure ?? "", /LotFileError/, "no class names in messages");
  });

  test("usage mistakes exit 2 with a message naming the mistake", async () => {
    for (const [argv, pattern] of [
      [[], /give a sub-command: upload or watch/],
      [["fly"], /unknown sub-command 'fly'/],
      [["upload"], /at least one lot directory/],
      [["watch"], /exactly one inbox/],
      [["watch", "in", "--quiet-ms", "soon"], /--quiet-ms must be a number/],
      [["upload", "x", "--part-size-mib", "1"], /--part-size-mib must be a number of at least 5/],
      [["upload", "x", "--bogus"], /bogus/],
    ] as const) {
      const { err, deps } = capture();
      const code = await runAgentCommand([...argv], { ...deps, env: { WAFERFLOW_BUCKET: "b-1" } });
      assert.equal(code, 2, argv.join(" "));
      assert.match(err.join("\n"), pattern);
    }
  });

  test("a missing or malformed bucket is refused by name before anything runs", async () => {
    const { deps } = capture();
    await assert.rejects(
      runAgentCommand(["upload", work], { ...deps, env: {} }),
      (error: Error) => error.name === "ConfigError" && /WAFERFLOW_BUCKET/.test(error.message),
    );
    await assert.rejects(
      runAgentCommand(["upload", work], { ...deps, env: { BUCKET_NAME: "Not_A_Bucket" } }),
      (error: Error) =>
        /BUCKET_NAME: 'Not_A_Bucket' is not a valid S3 bucket name/.test(error.message),
    );
  });

  test("watch runs until stopped", async () => {
    const inbox = join(work, "inbox");
    await mkdir(inbox, { recursive: true });
    const stop = new AbortController();
    const { err, deps } = capture();
    const watching = runAgentCommand(["watch", inbox, "--poll-ms", "10"], {
      ...deps,
      s3: s3.client(),
      env: { WAFERFLOW_BUCKET: s3.bucket, WAFERFLOW_STATE_DIR: join(work, "state-watch") },
      signal: stop.signal,
    });
    stop.abort();
    assert.equal(await watching, 0);
    assert.match(err.join("\n"), /inbox: stopped/);
  });
});
