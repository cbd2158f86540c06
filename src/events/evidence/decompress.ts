/**
 * Bounded decompression of a response body for inspection (`inspection.decompress: on`): the
 * compressed bytes the client receives are copied into a zlib stream off the request path, and
 * the decompressed text is handed to the scanners. At most `maxIn` bytes go in and `maxOut`
 * bytes come out: at `maxOut` the stream is destroyed, which stops zlib between two output
 * chunks, so a gzip bomb costs no more than an ordinary body of `maxOut` bytes.
 */
import {
  type BrotliDecompress,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  type Gunzip,
  type Inflate,
  type InflateRaw,
} from "node:zlib";
import type { Encoding } from "./content.ts";

export interface BoundedInflater {
  write(chunk: Buffer): void;
  /** The compressed body ended: zlib flushes what it holds, then closes. */
  end(): void;
}

type Stream = Gunzip | Inflate | InflateRaw | BrotliDecompress;

// zlib's output granularity: the overshoot past `maxOut` before the stream stops is below this.
const CHUNK = 16 * 1024;

export function boundedInflater(
  encoding: Exclude<Encoding, "identity" | "other">,
  maxIn: number,
  maxOut: number,
  onText: (chunk: Buffer) => void,
  /** Called once when decompression is over: the body ended, a bound was reached, or it failed. */
  onDone?: () => void,
): BoundedInflater {
  let stream: Stream | null = null;
  let fed = 0;
  let out = 0;
  let finished = false;

  const finish = () => {
    if (finished) return;
    finished = true;
    stream?.destroy();
    onDone?.();
  };

  function open(first: Buffer): Stream {
    const options = { chunkSize: CHUNK };
    const s =
      encoding === "gzip"
        ? createGunzip(options)
        : encoding === "br"
          ? createBrotliDecompress(options)
          : // `deflate` is zlib-wrapped (RFC 9110 8.4.1.2), but some servers send raw deflate.
            isZlibHeader(first)
            ? createInflate(options)
            : createInflateRaw(options);
    s.on("data", (data: Buffer) => {
      if (finished) return;
      const room = maxOut - out;
      const piece = data.length > room ? data.subarray(0, room) : data;
      out += piece.length;
      onText(piece);
      if (out >= maxOut) finish();
    });
    // Corrupt or truncated data ends inspection quietly: the client has the body either way.
    s.on("error", finish);
    s.on("end", finish);
    return s;
  }

  return {
    write(chunk) {
      if (finished || fed >= maxIn || chunk.length === 0) return;
      const piece = chunk.length > maxIn - fed ? chunk.subarray(0, maxIn - fed) : chunk;
      fed += piece.length;
      stream ??= open(piece);
      // A copy: the chunk's memory belongs to the response, which may reuse it once written.
      stream.write(Buffer.from(piece));
      if (fed >= maxIn) stream.end();
    },
    end() {
      if (finished) return;
      if (stream === null) return finish();
      if (fed < maxIn) stream.end();
    },
  };
}

/** RFC 1950: CM 8 (deflate) and a header checksum that divides by 31. */
function isZlibHeader(b: Buffer): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}
