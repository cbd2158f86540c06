/**
 * Scanning a body as it passes, chunk by chunk, without keeping it: each chunk is searched
 * together with a short tail of what came before, so a match split across two chunks (or many
 * small ones) is still found, and memory stays at one chunk plus the tail whatever the body's size.
 */

/**
 * Text view of a byte stream for pattern search. Bytes are read as latin1, one character per
 * byte, so any byte sequence (invalid UTF-8 and binary included) is searchable and a pattern is
 * compared with the bytes it would be on the wire (see `wireText`).
 */
export class TextWindow {
  readonly #overlap: number;
  #tail = "";

  /** `overlap`: the longest match to be found across chunks, in bytes. */
  constructor(overlap: number) {
    this.#overlap = overlap;
  }

  /** The text to search for `chunk`: the tail of earlier bytes, then the chunk. */
  next(chunk: Buffer): string {
    const text = this.#tail + chunk.toString("latin1");
    // A copy, not a slice: a slice would keep the whole chunk's text alive until the next one.
    this.#tail = text.length > this.#overlap ? copyOf(text.slice(text.length - this.#overlap)) : text;
    return text;
  }
}

function copyOf(s: string): string {
  return Buffer.from(s, "latin1").toString("latin1");
}

/** `text` as its UTF-8 bytes read as latin1: how it appears in a TextWindow. */
export function wireText(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/**
 * Finds fixed byte strings (decoy tokens) in a stream with Buffer.indexOf, without converting
 * the body to text: cheap enough to run on every text response. Each needle is reported once.
 */
export class LiteralScanner {
  readonly #needles: readonly Buffer[];
  readonly #keep: number;
  readonly #found: boolean[];
  #remaining: number;
  #tail: Buffer | null = null;

  constructor(needles: readonly Buffer[]) {
    this.#needles = needles;
    this.#keep = Math.max(0, ...needles.map((n) => n.length)) - 1;
    this.#found = needles.map(() => false);
    this.#remaining = needles.length;
  }

  /** True once every needle was found: nothing is left to look for. */
  get done(): boolean {
    return this.#remaining === 0;
  }

  /** The indexes of needles first found in `chunk` (or across its start); usually none. */
  scan(chunk: Buffer): number[] {
    const hits: number[] = [];
    if (this.#remaining === 0 || chunk.length === 0) return hits;
    // A needle that starts in the tail and ends in this chunk lies within tail + head of chunk.
    const junction = this.#tail === null ? null : Buffer.concat([this.#tail, chunk.subarray(0, this.#keep)]);
    for (let i = 0; i < this.#needles.length; i++) {
      if (this.#found[i]) continue;
      const needle = this.#needles[i]!;
      if (chunk.indexOf(needle) !== -1 || (junction !== null && junction.indexOf(needle) !== -1)) {
        this.#found[i] = true;
        this.#remaining--;
        hits.push(i);
      }
    }
    this.#tail = this.#keepTail(chunk);
    return hits;
  }

  #keepTail(chunk: Buffer): Buffer | null {
    const keep = this.#keep;
    if (keep === 0) return null;
    if (chunk.length >= keep) return Buffer.from(chunk.subarray(chunk.length - keep));
    // A chunk shorter than the overlap: the tail is the end of the old tail, then all of it.
    const joined = this.#tail === null ? chunk : Buffer.concat([this.#tail, chunk]);
    return Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
  }
}
