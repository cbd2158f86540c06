import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TtlMap } from "../../../src/store/ttl-map.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("TtlMap", () => {
  it("forgets entries after their TTL", () => {
    const c = clock();
    const m = new TtlMap<string, number>({ maxEntries: 10, ttlMs: 1000, clock: c });
    m.set("a", 1);
    c.advance(999);
    assert.equal(m.get("a"), 1);
    c.advance(1);
    assert.equal(m.get("a"), undefined);
  });

  it("stays within its bound, evicting the oldest", () => {
    const c = clock();
    const m = new TtlMap<number, number>({ maxEntries: 100, ttlMs: 60_000, clock: c });
    for (let i = 0; i < 10_000; i++) m.set(i, i);
    assert.equal(m.size, 100);
    assert.equal(m.get(9_899), undefined);
    assert.equal(m.get(9_900), 9_900);
    assert.equal(m.evicted, 9_900);
  });

  it("re-setting a key refreshes it", () => {
    const c = clock();
    const m = new TtlMap<string, string>({ maxEntries: 2, ttlMs: 1000, clock: c });
    m.set("a", "1");
    m.set("b", "2");
    m.set("a", "3");
    m.set("c", "4");
    assert.equal(m.get("b"), undefined, "b was the oldest");
    assert.equal(m.get("a"), "3");
  });

  it("sweeps expired entries as new ones arrive, so memory follows live traffic", () => {
    const c = clock();
    const m = new TtlMap<number, number>({ maxEntries: 1_000_000, ttlMs: 1000, clock: c });
    for (let i = 0; i < 1000; i++) m.set(i, i);
    c.advance(2000);
    m.set(-1, -1);
    assert.equal(m.size, 1);
  });
});
