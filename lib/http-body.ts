// Reads an HTTP request body into memory up to a limit, refusing (without reading on) once it is exceeded.
import type { Readable } from "node:stream";

/**
 * The whole body, or `tooLarge(limit)` as soon as more than `limit` bytes arrived. The request
 * is paused, not destroyed, so the server can still answer (413) on the same connection.
 */
export function readBodyUpTo(
  request: Readable,
  limit: number,
  tooLarge: (limit: number) => Error,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settled = true;
        request.off("data", onData);
        request.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => {
      if (!settled) resolve(Buffer.concat(chunks, size));
      settled = true;
    });
    request.once("error", (cause) => {
      if (!settled) reject(cause);
      settled = true;
    });
  });
}
