// The one wording of zod failures: paths, the root, limits, labels and the offending value.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { z } from "zod";
import { describeZodError, issueWords } from "../../lib/zod-issues.ts";

const Schema = z.object({
  name: z.string(),
  images: z.array(z.object({ sha256: z.string().length(64) })),
});

function failure(input: unknown): z.ZodError {
  const parsed = Schema.safeParse(input);
  assert.equal(parsed.success, false);
  return (parsed as { error: z.ZodError }).error;
}

describe("issueWords / describeZodError", () => {
  it("names each issue by its dotted path, on one line", () => {
    const text = describeZodError(failure({ name: 1, images: [{ sha256: "ab" }] }));
    assert.doesNotMatch(text, /\n/);
    assert.match(text, /^name: .*string.*; images\.0\.sha256: .*64/);
  });

  it("calls an issue of the whole value (root)", () => {
    assert.match(describeZodError(failure([1, 2])), /^\(root\): /);
  });

  it("names at most `limit` issues and counts the rest", () => {
    const error = failure({ images: [{}, {}, {}] });
    assert.equal(error.issues.length, 4);
    const words = issueWords(error, { limit: 2 });
    assert.equal(words.length, 3);
    assert.equal(words[2], "and 2 more");
    assert.equal(issueWords(error, { limit: Number.POSITIVE_INFINITY }).length, 4);
  });

  it("introduces paths with the label and shows the value it got", () => {
    const input = { name: "x", images: [{ sha256: "ab" }] };
    const text = describeZodError(failure(input), { label: (p) => `field '${p}'`, input });
    assert.match(text, /^field 'images\.0\.sha256': .* \(got "ab"\)$/);
  });

  it("shows no value where the input has none at that path", () => {
    const input = { images: [] };
    assert.doesNotMatch(describeZodError(failure(input), { input }), /got/);
  });
});
