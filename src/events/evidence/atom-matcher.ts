/**
 * Many literal byte strings found in a body's bytes where they arrive (the chunk Buffers the
 * forwarder shows), with no text made of them and no per-byte table walk.
 *
 * Atoms of LONG bytes or more are found with Wu and Manber's multi-pattern search ("A fast
 * algorithm for multi-pattern searching", 1994): a window as long as the shortest of them slides
 * over the bytes, and its last two bytes say how far it may jump. A pair found in no atom's
 * prefix moves it by the window's length less one; only a pair that ends some atom's prefix
 * stops it, and then the atoms with that prefix end are compared byte by byte. Shorter atoms
 * (`.js:`, `ORA-`) would shrink every jump to a byte or two, so they are found instead through
 * one of their bytes, chosen to be uncommon in web pages and shared by as many of them as
 * possible (`:` for the file-and-line atoms): Buffer.indexOf of one byte is memchr, and the
 * atom is compared around each occurrence.
 *
 * Why not the Aho-Corasick automaton this replaced: it read every byte through a transition
 * table of states × byte classes, some 340 KB for the error signatures, which a sidecar sharing
 * its CPU with the app finds out of cache on each flagged response (issue 6, bench/RESULTS.md).
 */

/** Atoms at least this long are searched with the sliding window; shorter ones by one byte. */
export const LONG = 8;

/** Occurrences of an anchor byte found with Buffer.indexOf before the rest is read in a loop. */
const DENSE = 12;

/** Pair table size: for ASCII pairs `(a << 7) ^ b` is exact; other bytes share entries. */
const TABLE = 1 << 14;
const MASK = TABLE - 1;

function pair(a: number, b: number): number {
  return ((a << 7) ^ b) & MASK;
}

/**
 * Bytes of web pages, JSON and scripts, roughly most frequent first: an atom's anchor byte is
 * the one latest in this list (or absent from it). Only speed depends on it, never a result.
 */
const COMMON = ` e\nt"a<>o=i/sn-rl.c:dh,um;p_f0g1'2{}yb\t()3w&5v4k#9876x[]jzq!?*+|$@\\^%~\`\r`;
const RANK = new Int16Array(256).fill(COMMON.length);
for (let i = 0; i < COMMON.length; i++) RANK[COMMON.charCodeAt(i)] = i;
for (let c = 65; c <= 90; c++) RANK[c] = Math.max(RANK[c]!, COMMON.length - 1);

/** Where in `wire` (latin1, a byte a character) its least common byte is, by COMMON: the anchor to look for it by. */
export function rarestChar(wire: string): number {
  let best = 0;
  for (let i = 1; i < wire.length; i++) {
    if ((RANK[wire.charCodeAt(i) & 0xff] ?? 0) > (RANK[wire.charCodeAt(best) & 0xff] ?? 0)) best = i;
  }
  return best;
}

/** Told of each atom occurrence; returns true to stop the scan. An object, not a closure, so a scanner made per response allocates none. */
export interface AtomSink {
  atom(index: number, end: number): boolean;
}

/** Short atoms found through one byte: each atom with where that byte is in it. */
interface AnchorGroup {
  byte: number;
  atoms: readonly { index: number; at: number }[];
  /**
   * 1 for each byte that comes just before the anchor in one of the atoms (or just after it, in
   * `after`, for an atom that starts with it): most occurrences of the anchor are ruled out by
   * one table read (`":` in JSON, `a:` in CSS).
   */
  before: Uint8Array;
  after: Uint8Array;
}

export class AtomMatcher {
  /** Length of the longest atom, in bytes: what a match across two chunks can span. */
  readonly longest: number;
  readonly #atoms: readonly Uint8Array[];
  /** The sliding window's length: the shortest long atom (0 when there is none). */
  readonly #window: number;
  /** By pair hash: how far the window may move when its last two bytes hash there. */
  readonly #shift: Uint8Array;
  /** By pair hash: where its candidates start in #candidates (to the next entry's start). */
  readonly #from: Uint16Array;
  /** Long atom indexes whose prefix ends with a pair of that hash, grouped by hash. */
  readonly #candidates: Uint16Array;
  readonly #groups: readonly AnchorGroup[];

  /** `atoms`: latin1 text, one character per byte as on the wire; at least two bytes each. */
  constructor(atoms: readonly string[]) {
    if (atoms.length >= 0xffff) throw new Error("too many atoms");
    this.#atoms = atoms.map((atom) => {
      if (atom.length < 2) throw new Error(`atom ${JSON.stringify(atom)} is shorter than two bytes`);
      for (let i = 0; i < atom.length; i++) {
        if (atom.charCodeAt(i) > 255) throw new Error(`atom ${JSON.stringify(atom)} is not latin1`);
      }
      return Uint8Array.from(Buffer.from(atom, "latin1"));
    });
    this.longest = Math.max(0, ...atoms.map((a) => a.length));
    const long = this.#atoms.flatMap((a, index) => (a.length >= LONG ? [index] : []));
    const short = this.#atoms.flatMap((a, index) => (a.length < LONG ? [index] : []));

    const m = long.length === 0 ? 0 : Math.min(...long.map((i) => this.#atoms[i]!.length));
    this.#window = m;
    // A pair ending at offset q of some atom's prefix allows a move of m - 1 - q, no more.
    const shift = new Uint8Array(TABLE).fill(Math.min(255, Math.max(1, m - 1)));
    const ends: number[][] = Array.from({ length: TABLE }, () => []);
    for (const index of long) {
      const atom = this.#atoms[index]!;
      for (let q = 1; q < m; q++) {
        const h = pair(atom[q - 1]!, atom[q]!);
        shift[h] = Math.min(shift[h]!, m - 1 - q);
      }
      ends[pair(atom[m - 2]!, atom[m - 1]!)]!.push(index);
    }
    const from = new Uint16Array(TABLE + 1);
    for (let h = 0; h < TABLE; h++) from[h + 1] = from[h]! + ends[h]!.length;
    this.#candidates = Uint16Array.from(ends.flat());
    this.#shift = shift;
    this.#from = from;
    this.#groups = anchorGroups(this.#atoms, short);
  }

  /** Length of atom `index`, in bytes. */
  length(index: number): number {
    return this.#atoms[index]!.length;
  }

  /**
   * Calls `sink.atom(index, end)` for each atom occurrence in `bytes` (`end` one past its last
   * byte), long atoms first, until it returns true; returns whether it did. With `across`
   * > 0, only occurrences that start before offset `across` and end after it are reported: the
   * ones a chunk boundary at that offset cut in two.
   */
  scan(bytes: Buffer, sink: AtomSink, across = 0): boolean {
    return this.#scanLong(bytes, sink, across) || this.#scanShort(bytes, sink, across);
  }

  #scanLong(bytes: Buffer, sink: AtomSink, across: number): boolean {
    const m = this.#window;
    if (m === 0) return false;
    const n = bytes.length;
    const shift = this.#shift;
    const from = this.#from;
    const candidates = this.#candidates;
    const atoms = this.#atoms;
    const lastStart = across > 0 ? across - 1 : n;
    let j = m - 1;
    while (j < n) {
      const h = pair(bytes[j - 1]!, bytes[j]!);
      const s = shift[h]!;
      if (s !== 0) {
        j += s;
        continue;
      }
      const start = j - m + 1;
      if (start > lastStart) return false;
      for (let k = from[h]!, last = from[h + 1]!; k < last; k++) {
        const index = candidates[k]!;
        const atom = atoms[index]!;
        const end = start + atom.length;
        if (end > n || end <= across) continue;
        let i = m;
        while (i < atom.length && bytes[start + i] === atom[i]) i++;
        if (i === atom.length && equalPrefix(bytes, start, atom, m) && sink.atom(index, end)) return true;
      }
      j++;
    }
    return false;
  }

  #scanShort(bytes: Buffer, sink: AtomSink, across: number): boolean {
    const n = bytes.length;
    for (const group of this.#groups) {
      const byte = group.byte;
      let p = bytes.indexOf(byte);
      // Each Buffer.indexOf is a call into C++: where the byte is dense (`:` in JSON), a loop
      // here is cheaper than a call per occurrence.
      for (let calls = 1; p !== -1; calls++) {
        if (this.#shortAt(bytes, p, group, sink, across)) return true;
        if (calls < DENSE) {
          p = p + 1 < n ? bytes.indexOf(byte, p + 1) : -1;
          continue;
        }
        for (let i = p + 1; i < n; i++) {
          if (bytes[i] === byte && this.#shortAt(bytes, i, group, sink, across)) return true;
        }
        break;
      }
    }
    return false;
  }

  /** The group's atoms that have their anchor byte at `p`. */
  #shortAt(bytes: Buffer, p: number, group: AnchorGroup, sink: AtomSink, across: number): boolean {
    if (
      group.before[p > 0 ? bytes[p - 1]! : 256]! === 0 &&
      group.after[p + 1 < bytes.length ? bytes[p + 1]! : 256]! === 0
    )
      return false;
    for (const { index, at } of group.atoms) {
      const atom = this.#atoms[index]!;
      const start = p - at;
      const end = start + atom.length;
      if (start < 0 || end > bytes.length || end <= across || (across > 0 && start >= across)) continue;
      if (equalPrefix(bytes, start, atom, atom.length) && sink.atom(index, end)) return true;
    }
    return false;
  }
}

function equalPrefix(bytes: Buffer, start: number, atom: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[start + i] !== atom[i]) return false;
  return true;
}

/**
 * Anchor bytes for the short atoms: greedily the byte shared by the most of those not yet
 * anchored, the least common first among equals, so a handful of memchr passes covers them all.
 */
function anchorGroups(atoms: readonly Uint8Array[], short: readonly number[]): AnchorGroup[] {
  const groups: AnchorGroup[] = [];
  let left = [...short];
  while (left.length > 0) {
    let best = -1;
    let bestCount = 0;
    for (let byte = 0; byte < 256; byte++) {
      const count = left.filter((i) => atoms[i]!.includes(byte)).length;
      if (count > bestCount || (count === bestCount && count > 0 && RANK[byte]! > RANK[best]!)) {
        best = byte;
        bestCount = count;
      }
    }
    const mine = left.filter((i) => atoms[i]!.includes(best));
    const group: AnchorGroup = {
      byte: best,
      atoms: mine.map((index) => ({ index, at: atoms[index]!.indexOf(best) })),
      // Index 256 stands for "no byte there" (the anchor at an edge of the bytes).
      before: new Uint8Array(257),
      after: new Uint8Array(257),
    };
    for (const { index, at } of group.atoms) {
      if (at > 0) group.before[atoms[index]![at - 1]!] = 1;
      else group.after[atoms[index]![at + 1]!] = 1;
    }
    groups.push(group);
    left = left.filter((i) => !mine.includes(i));
  }
  return groups;
}
