/**
 * Decision ids by row, and rows by id, without a JS string or a Map entry per decision (issue 5:
 * a million decisions loaded from Redis within 400 MB). As strings in a Map, a UUID id cost about
 * 90 bytes of V8 heap (the string, its Map entry, an array slot), every one of them allocated
 * while the snapshot loaded and promoted to the old generation, which V8 then let grow to twice
 * and more what it held before collecting. Here an id is bytes in a typed array, outside the
 * heap, and the lookup is an open-addressing hash table of row numbers.
 *
 * Each row has ID_BYTES bytes for its id: one byte per UTF-16 code unit, so ids of Latin-1 text
 * up to that length (every UUID, the ids Gatehouse makes) are held there; a longer id or one with
 * a wider code unit is kept as a string apart. The table probes linearly, stays at most half full
 * and deletes by shifting back the entries after the one removed (no tombstones, so lookups never
 * slow down with churn). The hash is FNV-1a over the code units with a per-table random seed and
 * a final mix; ids are made by Gatehouse or an operator, not by clients, so the seed is to spread
 * them, not a defence against chosen collisions.
 */

/** Bytes of id held per row; a UUID is 36 characters. */
const ID_BYTES = 36;
/** Length byte of a row whose id is held apart, as a string. */
const APART = 255;
const EMPTY = -1;
/** reserve() makes room for this many rows at most; past it the table grows as ids come. */
const MAX_RESERVED = 1 << 22;

export class IdTable {
  /** Row r's id in bytes [r * ID_BYTES, r * ID_BYTES + length). */
  #bytes = new Uint8Array(0);
  /** Row r's id length, or APART; 0 for a row without an id (an empty id is held apart). */
  #length = new Uint8Array(0);
  /** Row r's hash, so that growing the table and deleting never hash again. */
  #hash = new Int32Array(0);
  readonly #apart = new Map<number, string>();
  /** Row numbers, EMPTY where none; a power of two long. */
  #slots = new Int32Array(16).fill(EMPTY);
  #mask = 15;
  #size = 0;
  readonly #seed = (Math.random() * 0x1_0000_0000) | 0;
  /** The id last looked up and its hash. */
  #lastId: string | null = null;
  #lastHash = 0;

  /** Ids held. */
  get size(): number {
    return this.#size;
  }

  /** Make room for rows below `entries` and for that many ids, once (at most MAX_RESERVED). */
  reserve(entries: number): void {
    const rows = Math.min(Math.floor(entries), MAX_RESERVED);
    if (!(rows > 0)) return;
    if (rows > this.#length.length) this.#growRows(rows);
    let slots = this.#slots.length;
    while (slots < rows * 2) slots *= 2;
    if (slots > this.#slots.length) this.#rehash(slots);
  }

  /** The row of `id`, or -1. */
  get(id: string): number {
    const h = this.#hashOf(id);
    this.#lastId = id;
    this.#lastHash = h;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const row = slots[i]!;
      if (row === EMPTY) return -1;
      if (this.#hash[row] === h && this.#equals(row, id)) return row;
    }
  }

  /** Hold `id` for `row`; neither may be held already. */
  set(id: string, row: number): void {
    if (row >= this.#length.length) this.#growRows(Math.max(64, row + 1, this.#length.length * 2));
    if ((this.#size + 1) * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    // A set follows a get that missed (the index asks first): its hash is still good.
    const h = id === this.#lastId ? this.#lastHash : this.#hashOf(id);
    this.#hash[row] = h;
    if (!this.#copy(id, row)) {
      this.#length[row] = APART;
      this.#apart.set(row, id);
    }
    this.#place(row, h);
    this.#size++;
  }

  /** Forget the id of `row` (nothing when it has none). */
  delete(row: number): void {
    if (row >= this.#length.length || this.#length[row] === 0) return;
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#hash[row]! & mask;
    while (slots[i] !== row) i = (i + 1) & mask;
    // Shift back what follows in the run, unless it already sits at or after its home slot.
    for (let j = (i + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.#hash[slots[j]!]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots[i] = slots[j]!;
        i = j;
      }
    }
    slots[i] = EMPTY;
    if (this.#length[row] === APART) this.#apart.delete(row);
    this.#length[row] = 0;
    this.#size--;
  }

  /** The id of a row that has one. */
  idAt(row: number): string {
    const length = this.#length[row]!;
    if (length === APART) return this.#apart.get(row)!;
    const base = row * ID_BYTES;
    return String.fromCharCode.apply(null, this.#bytes.subarray(base, base + length) as unknown as number[]);
  }

  /** The ids of two rows in the order of `<` on their strings (UTF-16 code units). */
  compare(a: number, b: number): number {
    const la = this.#length[a]!;
    const lb = this.#length[b]!;
    if (la === APART || lb === APART) {
      const x = this.idAt(a);
      const y = this.idAt(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const bytes = this.#bytes;
    const n = Math.min(la, lb);
    for (let i = 0, pa = a * ID_BYTES, pb = b * ID_BYTES; i < n; i++, pa++, pb++)
      if (bytes[pa] !== bytes[pb]) return bytes[pa]! - bytes[pb]!;
    return la - lb;
  }

  /** Write `id` into the row's bytes; false when it does not fit there (held apart instead). */
  #copy(id: string, row: number): boolean {
    if (id.length === 0 || id.length > ID_BYTES) return false;
    const bytes = this.#bytes;
    const base = row * ID_BYTES;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c > 255) return false;
      bytes[base + i] = c;
    }
    this.#length[row] = id.length;
    return true;
  }

  #equals(row: number, id: string): boolean {
    const length = this.#length[row]!;
    if (length === APART) return this.#apart.get(row) === id;
    if (length !== id.length) return false;
    const bytes = this.#bytes;
    const base = row * ID_BYTES;
    for (let i = 0; i < length; i++) if (bytes[base + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  #hashOf(id: string): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    // FNV's low bits, which pick the slot, mix poorly on their own (murmur3's finaliser).
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  #place(row: number, h: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = h & mask;
    while (slots[i] !== EMPTY) i = (i + 1) & mask;
    slots[i] = row;
  }

  #rehash(capacity: number): void {
    const old = this.#slots;
    this.#slots = new Int32Array(capacity).fill(EMPTY);
    this.#mask = capacity - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== EMPTY) this.#place(old[i]!, this.#hash[old[i]!]!);
  }

  #growRows(rows: number): void {
    const bytes = new Uint8Array(rows * ID_BYTES);
    bytes.set(this.#bytes);
    this.#bytes = bytes;
    const length = new Uint8Array(rows);
    length.set(this.#length);
    this.#length = length;
    const hash = new Int32Array(rows);
    hash.set(this.#hash);
    this.#hash = hash;
  }
}
