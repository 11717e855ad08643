// local/ stays under its measured share of what it serves plus its protocol code: growing it is a decision taken in docs/local-stack.md, not drift.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { measureLocalSize } from "../../scripts/local-size.ts";

/**
 * The share measured at round local16 (76.7%), with room for a fix or two. A feature that needs
 * more raises this number in the same commit and says why in docs/local-stack.md; what issues 6
 * and 7 added (built sandboxes, crash resume, dead letters, signatures) is why it is not lower.
 */
const LOCAL_SHARE_CEILING = 0.78;

describe("local/ size", () => {
  it("is at most its ceiling's share of what it serves plus its protocol code", () => {
    const size = measureLocalSize();
    assert.ok(size.protocol > 0 && size.served > 0);
    assert.ok(
      size.share <= LOCAL_SHARE_CEILING,
      `local/ is ${(100 * size.share).toFixed(1)}% (${size.local} lines) of what it serves plus its protocol code (${size.served} + ${size.protocol}); the ceiling is ${100 * LOCAL_SHARE_CEILING}%: shrink it, or raise the ceiling and say why in docs/local-stack.md`,
    );
  });
});
