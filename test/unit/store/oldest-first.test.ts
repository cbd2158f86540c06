/** A bounded map forgets its oldest entries first, in constant time, and its queue stays bounded. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OldestFirst } from "../../../src/store/oldest-first.ts";

function boundedSet(
  map: Map<string, { n: number }>,
  order: OldestFirst<string, { n: number }>,
  key: string,
  n: number,
  max: number,
) {
  const slot = { n };
  map.delete(key);
  map.set(key, slot);
  order.push(key, slot);
  order.trim(map, max);
}

describe("OldestFirst", () => {
  it("trims the oldest set first; a key set again counts from its last set", () => {
    const map = new Map<string, { n: number }>();
    const order = new OldestFirst<string, { n: number }>();
    boundedSet(map, order, "a", 1, 2);
    boundedSet(map, order, "b", 2, 2);
    boundedSet(map, order, "a", 3, 2);
    boundedSet(map, order, "c", 4, 2);
    assert.deepEqual([...map.keys()], ["a", "c"]);
  });

  it("keeps the newest sets and a bounded queue: a million sets on a bound of 10 000, keys reused", () => {
    const map = new Map<string, { n: number }>();
    const order = new OldestFirst<string, { n: number }>();
    let maxQueued = 0;
    for (let i = 0; i < 1_000_000; i++) {
      boundedSet(map, order, `k${i % 30_000}`, i, 10_000);
      maxQueued = Math.max(maxQueued, order.queued);
    }
    assert.equal(map.size, 10_000);
    for (let i = 990_000; i < 1_000_000; i++) assert.equal(map.get(`k${i % 30_000}`)?.n, i);
    assert.ok(maxQueued <= 2 * 10_000 + 1025, `the queue held ${maxQueued} records`);
  });

  it("does not grow below its bound either, when the same keys are set again and again", () => {
    const map = new Map<string, { n: number }>();
    const order = new OldestFirst<string, { n: number }>();
    for (let i = 0; i < 200_000; i++) boundedSet(map, order, `k${i % 10}`, i, 1_000);
    assert.equal(map.size, 10);
    assert.ok(order.queued <= 2 * 1_000 + 1025, `the queue held ${order.queued} records`);
  });
});
