// Request bodies are read whole up to the limit and refused, unread beyond it, past the limit.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, it } from "vitest";
import { readBodyUpTo } from "../../lib/http-body.ts";

class TooLarge extends Error {}

/** A request whose body is `chunks`; `open` leaves it unfinished, as a client still sending. */
function request(
  chunks: string[],
  open = false,
): { request: IncomingMessage; stream: PassThrough } {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(Buffer.from(chunk));
  if (!open) stream.end();
  return { request: stream as unknown as IncomingMessage, stream };
}

describe("readBodyUpTo", () => {
  it("returns every chunk of a body within the limit", async () => {
    const { request: req } = request(["ab", "cd", "e"]);
    const body = await readBodyUpTo(req, 5, () => new TooLarge());
    assert.equal(body.toString(), "abcde");
  });

  it("refuses a body one byte over the limit and leaves the stream paused, not destroyed", async () => {
    const { request: req, stream } = request(["abc", "def", "ghi"], true);
    await assert.rejects(
      readBodyUpTo(req, 5, (limit) => new TooLarge(`over ${limit}`)),
      (error: unknown) => error instanceof TooLarge && error.message === "over 5",
    );
    assert.equal(stream.isPaused(), true);
    assert.equal(stream.destroyed, false);
  });
});
