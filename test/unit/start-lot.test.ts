// Manifest validation in the start function: every problem named, nothing invalid ever started.
import assert from "node:assert/strict";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, it } from "vitest";
import { lotDifferences, manifestProblems, startLot } from "../../functions/start-lot/core.ts";
import { AlertSchema } from "../../schemas/alert.ts";
import { ManifestSchema } from "../../schemas/lot.ts";
import { serviceError } from "../helpers/aws-fakes.ts";

const sha = "a".repeat(64);
function manifest(overrides: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    lotId: "LOT-7",
    createdAt: "2026-11-26T08:00:00.000Z",
    source: { agent: "test" },
    metadata: { waferDiameterMm: 300 },
    images: [
      {
        fileName: "w1.png",
        key: "lots/LOT-7/images/w1.png",
        sha256: sha,
        bytes: 10,
        contentType: "image/png",
      },
    ],
    ...overrides,
  };
}
const key = "lots/LOT-7/manifest.json";

describe("manifestProblems", () => {
  it("accepts a valid manifest", () => {
    const result = manifestProblems(key, JSON.stringify(manifest()));
    assert.deepEqual(result.problems, []);
    assert.equal(result.manifest?.lotId, "LOT-7");
  });
  it("names a text that is not JSON", () => {
    const { manifest: parsed, problems } = manifestProblems(key, "{nope");
    assert.equal(parsed, undefined);
    assert.match(problems[0] ?? "", /not JSON/);
  });
  it("names each field that breaks the schema", () => {
    const { problems } = manifestProblems(
      key,
      JSON.stringify(manifest({ schemaVersion: 2, images: [{ fileName: "w1.png" }] })),
    );
    assert.ok(problems.some((p) => p.startsWith("schemaVersion")));
    assert.ok(problems.some((p) => p.startsWith("images.0.sha256")));
  });
  it("refuses a lot id that differs from the key's", () => {
    const { problems } = manifestProblems("lots/OTHER/manifest.json", JSON.stringify(manifest()));
    assert.match(problems.join(" "), /does not match/);
  });
  it("refuses image keys outside the lot's images prefix", () => {
    const images = [
      {
        fileName: "w1.png",
        key: "lots/OTHER/images/w1.png",
        sha256: sha,
        bytes: 1,
        contentType: "image/png",
      },
    ];
    const { problems } = manifestProblems(key, JSON.stringify(manifest({ images })));
    assert.match(problems.join(" "), /is not the lot's image key/);
  });
  it("refuses an image listed twice", () => {
    const image = {
      fileName: "w1.png",
      key: "lots/LOT-7/images/w1.png",
      sha256: sha,
      bytes: 1,
      contentType: "image/png",
    };
    const { problems } = manifestProblems(
      key,
      JSON.stringify(manifest({ images: [image, image] })),
    );
    assert.match(problems.join(" "), /listed twice/);
  });
});

describe("numeric bounds of the manifest's metadata (docs/wafer-images.md)", () => {
  for (const pitch of [1e8, 1e20]) {
    it(`refuses diePitchMm ${pitch}, naming the field`, () => {
      const { manifest: parsed, problems } = manifestProblems(
        key,
        JSON.stringify(manifest({ metadata: { waferDiameterMm: 300, diePitchMm: pitch } })),
      );
      assert.equal(parsed, undefined);
      assert.match(problems.join(" "), /metadata\.diePitchMm: die pitch must be at most 30 mm/);
    });
  }
  it("refuses a pitch outside 2-10% of the wafer's diameter and a die aspect beyond 0.5-2", () => {
    const small = manifestProblems(
      key,
      JSON.stringify(
        manifest({ metadata: { waferDiameterMm: 200, diePitchMm: { x: 25, y: 10 } } }),
      ),
    );
    assert.match(
      small.problems.join(" "),
      /metadata\.diePitchMm\.x: die pitch must be 2-10% of the 200 mm/,
    );
    assert.match(small.problems.join(" "), /die aspect/);
  });
  it("accepts a pitch inside the bounds", () => {
    const ok = manifestProblems(
      key,
      JSON.stringify(
        manifest({ metadata: { waferDiameterMm: 300, diePitchMm: { x: 10, y: 12 } } }),
      ),
    );
    assert.deepEqual(ok.problems, []);
  });
  it("refuses a notch angle and a diameter outside the spec", () => {
    const { problems } = manifestProblems(
      key,
      JSON.stringify(manifest({ metadata: { waferDiameterMm: 450, notchAngleDeg: 1e9 } })),
    );
    assert.ok(problems.some((p) => p.startsWith("metadata.waferDiameterMm")));
    assert.ok(problems.some((p) => p.startsWith("metadata.notchAngleDeg")));
  });
});

describe("lotDifferences", () => {
  const base = ManifestSchema.parse(manifest());
  it("finds none between a manifest and its re-sent copy", () => {
    const resent = { ...base, createdAt: "2026-11-27T08:00:00.000Z", source: { agent: "other" } };
    assert.deepEqual(lotDifferences(base, resent), []);
  });
  it("names an image with other bytes, a missing one, an added one and other metadata", () => {
    const other = ManifestSchema.parse(
      manifest({
        metadata: { waferDiameterMm: 200 },
        images: [
          { ...base.images[0], sha256: "b".repeat(64) },
          { ...base.images[0], fileName: "w2.png", key: "lots/LOT-7/images/w2.png" },
        ],
      }),
    );
    const problems = lotDifferences(base, other).join("\n");
    assert.match(problems, /image w1\.png has SHA-256 b{64}/);
    assert.match(problems, /image w2\.png is not in the accepted lot/);
    assert.match(problems, /metadata/);
  });
});

describe("startLot with a lot id that is taken", () => {
  const s3 = mockClient(S3Client);
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const config = {
    bucket: "lots-bucket",
    stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:lot",
    alertTopicArn: "arn:aws:sns:us-east-1:000000000000:alerts",
  };
  const event = {
    "detail-type": "Object Created" as const,
    source: "aws.s3" as const,
    detail: { bucket: { name: config.bucket }, object: { key } },
  };
  const body = (text: string) =>
    ({ transformToString: async () => text }) as unknown as GetObjectCommandOutput["Body"];
  const deps = () => ({
    s3: new S3Client({}),
    sfn: new SFNClient({}),
    sns: new SNSClient({}),
    config,
    now: () => new Date("2026-11-30T00:00:00.000Z"),
  });
  beforeEach(() => {
    s3.reset();
    sfn.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:execution" });
  });

  it("accepts a new lot id once, then starts the execution on the accepted manifest", async () => {
    const text = JSON.stringify(manifest());
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(text) });
    s3.on(GetObjectCommand, { Key: "lots/LOT-7/accepted-manifest.json" }).rejects(
      Object.assign(new Error("missing"), { name: "NoSuchKey" }),
    );
    s3.on(PutObjectCommand).resolves({});
    const result = await startLot(event, deps());
    assert.equal(result.outcome, "started");
    const accept = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    assert.equal(accept?.Key, "lots/LOT-7/accepted-manifest.json");
    assert.equal(accept?.IfNoneMatch, "*");
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? "");
    assert.deepEqual(input, { lotId: "LOT-7", manifestKey: "lots/LOT-7/accepted-manifest.json" });
  });

  it("quarantines a different lot under the id, restores the first lot's manifest and alerts", async () => {
    const acceptedText = JSON.stringify(manifest());
    const otherText = JSON.stringify(
      manifest({ images: [{ ...manifest().images[0], sha256: "c".repeat(64) }] }),
    );
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(otherText) });
    s3.on(GetObjectCommand, { Key: "lots/LOT-7/accepted-manifest.json" }).resolves({
      Body: body(acceptedText),
    });
    s3.on(PutObjectCommand).resolves({});
    const result = await startLot(event, deps());
    assert.equal(result.outcome, "lot_id_reused");
    assert.equal(sfn.commandCalls(StartExecutionCommand).length, 0, "nothing started");
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    assert.match(puts[0]?.Key ?? "", /^quarantine\/.*lots\/LOT-7\/manifest\.json$/);
    assert.equal(puts[0]?.Body, otherText);
    assert.equal(puts[1]?.Key, key, "the first lot's manifest is put back");
    assert.equal(puts[1]?.Body, acceptedText);
    const alert = JSON.parse(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? "");
    assert.equal(alert.kind, "manifest_quarantined");
    assert.match(alert.message, /already taken/);
    assert.match(alert.problems.join(" "), /w1\.png has SHA-256 c{64}/);
  });

  it("treats the accepted lot's own manifest, re-sent, as the same lot", async () => {
    const acceptedText = JSON.stringify(manifest());
    const resent = JSON.stringify(manifest({ createdAt: "2026-11-28T08:00:00.000Z" }));
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(resent) });
    s3.on(GetObjectCommand, { Key: "lots/LOT-7/accepted-manifest.json" }).resolves({
      Body: body(acceptedText),
    });
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error("exists"), { name: "ExecutionAlreadyExists" }));
    const result = await startLot(event, deps());
    assert.equal(result.outcome, "already_started");
    assert.equal(s3.commandCalls(PutObjectCommand).length, 0);
  });
});

describe("startLot's branches", () => {
  const s3 = mockClient(S3Client);
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const config = {
    bucket: "lots-bucket",
    stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:lot",
    alertTopicArn: "arn:aws:sns:us-east-1:000000000000:alerts",
  };
  const eventFor = (objectKey: string, bucket = config.bucket) => ({
    "detail-type": "Object Created" as const,
    source: "aws.s3" as const,
    detail: { bucket: { name: bucket }, object: { key: objectKey } },
  });
  const body = (text: string) =>
    ({ transformToString: async () => text }) as unknown as GetObjectCommandOutput["Body"];
  const warnings: string[] = [];
  const deps = () => ({
    s3: new S3Client({}),
    sfn: new SFNClient({}),
    sns: new SNSClient({}),
    config,
    now: () => new Date("2026-11-30T00:00:00.000Z"),
    log: {
      info: () => undefined,
      warn: (message: string) => warnings.push(message),
      error: () => undefined,
    },
  });
  const accepted = "lots/LOT-7/accepted-manifest.json";
  beforeEach(() => {
    s3.reset();
    sfn.reset();
    sns.reset();
    warnings.length = 0;
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    s3.on(PutObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:execution" });
  });

  it("ignores an object of another bucket without reading it", async () => {
    const result = await startLot(eventFor(key, "someone-elses"), deps());
    assert.deepEqual(result, {
      outcome: "ignored",
      key,
      reason: "bucket 'someone-elses' is not lots-bucket",
    });
    assert.equal(s3.calls().length + sfn.calls().length + sns.calls().length, 0);
  });

  it("ignores a manifest that is gone (a redelivered event after quarantine)", async () => {
    s3.on(GetObjectCommand, { Key: key }).rejects(serviceError("NoSuchKey", 404));
    const result = await startLot(eventFor(key), deps());
    assert.deepEqual(result, { outcome: "ignored", key, reason: "manifest no longer exists" });
    assert.deepEqual(warnings, ["manifest no longer exists"]);
    assert.equal(sfn.calls().length + sns.calls().length, 0);
  });

  it("lets a manifest it cannot read out as a dependency failure, transient or not", async () => {
    s3.on(GetObjectCommand, { Key: key }).rejects(serviceError("SlowDown", 503));
    await assert.rejects(startLot(eventFor(key), deps()), {
      name: "TransientDependencyError",
      message: /reading manifest s3:\/\/lots-bucket\/lots\/LOT-7\/manifest\.json failed: SlowDown/,
    });
    s3.on(GetObjectCommand, { Key: key }).rejects(serviceError("AccessDenied", 403));
    await assert.rejects(startLot(eventFor(key), deps()), { name: "DependencyError" });
  });

  it("moves a bad manifest to quarantine, deletes it and alerts with every problem", async () => {
    const text = JSON.stringify(manifest({ schemaVersion: 2 }));
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(text) });
    const result = await startLot(eventFor(key), deps());
    const target = "quarantine/2026-11-30T00-00-00-000Z/lots/LOT-7/manifest.json";
    assert.equal(result.outcome, "quarantined");
    assert.equal(result.outcome === "quarantined" && result.quarantineKey, target);
    const copy = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    assert.equal(copy?.Key, target);
    assert.equal(copy?.Body, text, "the refused bytes are kept as they came");
    assert.deepEqual(copy?.Metadata, { "original-key": key });
    assert.equal(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input.Key, key);
    const published = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    assert.equal(published?.TopicArn, config.alertTopicArn);
    assert.equal(published?.MessageAttributes?.kind?.StringValue, "manifest_quarantined");
    const alert = AlertSchema.parse(JSON.parse(published?.Message ?? ""));
    assert.equal(alert.lotId, "LOT-7");
    assert.equal(alert.key, target);
    assert.match(alert.problems?.join(" ") ?? "", /schemaVersion/);
    assert.equal(sfn.calls().length, 0, "nothing invalid is ever started");
  });

  it("quarantines a manifest that is not JSON, and one under a key that names no lot", async () => {
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body("{nope") });
    const notJson = await startLot(eventFor(key), deps());
    assert.equal(notJson.outcome, "quarantined");
    assert.match(notJson.outcome === "quarantined" ? (notJson.problems[0] ?? "") : "", /not JSON/);
    const odd = "lots/bad id/manifest.json";
    s3.on(GetObjectCommand, { Key: odd }).resolves({ Body: body(JSON.stringify(manifest())) });
    const badKey = await startLot(eventFor(odd), deps());
    assert.equal(badKey.outcome, "quarantined");
    assert.equal(sfn.calls().length, 0);
  });

  it("leaves the manifest in place when the quarantine copy cannot be written", async () => {
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body("{nope") });
    s3.on(PutObjectCommand).rejects(serviceError("InternalError", 500));
    await assert.rejects(startLot(eventFor(key), deps()), {
      name: "TransientDependencyError",
      message: /quarantining s3:\/\/lots-bucket\/lots\/LOT-7\/manifest\.json/,
    });
    assert.equal(s3.commandCalls(DeleteObjectCommand).length, 0, "nothing deleted, nothing lost");
    assert.equal(sns.calls().length, 0);
  });

  it("calls a lot whose execution exists already_started, and retries a throttled start", async () => {
    const text = JSON.stringify(manifest());
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(text) });
    s3.on(GetObjectCommand, { Key: accepted }).resolves({ Body: body(text) });
    sfn.on(StartExecutionCommand).rejects(serviceError("ExecutionAlreadyExists", 400));
    assert.deepEqual(await startLot(eventFor(key), deps()), {
      outcome: "already_started",
      lotId: "LOT-7",
    });
    sfn.on(StartExecutionCommand).rejects(serviceError("ThrottlingException", 400));
    await assert.rejects(startLot(eventFor(key), deps()), { name: "TransientDependencyError" });
  });

  it("compares with the winner when another manifest took the lot id a moment before", async () => {
    const text = JSON.stringify(manifest());
    const winner = JSON.stringify(
      manifest({ images: [{ ...manifest().images[0], sha256: "d".repeat(64) }] }),
    );
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(text) });
    s3.on(GetObjectCommand, { Key: accepted })
      .rejectsOnce(serviceError("NoSuchKey", 404))
      .resolves({ Body: body(winner) });
    s3.on(PutObjectCommand, { Key: accepted, IfNoneMatch: "*" }).rejects(
      serviceError("PreconditionFailed", 412),
    );
    const result = await startLot(eventFor(key), deps());
    assert.equal(result.outcome, "lot_id_reused");
    assert.equal(sfn.calls().length, 0);
  });
});
