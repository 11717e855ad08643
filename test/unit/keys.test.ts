// Untrusted names become safe S3 key segments; the lot key layout stays inside its lot.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  lotIdFromManifestKey,
  lotKeys,
  quarantineKey,
  safeSegment,
  UnsafeNameError,
} from "../../lib/keys.ts";

describe("safeSegment", () => {
  it("keeps ordinary wafer file names", () => {
    assert.equal(safeSegment("wafer-01.png"), "wafer-01.png");
  });
  it("drops directories, absolute paths and parent references", () => {
    assert.equal(safeSegment("../../etc/passwd"), "passwd");
    assert.equal(safeSegment("/abs/path/w.tif"), "w.tif");
    assert.equal(safeSegment("C:\\line\\w 1.png"), "w_1.png");
    assert.equal(safeSegment("..hidden..png"), "hidden.png");
  });
  it("refuses names with nothing usable left", () => {
    assert.throws(() => safeSegment(".."), UnsafeNameError);
    assert.throws(() => safeSegment("///"), UnsafeNameError);
  });
});

describe("lot keys", () => {
  it("lay a lot out under lots/<lotId>/", () => {
    assert.equal(lotKeys.image("LOT-1", "w1.png"), "lots/LOT-1/images/w1.png");
    assert.equal(lotKeys.manifest("LOT-1"), "lots/LOT-1/manifest.json");
    assert.equal(lotKeys.report("LOT-1"), "lots/LOT-1/report.json");
  });
  it("reject lot ids that could escape the prefix", () => {
    assert.throws(() => lotKeys.manifest("../x"), UnsafeNameError);
    assert.throws(() => lotKeys.manifest("a/b"), UnsafeNameError);
    assert.throws(() => lotKeys.manifest("a..b"), UnsafeNameError);
  });
  it("read the lot id back from a manifest key, and only from one", () => {
    assert.equal(lotIdFromManifestKey("lots/LOT-1/manifest.json"), "LOT-1");
    assert.equal(lotIdFromManifestKey("lots/a/b/manifest.json"), undefined);
    assert.equal(lotIdFromManifestKey("other/LOT-1/manifest.json"), undefined);
  });
  it("quarantine under a timestamped prefix without parent references", () => {
    const key = quarantineKey("lots/../x/manifest.json", new Date("2026-01-02T03:04:05.678Z"));
    assert.equal(key, "quarantine/2026-01-02T03-04-05-678Z/lots/x/manifest.json");
  });
});
