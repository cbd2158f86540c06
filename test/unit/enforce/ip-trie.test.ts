import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { ipv4ToUint32 } from "../../../src/actor/cidr.ts";
import { PrefixTrie, parseAddress } from "../../../src/enforce/ip-trie.ts";

/** Words of an address as parseAddress writes them, from ipaddr.js bytes. */
function wordsOf(bytes: number[]): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!);
  }
  return words;
}

function v4(text: string): number {
  return ipv4ToUint32(text) | 0;
}

function v6(text: string): Int32Array {
  return Int32Array.from(wordsOf(ipaddr.IPv6.parse(text).toByteArray()));
}

/**
 * The trie with labels for values, so that assertions read as the networks they name: the trie
 * holds each label's number in a list of labels.
 */
class LabelTrie {
  readonly trie: PrefixTrie;
  readonly #labels: string[] = [];
  constructor(family: 4 | 6, capacity?: number) {
    this.trie = new PrefixTrie(family, capacity);
  }
  set(key: ArrayLike<number>, prefix: number, label: string): void {
    this.#labels.push(label);
    this.trie.set(key, prefix, this.#labels.length - 1);
  }
  get(key: ArrayLike<number>, prefix: number): string | undefined {
    const n = this.trie.get(key, prefix);
    return n === undefined ? undefined : this.#labels[n];
  }
  delete(key: ArrayLike<number>, prefix: number): boolean {
    return this.trie.delete(key, prefix);
  }
  clear(): void {
    this.trie.clear();
  }
  get size(): number {
    return this.trie.size;
  }
  get nodes(): number {
    return this.trie.nodes;
  }
  collect4(addr: number, out: string[]): number {
    const rows: number[] = [];
    const count = this.trie.collect4(addr, rows);
    for (let i = 0; i < count; i++) out[i] = this.#labels[rows[i]!]!;
    return count;
  }
  collect6(addr: Int32Array, out: string[]): number {
    const rows: number[] = [];
    const count = this.trie.collect6(addr, rows);
    for (let i = 0; i < count; i++) out[i] = this.#labels[rows[i]!]!;
    return count;
  }
}

function collected4(trie: { collect4(addr: number, out: (string | number)[]): number }, addr: string) {
  const out: (string | number)[] = [];
  return out.slice(0, trie.collect4(v4(addr), out));
}

function collected6(trie: { collect6(addr: Int32Array, out: (string | number)[]): number }, addr: string) {
  const out: (string | number)[] = [];
  return out.slice(0, trie.collect6(v6(addr), out));
}

/** Whether `addr` lies in key/prefix, bit by bit: the slow definition the trie must agree with. */
function contains(key: number[], prefix: number, addr: number[]): boolean {
  for (let i = 0; i < prefix; i++) {
    const w = i >>> 5;
    const bit = 31 - (i & 31);
    if (((key[w]! >>> bit) & 1) !== ((addr[w]! >>> bit) & 1)) return false;
  }
  return true;
}

describe("PrefixTrie, IPv4", () => {
  it("finds every stored prefix containing an address, shortest first, /0 and /32 included", () => {
    const t = new LabelTrie(4);
    t.set([v4("0.0.0.0")], 0, "/0");
    t.set([v4("10.0.0.0")], 8, "/8");
    t.set([v4("10.1.0.0")], 16, "/16");
    t.set([v4("10.1.2.0")], 24, "/24");
    t.set([v4("10.1.2.3")], 32, "/32");
    t.set([v4("10.1.2.128")], 25, "/25 other half");
    assert.deepEqual(collected4(t, "10.1.2.3"), ["/0", "/8", "/16", "/24", "/32"]);
    assert.deepEqual(collected4(t, "10.1.2.4"), ["/0", "/8", "/16", "/24"]);
    assert.deepEqual(collected4(t, "10.1.2.200"), ["/0", "/8", "/16", "/24", "/25 other half"]);
    assert.deepEqual(collected4(t, "10.2.0.1"), ["/0", "/8"]);
    assert.deepEqual(collected4(t, "11.0.0.0"), ["/0"]);
    assert.deepEqual(collected4(t, "255.255.255.255"), ["/0"]);
    assert.equal(t.size, 6);
  });

  it("ignores host bits past the prefix and replaces a value set twice", () => {
    const t = new LabelTrie(4);
    t.set([v4("192.0.2.77")], 24, "a");
    t.set([v4("192.0.2.0")], 24, "b");
    assert.equal(t.size, 1);
    assert.equal(t.get([v4("192.0.2.1")], 24), "b");
    assert.deepEqual(collected4(t, "192.0.2.255"), ["b"]);
    assert.deepEqual(collected4(t, "192.0.3.0"), []);
  });

  it("matches at the top and bottom of the address space (sign bit, all ones)", () => {
    const t = new LabelTrie(4);
    t.set([v4("128.0.0.0")], 1, "upper half");
    t.set([v4("255.255.255.255")], 32, "broadcast");
    t.set([v4("0.0.0.0")], 32, "zero");
    assert.deepEqual(collected4(t, "255.255.255.255"), ["upper half", "broadcast"]);
    assert.deepEqual(collected4(t, "128.0.0.0"), ["upper half"]);
    assert.deepEqual(collected4(t, "127.255.255.255"), []);
    assert.deepEqual(collected4(t, "0.0.0.0"), ["zero"]);
  });

  it("splices out what delete leaves empty, back to the bare root", () => {
    const t = new PrefixTrie(4);
    const keys = ["10.0.0.1", "10.0.0.2", "10.0.0.0", "10.0.1.0", "10.128.0.0", "192.168.0.1"];
    const prefixes = [32, 32, 24, 24, 9, 32];
    keys.forEach((k, i) => {
      t.set([v4(k)], prefixes[i]!, i);
    });
    assert.ok(t.nodes > keys.length);
    assert.equal(t.delete([v4("10.0.0.0")], 24), true);
    assert.equal(t.delete([v4("10.0.0.0")], 24), false, "already gone");
    assert.equal(t.delete([v4("10.0.0.0")], 23), false, "never there");
    assert.deepEqual(collected4(t, "10.0.0.2"), [1]);
    for (const [i, k] of keys.entries()) t.delete([v4(k)], prefixes[i]!);
    assert.equal(t.size, 0);
    assert.equal(t.nodes, 1, "only the root is left");
    assert.deepEqual(collected4(t, "10.0.0.1"), []);
  });

  it("agrees with a bit-by-bit scan over random sets, deletes and lookups", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        key: fc.integer(),
        prefix: fc.integer({ min: 0, max: 32 }),
      }),
      fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("clear" as const) }),
    );
    // Keys from a few clusters so that prefixes nest and share long paths.
    const address = fc.oneof(fc.integer(), fc.integer({ min: 0x0a000000, max: 0x0a0000ff }));
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200, size: "large" }),
        fc.array(address, { maxLength: 30 }),
        (ops, lookups) => {
          const t = new LabelTrie(4, 2);
          const naive = new Map<string, { key: number; prefix: number; value: string }>();
          ops.forEach((o, i) => {
            if (o.kind === "set") {
              const masked = o.prefix === 0 ? 0 : o.key & (-1 << (32 - o.prefix));
              t.set([o.key], o.prefix, `v${i}`);
              naive.set(`${masked}/${o.prefix}`, { key: masked, prefix: o.prefix, value: `v${i}` });
            } else if (o.kind === "delete") {
              const all = [...naive.values()];
              if (all.length === 0) return;
              const victim = all[o.pick % all.length]!;
              assert.equal(t.delete([victim.key], victim.prefix), true);
              naive.delete(`${victim.key}/${victim.prefix}`);
            } else {
              t.clear();
              naive.clear();
            }
          });
          assert.equal(t.size, naive.size);
          assert.ok(t.nodes <= 2 * naive.size + 1, "no leaked nodes");
          for (const addr of [...lookups, ...[...naive.values()].map((e) => e.key)]) {
            const out: string[] = [];
            const got = out.slice(0, t.collect4(addr, out));
            const want = [...naive.values()]
              .filter((e) => contains([e.key], e.prefix, [addr]))
              .sort((a, b) => a.prefix - b.prefix)
              .map((e) => e.value);
            assert.deepEqual(got, want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("PrefixTrie, IPv6", () => {
  it("finds nested prefixes of many lengths, /0 to /128", () => {
    const t = new LabelTrie(6);
    const nets: [string, number][] = [
      ["::", 0],
      ["2001:db8::", 32],
      ["2001:db8:abcd::", 47],
      ["2001:db8:abcd::", 48],
      ["2001:db8:abcd:12::", 64],
      ["2001:db8:abcd:12::", 65],
      ["2001:db8:abcd:12::8000", 113],
      ["2001:db8:abcd:12::8001", 128],
    ];
    for (const [net, prefix] of nets) t.set(v6(net), prefix, `/${prefix}`);
    assert.deepEqual(
      collected6(t, "2001:db8:abcd:12::8001"),
      nets.map(([, p]) => `/${p}`),
    );
    assert.deepEqual(collected6(t, "2001:db8:abcd:12::8002"), [
      "/0",
      "/32",
      "/47",
      "/48",
      "/64",
      "/65",
      "/113",
    ]);
    assert.deepEqual(collected6(t, "2001:db8:abcd:12:8000::"), ["/0", "/32", "/47", "/48", "/64"]);
    assert.deepEqual(collected6(t, "2001:db8:abcc::1"), ["/0", "/32", "/47"]);
    assert.deepEqual(collected6(t, "2001:db9::"), ["/0"]);
    assert.deepEqual(collected6(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["/0"]);
  });

  it("agrees with a bit-by-bit scan over random sets, deletes and lookups", () => {
    const word = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 0x20010db8));
    const key = fc.tuple(fc.constant(0x20010db8), word, word, word);
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key, prefix: fc.integer({ min: 0, max: 128 }) }),
      fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120, size: "large" }),
        fc.array(key, { maxLength: 20 }),
        (ops, lookups) => {
          const t = new LabelTrie(6, 2);
          const naive = new Map<string, { key: number[]; prefix: number; value: string }>();
          ops.forEach((o, i) => {
            if (o.kind === "set") {
              const masked = o.key.map((w, j) => {
                const bits = o.prefix - 32 * j;
                return bits >= 32 ? w : bits <= 0 ? 0 : w & (-1 << (32 - bits));
              });
              t.set(o.key, o.prefix, `v${i}`);
              naive.set(`${masked.join(",")}/${o.prefix}`, { key: masked, prefix: o.prefix, value: `v${i}` });
            } else {
              const all = [...naive.values()];
              if (all.length === 0) return;
              const victim = all[o.pick % all.length]!;
              assert.equal(t.delete(victim.key, victim.prefix), true);
              naive.delete(`${victim.key.join(",")}/${victim.prefix}`);
            }
          });
          assert.equal(t.size, naive.size);
          assert.ok(t.nodes <= 2 * naive.size + 1, "no leaked nodes");
          for (const addr of [...lookups, ...[...naive.values()].map((e) => e.key)]) {
            const out: string[] = [];
            const got = out.slice(0, t.collect6(Int32Array.from(addr), out));
            const want = [...naive.values()]
              .filter((e) => contains(e.key, e.prefix, addr))
              .sort((a, b) => a.prefix - b.prefix)
              .map((e) => e.value);
            assert.deepEqual(got, want);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses prefix lengths outside the family", () => {
    const t = new LabelTrie(4);
    assert.throws(() => t.set([0], 33, "x"), RangeError);
    assert.throws(() => t.set([0], -1, "x"), RangeError);
    assert.equal(t.get([0], 33), undefined);
    assert.equal(t.delete([0], 1.5), false);
  });

  it("put returns the node holding the value and says what it replaced", () => {
    const t = new PrefixTrie(4);
    const a = t.put([v4("10.1.2.0")], 24, 7);
    assert.equal(t.replaced, -1);
    assert.equal(t.nodeOf([v4("10.1.2.0")], 24), a);
    assert.equal(t.put([v4("10.1.2.0")], 24, 9), a, "the same network keeps its node");
    assert.equal(t.replaced, 7);
    const b = t.put([v4("10.1.3.0")], 24, 3);
    assert.equal(t.replaced, -1);
    assert.notEqual(b, a);
    assert.equal(t.valueAt(a), 9);
    assert.equal(t.valueAt(b), 3);
    assert.equal(t.size, 2);
  });

  it("holds row numbers only: a negative, fractional or oversized value is refused", () => {
    const t = new PrefixTrie(4);
    for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) assert.throws(() => t.set([0], 8, bad), TypeError);
    t.set([0], 8, 2 ** 31 - 1);
    assert.equal(t.get([0], 8), 2 ** 31 - 1);
    assert.equal(t.size, 1);
  });
});

/**
 * What parseAddress should produce for `text`: dotted quads as ipv4ToUint32 reads them (the
 * request side's IPv4 parser), the rest per ipaddr.js (the parser decisions are indexed with).
 */
function expected(text: string): { family: 0 | 4 | 6; words: number[] } {
  if (ipv4ToUint32(text) !== -1) return { family: 4, words: [v4(text)] };
  if (!ipaddr.IPv6.isValid(text)) return { family: 0, words: [] };
  const addr = ipaddr.IPv6.parse(text);
  if (addr.isIPv4MappedAddress()) return { family: 4, words: wordsOf(addr.toIPv4Address().toByteArray()) };
  return { family: 6, words: wordsOf(addr.toByteArray()) };
}

function parsed(text: string): { family: 0 | 4 | 6; words: number[] } {
  const out = new Int32Array(4);
  const family = parseAddress(text, out);
  return { family, words: family === 0 ? [] : [...out.subarray(0, family === 4 ? 1 : 4)] };
}

/** IPv4 tails parseAddress reads as ipaddr.js does: 1-3 decimal digits per part (no hex, no 0001). */
function plainTail(text: string): boolean {
  const tail = /[^:]*\.[^:]*$/.exec(text.replace(/%.*$/, ""))?.[0];
  return tail === undefined || /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(tail);
}

describe("parseAddress", () => {
  it("reads IPv4, IPv6 and IPv4-mapped text", () => {
    assert.deepEqual(parsed("203.0.113.9"), { family: 4, words: [v4("203.0.113.9")] });
    assert.deepEqual(parsed("255.255.255.255"), { family: 4, words: [-1] });
    assert.deepEqual(parsed("::ffff:203.0.113.9"), { family: 4, words: [v4("203.0.113.9")] });
    assert.deepEqual(parsed("::ffff:cb00:7109"), { family: 4, words: [v4("203.0.113.9")] });
    assert.deepEqual(parsed("::FFFF:CB00:7109"), { family: 4, words: [v4("203.0.113.9")] });
    assert.deepEqual(parsed("2001:db8::1"), { family: 6, words: [0x20010db8, 0, 0, 1] });
    assert.deepEqual(parsed("::"), { family: 6, words: [0, 0, 0, 0] });
    assert.deepEqual(parsed("::1"), { family: 6, words: [0, 0, 0, 1] });
    assert.deepEqual(parsed("fe80::1%eth0"), { family: 6, words: [v6("fe80::1")[0]!, 0, 0, 1] });
    assert.deepEqual(parsed("1:2:3:4:5:6:7:8"), { family: 6, words: [0x10002, 0x30004, 0x50006, 0x70008] });
    assert.deepEqual(parsed("1:2:3:4:5:6:1.2.3.4"), {
      family: 6,
      words: [0x10002, 0x30004, 0x50006, 0x01020304],
    });
  });

  it("refuses what is not an address, without throwing", () => {
    const bad = [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "12345::",
      "1:",
      ":1",
      "::1.2.3",
      "::1.2.3.4.5",
      "::256.0.0.1",
      "1.2.3.4%eth0",
      "fe80::1%",
      "fe80::1%eth-0",
      "[::1]",
      " ::1",
      "::1 ",
      "::g",
      "1.2.3.256",
      "1.2.3",
      "x".repeat(10_000),
      `${"1:".repeat(5000)}1`,
      "::ffff:0x7f.0.0.1",
    ];
    for (const text of bad) assert.equal(parseAddress(text, new Int32Array(4)), 0, JSON.stringify(text));
    for (const text of [null, undefined, 42, {}, ["::1"]]) {
      assert.equal(parseAddress(text as unknown as string, new Int32Array(4)), 0);
    }
  });

  const hexGroup = fc.stringMatching(/^[0-9a-fA-F]{1,4}$/);
  const octet = fc.integer({ min: 0, max: 255 }).map(String);
  const dotted = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
  /** RFC 4291 text forms: 8 groups, `::` anywhere, a dotted tail, a zone; plus near misses. */
  const ipv6Text = fc
    .record({
      groups: fc.array(hexGroup, { minLength: 0, maxLength: 9 }),
      gapAt: fc.option(fc.nat({ max: 9 })),
      tail: fc.option(dotted),
      zone: fc.option(fc.stringMatching(/^[0-9a-zA-Z]{1,6}$/)),
      mapped: fc.boolean(),
    })
    .map(({ groups, gapAt, tail, zone, mapped }) => {
      let parts = mapped ? ["0", "0", "0", "0", "0", "ffff", ...groups.slice(0, 2)] : groups;
      if (tail !== null) parts = [...parts.slice(0, 6), tail];
      let text = parts.join(":");
      if (gapAt !== null) {
        const at = Math.min(gapAt, parts.length);
        text = `${parts.slice(0, at).join(":")}::${parts.slice(at).join(":")}`;
      }
      return zone === null ? text : `${text}%${zone}`;
    });
  const chars = fc.constantFrom(..."0123456789abcdefABCDEF:.%/ []xg-".split(""));
  const mutated = fc
    .tuple(ipv6Text, fc.nat(), chars, fc.constantFrom("insert", "delete", "replace"))
    .map(([text, at, c, how]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      if (how === "insert") return text.slice(0, i) + c + text.slice(i);
      if (how === "delete") return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + c + text.slice(i + 1);
    });
  const garbage = fc.string({ unit: chars, maxLength: 50 });
  const anyText = fc.oneof(ipv6Text, mutated, garbage, dotted, fc.string({ maxLength: 60 }));

  it("agrees with ipaddr.js on valid text, and never accepts what ipaddr.js refuses", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const got = parsed(text);
        const want = expected(text);
        if (got.family !== 0) assert.deepEqual(got, want, `${JSON.stringify(text)} parsed differently`);
        else if (plainTail(text)) assert.equal(want.family, 0, `${JSON.stringify(text)} refused but valid`);
      }),
      { numRuns: 20_000 },
    );
  });

  it("accepts the valid forms it is given (so the agreement above is not vacuous)", () => {
    let valid = 0;
    fc.assert(
      fc.property(ipv6Text, (text) => {
        if (expected(text).family !== 0) {
          valid++;
          assert.notEqual(parsed(text).family, 0, JSON.stringify(text));
        }
      }),
      { numRuns: 5_000 },
    );
    assert.ok(valid > 1_000, `only ${valid} valid addresses generated`);
  });

  it("reads every canonical form Node and ipaddr.js print", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, sparse) => {
        if (sparse) bytes.fill(0, 2, 12);
        const addr = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6;
        // toFixedLengthString is in ipaddr.js 2.x but not in its typings.
        const fixed = (addr as unknown as { toFixedLengthString(): string }).toFixedLengthString();
        for (const text of [addr.toString(), addr.toNormalizedString(), fixed]) {
          assert.deepEqual(parsed(text), expected(text), text);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
