// Unit tests of when the inbox watcher considers a lot directory complete, and of error.txt.
import assert from "node:assert/strict";
import { describe, test } from "vitest";
import {
  LotBusyError,
  LotFileError,
  SourceChangedError,
  UploadError,
} from "../../edge-agent/errors.ts";
import {
  type DirSnapshot,
  describeFailure,
  LotReadiness,
  mayPassLater,
} from "../../edge-agent/inbox.ts";

function snap(fingerprint: string, hasLotFile = false, fileCount = 1): DirSnapshot {
  return { fingerprint, hasLotFile, fileCount };
}

describe("LotReadiness", () => {
  test("a lot without lot.json is ready only after quietMs without change", () => {
    const readiness = new LotReadiness(1000);
    assert.equal(readiness.observe("lot", snap("a"), 0), false, "first sight");
    assert.equal(readiness.observe("lot", snap("a"), 500), false, "quiet for too short");
    assert.equal(
      readiness.observe("lot", snap("b"), 900),
      false,
      "a file grew: the clock restarts",
    );
    assert.equal(readiness.observe("lot", snap("b"), 1800), false);
    assert.equal(readiness.observe("lot", snap("b"), 1900), true);
  });
  test("lot.json makes a lot ready once the folder looks the same twice", () => {
    const readiness = new LotReadiness(60_000);
    assert.equal(
      readiness.observe("lot", snap("a", true), 0),
      false,
      "lot.json may be half written",
    );
    assert.equal(readiness.observe("lot", snap("a2", true), 10), false, "still changing");
    assert.equal(readiness.observe("lot", snap("a2", true), 20), true);
  });
  test("an empty folder is never ready, and lots are tracked apart", () => {
    const readiness = new LotReadiness(0);
    assert.equal(readiness.observe("empty", snap("", false, 0), 0), false);
    assert.equal(readiness.observe("empty", snap("", false, 0), 10_000), false);
    assert.equal(readiness.observe("one", snap("x"), 0), false);
    assert.equal(readiness.observe("two", snap("x"), 0), false);
    assert.equal(readiness.observe("one", snap("x"), 1), true);
  });
  test("forgetting a lot makes it start over", () => {
    const readiness = new LotReadiness(0);
    readiness.observe("lot", snap("x"), 0);
    readiness.forget("lot");
    assert.equal(readiness.observe("lot", snap("x"), 1), false);
    readiness.keepOnly(new Set());
    assert.equal(readiness.observe("lot", snap("x"), 2), false);
  });
});

describe("describeFailure", () => {
  test("names the error and its causes for error.txt", () => {
    const text = describeFailure(
      new Error("upload failed", { cause: new RangeError("part 3", { cause: "plain string" }) }),
      new Date("2026-01-01T00:00:00.000Z"),
    );
    assert.match(
      text,
      /^failed at 2026-01-01T00:00:00.000Z\nerror: Error: upload failed\ncaused by: RangeError: part 3\ncaused by: Error: plain string\n/,
    );
  });
});

describe("mayPassLater", () => {
  test("keeps lots in the inbox for network trouble, a busy lot or a machine still writing", () => {
    const network = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    assert.ok(mayPassLater(new UploadError("upload stopped", { cause: network })));
    assert.ok(mayPassLater(new LotBusyError("busy")));
    assert.ok(mayPassLater(new SourceChangedError("growing")));
  });
  test("files away lots that are wrong in themselves", () => {
    assert.equal(mayPassLater(new LotFileError("lot.json: field 'x'")), false);
    assert.equal(
      mayPassLater(
        new UploadError("denied", {
          cause: Object.assign(new Error("AccessDenied"), {
            name: "AccessDenied",
            $metadata: { httpStatusCode: 403 },
          }),
        }),
      ),
      false,
    );
  });
});
