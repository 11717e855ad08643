// template.yaml's remembered parse: a cached read returns exactly what the parse returns, only for the same text, never a parse JSON cannot hold, and each caller gets its own copy.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { loadTemplate, templateCacheKey } from "../../infra/template.ts";

const dir = mkdtempSync(join(tmpdir(), "waferflow-template-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A template of its own per test: the process remembers a parse by its text. */
function templateFile(name: string, text: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe("loadTemplate", () => {
  it("remembers a parse on disk under its text's key and reads it from there", () => {
    const cache = join(dir, "disk");
    const text =
      "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      Name: !Ref QueueName\n";
    const path = templateFile("disk", text);
    const first = loadTemplate(path, cache);
    assert.deepEqual(first, {
      Resources: {
        Queue: {
          Type: "AWS::SQS::Queue",
          Properties: { Name: { Ref: "QueueName" } },
        },
      },
    });
    assert.deepEqual(readdirSync(cache), [`${templateCacheKey(text)}.json`]);
    // Another text gets another key: an entry is only ever read for its own text.
    assert.notEqual(templateCacheKey(`${text} `), templateCacheKey(text));
    // What a later process reads is the entry (here: one written by hand under the same key).
    const other = join(dir, "disk-planted");
    mkdirSync(other);
    const plantedText = "Resources: {}\n";
    writeFileSync(
      join(other, `${templateCacheKey(plantedText)}.json`),
      JSON.stringify({ Resources: { FromCache: { Type: "X" } } }),
    );
    assert.deepEqual(loadTemplate(templateFile("planted", plantedText), other), {
      Resources: { FromCache: { Type: "X" } },
    });
  });

  it("gives every caller its own copy", () => {
    const path = templateFile("copies", "Resources:\n  A:\n    Type: T\n");
    const cache = join(dir, "copies");
    const first = loadTemplate(path, cache);
    (first.Resources.A as { Type: string }).Type = "changed";
    delete first.Resources.A;
    assert.deepEqual(loadTemplate(path, cache), { Resources: { A: { Type: "T" } } });
  });

  it("never remembers a parse JSON cannot hold exactly", () => {
    const cache = join(dir, "inexact");
    const path = templateFile("inexact", "Resources:\n  A:\n    Type: T\n    Big: .inf\n");
    const first = loadTemplate(path, cache);
    assert.equal((first.Resources.A as unknown as { Big: number }).Big, Number.POSITIVE_INFINITY);
    assert.equal(
      (loadTemplate(path, cache).Resources.A as unknown as { Big: number }).Big,
      Infinity,
    );
    assert.equal(existsSync(cache), false, "nothing written");
  });

  it("parses when the cache folder cannot be made", () => {
    // A file where the folder would be: no process, root included, can write under it.
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "");
    const path = templateFile("unwritable", "Resources:\n  B:\n    Type: U\n");
    assert.deepEqual(loadTemplate(path, join(blocker, "cache")), {
      Resources: { B: { Type: "U" } },
    });
  });
});
