/**
 * Scanning a body as it passes, chunk by chunk, without keeping it: each chunk is searched as
 * the Buffer it arrived in, and the few bytes either side of the boundary with the previous
 * chunk (the junction) are searched as well, so a match split across two chunks (or many small
 * ones) is still found. Memory stays at one small buffer per scanned response, whatever the
 * body's size; no text is made of the body except around a candidate signature match.
 */
import { rarestChar } from "./atom-matcher.ts";

/**
 * The last `size` bytes of a stream, kept in one buffer (allocated when the first chunk is
 * kept, so a body scanned in one chunk allocates nothing), and the junction of those with the
 * next chunk.
 */
export class Overlap {
  /** Bytes kept of what came before: the longest match to be found across chunks. */
  readonly size: number;
  /** Bytes either side of a boundary in a junction: the longest literal to be found, less one. */
  readonly #head: number;
  #buf: Buffer | null = null;
  #start = 0;
  #end = 0;
  /** In the last junction, where the boundary is: the bytes before it were kept, the rest are the chunk's. */
  boundary = 0;

  constructor(size: number, head: number) {
    this.size = Math.max(size, head);
    this.#head = head;
  }

  /** Bytes kept so far (at most `size`). */
  get length(): number {
    return this.#end - this.#start;
  }

  /**
   * The last `head` kept bytes followed by the first `head` bytes of `chunk`, as one view into
   * the buffer, valid until the next keep(); null when nothing was kept yet.
   */
  junction(chunk: Buffer): Buffer | null {
    if (this.#end === this.#start || this.#head === 0 || chunk.length === 0) return null;
    const buf = this.#buf!;
    const from = Math.max(this.#start, this.#end - this.#head);
    const copied = chunk.copy(buf, this.#end, 0, Math.min(this.#head, chunk.length));
    this.boundary = this.#end - from;
    return buf.subarray(from, this.#end + copied);
  }

  /** The kept bytes then `chunk`, as latin1 text (one character per byte), for a regular expression. */
  text(chunk: Buffer | null): string {
    const kept = this.#buf === null ? "" : this.#buf.toString("latin1", this.#start, this.#end);
    return chunk === null ? kept : kept + chunk.toString("latin1");
  }

  /** Remember the end of `chunk`, after it has been searched. */
  keep(chunk: Buffer): void {
    const k = this.size;
    const n = chunk.length;
    if (k === 0 || n === 0) return;
    // Twice the size, so the kept bytes move to the front at most once per `size` bytes kept;
    // `head` more for the junction's copy of a chunk's first bytes.
    this.#buf ??= Buffer.allocUnsafe(2 * k + this.#head);
    const buf = this.#buf;
    if (n >= k) {
      chunk.copy(buf, 0, n - k, n);
      this.#start = 0;
      this.#end = k;
      return;
    }
    if (this.#end + n > 2 * k) {
      const kept = Math.min(this.#end - this.#start, k - n);
      buf.copyWithin(0, this.#end - kept, this.#end);
      this.#start = 0;
      this.#end = kept;
    }
    chunk.copy(buf, this.#end);
    this.#end += n;
    if (this.#end - this.#start > k) this.#start = this.#end - k;
  }
}

/** A fixed byte string to find (a decoy token, a reflected payload), with the byte it is looked for by. */
export interface Needle {
  /** Its bytes as latin1 text, one character per byte: for ASCII, the text itself (no Buffer). */
  wire: string;
  /** Its least common byte, and where that is in it. */
  anchor: number;
  at: number;
}

const NON_ASCII = /[\u0080-\uffff]/;

/** `text` as the UTF-8 bytes it is on the wire. */
export function needle(text: string): Needle {
  const wire = NON_ASCII.test(text) ? Buffer.from(text, "utf8").toString("latin1") : text;
  const at = rarestChar(wire);
  return { wire, anchor: wire.charCodeAt(at) || 0, at };
}

/** Anchor bytes tried one by one before the search is left to Buffer.indexOf of the whole needle. */
const TRIES = 8;

/**
 * Whether `haystack` contains the needle. Buffer.indexOf of a whole needle sets up a
 * Boyer-Moore-Horspool search on each call, which for a 1 KiB page costs as much as the rest of
 * the inspection; memchr for its least common byte, then a comparison, is a fraction of that.
 */
export function findNeedle(haystack: Buffer, n: Needle): boolean {
  const wire = n.wire;
  const length = wire.length;
  if (length === 0) return true;
  if (length > haystack.length) return false;
  let p = haystack.indexOf(n.anchor, n.at);
  for (let tries = 0; p !== -1; tries++) {
    const start = p - n.at;
    if (start + length > haystack.length) return false;
    let i = 0;
    while (i < length && haystack[start + i] === wire.charCodeAt(i)) i++;
    if (i === length) return true;
    // An anchor byte that is common in this body after all.
    if (tries === TRIES) return haystack.indexOf(wire, start + 1, "latin1") !== -1;
    p = haystack.indexOf(n.anchor, p + 1);
  }
  return false;
}

/**
 * Finds fixed byte strings (decoy tokens) in a stream without converting the body to text:
 * cheap enough to run on every text response. Each needle is reported once.
 */
export class LiteralScanner {
  readonly #needles: readonly Needle[];
  readonly #found: boolean[];
  readonly #overlap: Overlap;
  #remaining: number;

  constructor(needles: readonly Needle[]) {
    this.#needles = needles;
    this.#found = needles.map(() => false);
    this.#remaining = needles.length;
    const keep = Math.max(0, ...needles.map((n) => n.wire.length)) - 1;
    this.#overlap = new Overlap(keep, keep);
  }

  /** True once every needle was found: nothing is left to look for. */
  get done(): boolean {
    return this.#remaining === 0;
  }

  /**
   * The indexes of needles first found in `chunk` (or across its start); usually none. `last`:
   * no chunk follows, so nothing needs to be kept of this one.
   */
  scan(chunk: Buffer, last = false): number[] {
    const hits: number[] = [];
    if (this.#remaining === 0 || chunk.length === 0) return hits;
    // A needle that starts in the kept bytes and ends in this chunk lies within the junction.
    const junction = this.#overlap.junction(chunk);
    for (let i = 0; i < this.#needles.length; i++) {
      if (this.#found[i]) continue;
      const n = this.#needles[i]!;
      if (findNeedle(chunk, n) || (junction !== null && findNeedle(junction, n))) {
        this.#found[i] = true;
        this.#remaining--;
        hits.push(i);
      }
    }
    if (!last && this.#remaining > 0) this.#overlap.keep(chunk);
    return hits;
  }
}
