/**
 * A signature set (signatures.ts) searched in a body as it passes: atoms in the bytes of each
 * chunk and across its boundary with the one before, and a signature's pattern run over text
 * only where one of its atoms was seen.
 */

import type { AtomSink } from "./atom-matcher.ts";
import { MAX_MATCH, type Signature, type SignatureSet } from "./signatures.ts";
import { Overlap } from "./stream-scan.ts";

/** What a signature shows: error text, or a file's content. Each is reported once per response. */
export type Disclosure = "error" | "file";

export function disclosure(s: Signature): Disclosure {
  return s.family === "file" ? "file" : "error";
}

/**
 * The first signature of `set` found in `text` (latin1, one character per byte), or null: the
 * stream scanner below run over one chunk.
 */
export function findSignature(set: SignatureSet, text: string): Signature | null {
  let found: Signature | null = null;
  const scan = new SignatureScan(set, (s) => {
    found ??= s;
  });
  scan.write(Buffer.from(text, "latin1"), null, new Overlap(0, 0), true);
  return found;
}

/** Bytes of earlier chunks a SignatureScan needs kept: see `write`. */
export const SIGNATURE_OVERLAP = 3 * MAX_MATCH;

/**
 * A set's signatures found in a body as it passes, each kind of disclosure reported once (the
 * earliest in the chunk where one is found).
 *
 * Atoms are found in the chunk's bytes and across its boundary with the one before; a literal
 * signature is found with its atom. A signature with a pattern is confirmed by running the
 * pattern over text made of the kept bytes and the chunk: at the end of the chunk where its atom
 * was first seen (most matches are whole by then), and, if the match could still be unfinished
 * (the atom ended less than MAX_MATCH bytes before the chunk's end), once more at the end of the
 * first chunk that ends MAX_MATCH bytes past the latest atom seen, or at the body's end. A match
 * is at most MAX_MATCH long and contains its atom, so it lies within MAX_MATCH either side of
 * the atom; with SIGNATURE_OVERLAP (three times MAX_MATCH) bytes kept, the text of that later
 * chunk still holds all of it. So each pattern runs at most twice per MAX_MATCH bytes of body,
 * however many times a hostile body repeats its atom, and a body without atoms makes no text.
 */
export class SignatureScan implements AtomSink {
  readonly #set: SignatureSet;
  readonly #onFound: (s: Signature) => void;
  /** Disclosures still looked for. */
  #error: boolean;
  #file: boolean;
  /** Stream offset of the chunk being scanned, and its end. */
  #offset = 0;
  #end = 0;
  #chunk = 0;
  /** Stream offset of the first byte of what is being scanned: the chunk, or its junction. */
  #base = 0;
  /** Candidates of this chunk: the earliest of each disclosure, by stream offset. */
  #errorAt = Number.POSITIVE_INFINITY;
  #errorSig = -1;
  #fileAt = Number.POSITIVE_INFINITY;
  #fileSig = -1;
  /** By signature index, allocated at the first atom of a signature with a pattern. */
  #state: PatternState | null = null;

  constructor(set: SignatureSet, onFound: (s: Signature) => void) {
    this.#set = set;
    this.#onFound = onFound;
    this.#error = set.signatures.some((s) => disclosure(s) === "error");
    this.#file = set.signatures.some((s) => disclosure(s) === "file");
  }

  /** True once every disclosure the set can show was found. */
  get done(): boolean {
    return !this.#error && !this.#file;
  }

  /**
   * Scan `chunk`; `junction` is the overlap's junction for it (null for the first chunk), and
   * `overlap` holds the bytes before it (the caller keeps the chunk after this returns).
   * `last`: the body (or its inspected part) ends with this chunk.
   */
  write(chunk: Buffer, junction: Buffer | null, overlap: Overlap, last: boolean): void {
    if (this.done) return;
    this.#offset = this.#end;
    this.#end += chunk.length;
    this.#chunk++;
    const atoms = this.#set.atoms;
    if (junction !== null) {
      this.#base = this.#offset - overlap.boundary;
      atoms.scan(junction, this, overlap.boundary);
    }
    this.#base = this.#offset;
    atoms.scan(chunk, this);
    if (this.#state !== null) this.#confirm(overlap, chunk, last);
    this.#report();
  }

  /** The body ended after chunks that were kept: the last chance for a pending pattern. */
  end(overlap: Overlap): void {
    if (this.done || this.#state === null) return;
    this.#confirm(overlap, null, true);
    this.#report();
  }

  /** AtomSink: an atom ending at `at` in the bytes being scanned, which start at stream offset #base. */
  atom(atom: number, at: number): boolean {
    const end = this.#base + at;
    const index = this.#set.owner[atom]!;
    const s = this.#set.signatures[index]!;
    const what = disclosure(s);
    if (what === "error" ? !this.#error : !this.#file) return false;
    if (s.pattern === null) {
      this.#candidate(index, end - this.#set.atoms.length(atom));
      return false;
    }
    this.#state ??= new PatternState(this.#set.signatures.length);
    const state = this.#state;
    if (end > state.lastHit[index]!) state.lastHit[index] = end;
    if (state.due[index] === -1 && state.seen[index] !== this.#chunk) {
      state.seen[index] = this.#chunk;
      state.now.push(index);
    }
    return false;
  }

  #candidate(index: number, at: number): void {
    if (disclosure(this.#set.signatures[index]!) === "error") {
      if (at < this.#errorAt) {
        this.#errorAt = at;
        this.#errorSig = index;
      }
    } else if (at < this.#fileAt) {
      this.#fileAt = at;
      this.#fileSig = index;
    }
  }

  /** Run the patterns that are due (all pending ones when `last`) over the kept bytes and `chunk`. */
  #confirm(overlap: Overlap, chunk: Buffer | null, last: boolean): void {
    const state = this.#state!;
    const signatures = this.#set.signatures;
    const end = this.#end;
    let text: string | null = null;
    const test = (index: number): void => {
      const s = signatures[index]!;
      if (disclosure(s) === "error" ? !this.#error : !this.#file) return;
      text ??= overlap.text(chunk);
      const m = s.pattern!.exec(text);
      if (m !== null) this.#candidate(index, end - text.length + m.index);
      else if (!last && state.lastHit[index]! + MAX_MATCH > end) {
        state.armed.push(index);
        state.due[index] = state.lastHit[index]! + MAX_MATCH;
        return;
      }
      state.due[index] = -1;
    };
    const now = state.now.splice(0);
    const armed = state.armed;
    state.armed = [];
    for (const index of now) test(index);
    for (const index of armed) {
      if (last || state.due[index]! <= end) test(index);
      else state.armed.push(index);
    }
  }

  #report(): void {
    const signatures = this.#set.signatures;
    if (this.#errorSig !== -1 && this.#error) {
      this.#error = false;
      this.#onFound(signatures[this.#errorSig]!);
    }
    if (this.#fileSig !== -1 && this.#file) {
      this.#file = false;
      this.#onFound(signatures[this.#fileSig]!);
    }
    this.#errorAt = this.#fileAt = Number.POSITIVE_INFINITY;
    this.#errorSig = this.#fileSig = -1;
  }
}

/** Per signature with a pattern: its latest atom's end, when its pattern is due, which chunk saw it. */
class PatternState {
  readonly lastHit: Float64Array;
  /** Stream offset at which the pattern runs again; -1 while it is not pending. */
  readonly due: Float64Array;
  readonly seen: Float64Array;
  /** Signatures first seen in this chunk, to run at its end. */
  now: number[] = [];
  /** Signatures with a due offset. */
  armed: number[] = [];

  constructor(n: number) {
    this.lastHit = new Float64Array(n);
    this.due = new Float64Array(n).fill(-1);
    this.seen = new Float64Array(n);
  }
}
