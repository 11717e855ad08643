// Manifest validation in the start function: every problem named, nothing invalid ever started.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { manifestProblems } from "../../functions/start-lot/core.ts";

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
