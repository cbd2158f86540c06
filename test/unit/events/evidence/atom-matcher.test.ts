/**
 * The byte-level multi-literal matcher against the obvious search: every occurrence of every
 * atom is reported, long atoms (sliding window) and short ones (anchor byte) alike, across a
 * chunk boundary exactly once, and hostile bodies (an anchor byte everywhere) cost a pass.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AtomMatcher, LONG } from "../../../../src/events/evidence/atom-matcher.ts";
import { ERROR_OR_FILE } from "../../../../src/events/evidence/signatures.ts";

function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** Every (atom, end) in `text`, the slow way; with `across`, those that span that offset. */
function naive(atoms: readonly string[], text: string, across = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    atoms.forEach((a, index) => {
      const end = i + a.length;
      if (text.startsWith(a, i) && (across === 0 || (i < across && end > across)))
        out.push(`${index}@${end}`);
    });
  }
  return out.sort();
}

function found(m: AtomMatcher, text: string, across = 0): string[] {
  const out: string[] = [];
  m.scan(
    Buffer.from(text, "latin1"),
    {
      atom(index, end) {
        out.push(`${index}@${end}`);
        return false;
      },
    },
    across,
  );
  return out.sort();
}

/** Text made of pieces of the atoms, whole atoms and random bytes: near misses everywhere. */
function texts(atoms: readonly string[], seed: number, count: number): string[] {
  const next = random(seed);
  const out: string[] = [];
  for (let t = 0; t < count; t++) {
    let s = "";
    const length = Math.floor(next() * 300);
    while (s.length < length) {
      const r = next();
      const atom = atoms[Math.floor(next() * atoms.length)]!;
      if (r < 0.3) {
        const i = Math.floor(next() * atom.length);
        s += atom.slice(i, i + 1 + Math.floor(next() * atom.length));
      } else if (r < 0.45) s += atom;
      else s += String.fromCharCode(Math.floor(next() * 256));
    }
    out.push(s);
  }
  return out;
}

const SIGNATURE_ATOMS = ERROR_OR_FILE.signatures.flatMap((s) => s.atoms);

describe("AtomMatcher", () => {
  it("finds what the obvious search finds, for the signature atoms", () => {
    const m = new AtomMatcher(SIGNATURE_ATOMS);
    for (const text of texts(SIGNATURE_ATOMS, 1, 3000)) {
      assert.deepEqual(found(m, text), naive(SIGNATURE_ATOMS, text), JSON.stringify(text));
    }
  });

  it("reports across a boundary only the occurrences the boundary cuts", () => {
    const m = new AtomMatcher(SIGNATURE_ATOMS);
    const next = random(2);
    for (const text of texts(SIGNATURE_ATOMS, 3, 3000)) {
      const across = 1 + Math.floor(next() * Math.max(1, text.length - 1));
      assert.deepEqual(
        found(m, text, across),
        naive(SIGNATURE_ATOMS, text, across),
        `${across} ${JSON.stringify(text)}`,
      );
    }
  });

  it("handles prefixes of one another, duplicates, bytes above 127, and only short or only long atoms", () => {
    const sets = [
      ["abcdefgh", "abcdefghij", "bcdefghi", "abcdefgh"],
      ["ab", "abc", "b:", ":b", "zz"],
      ["\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "\x00\x00", "é:é"],
      ["a".repeat(LONG), "a".repeat(LONG + 3), "aa"],
      ["root:x:0:0:", ":0:0:", ".js:", "(node:"],
    ];
    sets.forEach((atoms, i) => {
      const m = new AtomMatcher(atoms);
      for (const text of texts(atoms, 10 + i, 500)) {
        assert.deepEqual(found(m, text), naive(atoms, text), `set ${i}: ${JSON.stringify(text)}`);
      }
    });
  });

  it("stops when the callback says so", () => {
    const m = new AtomMatcher(["SQLITE_ERROR", ".js:"]);
    const seen: number[] = [];
    const stopped = m.scan(Buffer.from("a.js: SQLITE_ERROR b.js: c.js:"), {
      atom(index) {
        seen.push(index);
        return seen.length === 2;
      },
    });
    assert.equal(stopped, true);
    assert.equal(seen.length, 2);
  });

  it("scans hostile bodies completely: the anchor byte or an atom's prefix in every position", () => {
    const m = new AtomMatcher(SIGNATURE_ATOMS);
    const colons = ":".repeat(1 << 20);
    let count = 0;
    m.scan(Buffer.from(colons), {
      atom() {
        count++;
        return false;
      },
    });
    assert.equal(count, 0);
    const nearly = "SQLITE_ERRO".repeat(50_000);
    assert.deepEqual(found(m, nearly), []);
    // JSON: a colon every few bytes, each one an occurrence of the short atoms' anchor.
    const json = `{${Array.from({ length: 2000 }, (_, i) => `"k${i}":${i},"f${i}.js":"a.ts:${i}"`).join(",")}}`;
    assert.deepEqual(found(m, json), naive(SIGNATURE_ATOMS, json));
  });

  it("refuses atoms it cannot search for", () => {
    assert.throws(() => new AtomMatcher(["x"]), /shorter than two bytes/);
    assert.throws(() => new AtomMatcher(["snow ☃"]), /not latin1/);
  });
});
