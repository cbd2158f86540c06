/**
 * Many literal strings found in one pass over a text (Aho-Corasick, as a table-driven automaton).
 * Searching for each signature's atoms one String.includes at a time costs a pass over the body
 * per atom: with some eighty atoms that was most of what inspecting a flagged response cost.
 * Here each character costs one table lookup, whatever the number of atoms.
 *
 * Texts are latin1 (one character per byte, TextWindow), so the alphabet is 0..255; characters
 * that appear in no atom share one class, which keeps the table small (states × classes).
 */

export class AtomMatcher {
  readonly #classes = new Uint8Array(256);
  readonly #width: number;
  /** Next state for (state, class), states stored as their row offset (state × width). */
  readonly #next: Int32Array;
  /** By row offset: 1 where an atom ends, so the loop tests a byte, not an array. */
  readonly #terminal: Uint8Array;
  /** For each state, the atoms that end there (its own and those of its failure chain). */
  readonly #ends: readonly (readonly number[])[];

  constructor(atoms: readonly string[]) {
    // Class 0 is "in no atom"; every character used by an atom gets a class of its own.
    let width = 1;
    for (const atom of atoms) {
      for (let i = 0; i < atom.length; i++) {
        const c = atom.charCodeAt(i);
        if (c > 255) throw new Error(`atom ${JSON.stringify(atom)} is not latin1`);
        if (this.#classes[c] === 0) this.#classes[c] = width++;
      }
    }
    this.#width = width;
    // The trie.
    const children: Map<number, number>[] = [new Map()];
    const ends: number[][] = [[]];
    atoms.forEach((atom, index) => {
      let s = 0;
      for (let i = 0; i < atom.length; i++) {
        const k = this.#classes[atom.charCodeAt(i)]!;
        let t = children[s]!.get(k);
        if (t === undefined) {
          t = children.length;
          children.push(new Map());
          ends.push([]);
          children[s]!.set(k, t);
        }
        s = t;
      }
      ends[s]!.push(index);
    });
    // Failure links breadth first, folded into a full transition table.
    const next = new Int32Array(children.length * width);
    const fail = new Int32Array(children.length);
    const queue: number[] = [];
    for (let k = 0; k < width; k++) {
      const t = children[0]!.get(k);
      next[k] = t ?? 0;
      if (t !== undefined) queue.push(t);
    }
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head]!;
      ends[s]!.push(...ends[fail[s]!]!);
      for (let k = 0; k < width; k++) {
        const t = children[s]!.get(k);
        if (t === undefined) {
          next[s * width + k] = next[fail[s]! * width + k]!;
        } else {
          fail[t] = next[fail[s]! * width + k]!;
          next[s * width + k] = t;
          queue.push(t);
        }
      }
    }
    for (let i = 0; i < next.length; i++) next[i] = next[i]! * width;
    this.#next = next;
    const terminal = new Uint8Array(next.length);
    ends.forEach((e, state) => {
      if (e.length > 0) terminal[state * width] = 1;
    });
    this.#terminal = terminal;
    this.#ends = ends;
  }

  /**
   * Calls `onAtom(index)` for each atom occurrence in `text`, in order of where it ends, until
   * `onAtom` returns true; returns whether it did.
   */
  scan(text: string, onAtom: (index: number) => boolean): boolean {
    const classes = this.#classes;
    const next = this.#next;
    const terminal = this.#terminal;
    const width = this.#width;
    let row = 0;
    for (let i = 0; i < text.length; i++) {
      row = next[row + classes[text.charCodeAt(i) & 0xff]!]!;
      if (terminal[row] === 1) {
        for (const index of this.#ends[row / width]!) if (onAtom(index)) return true;
      }
    }
    return false;
  }
}
