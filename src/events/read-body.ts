/**
 * Read a small request body whole, for the event socket and the admin API. A body over
 * `maxBytes` is refused with 413, but still read to its end (without keeping it) while under
 * `drainBytes`, so an HTTP client sees the answer instead of a reset connection; past that, or
 * when Content-Length already says so, reading stops and the connection is to be closed.
 */
import type { IncomingMessage } from "node:http";

export type BodyResult =
  | { ok: true; body: string }
  | { ok: false; status: number; error: string; close: boolean };

export interface BodyLimits {
  maxBytes: number;
  drainBytes: number;
  /** The 413's message, saying what fits. */
  tooLarge: string;
}

export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<BodyResult> {
  const tooLarge = (close: boolean): BodyResult => ({
    ok: false,
    status: 413,
    error: limits.tooLarge,
    close,
  });
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limits.drainBytes) {
    req.pause();
    return Promise.resolve(tooLarge(true));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limits.drainBytes) {
        done = true;
        req.pause();
        resolve(tooLarge(true));
      } else if (size <= limits.maxBytes) {
        chunks.push(chunk);
      } else {
        chunks.length = 0;
      }
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      if (size > limits.maxBytes) return resolve(tooLarge(false));
      resolve({ ok: true, body: new TextDecoder("utf-8").decode(Buffer.concat(chunks)) });
    });
    req.on("error", () => {
      if (done) return;
      done = true;
      resolve({ ok: false, status: 400, error: "the request body was cut off", close: true });
    });
  });
}
