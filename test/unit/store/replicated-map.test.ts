/** The in-memory ReplicatedMap's own bounds: expiry by the clock, and at most maxEntries. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../../src/store/clock.ts";
import { MemoryReplicatedMap } from "../../../src/store/replicated-map.ts";

describe("MemoryReplicatedMap", () => {
  it("holds at most maxEntries, forgetting the oldest set first; setting a key again makes it newest", async () => {
    const clock = new ManualClock(1_000);
    const map = new MemoryReplicatedMap<string>({ clock, maxEntries: 2, sweepMs: 0 });
    map.set("a", "1", 10_000);
    map.set("b", "2", 10_000);
    map.set("a", "1'", 10_000);
    map.set("c", "3", 10_000);
    assert.deepEqual(
      [...map.entries()].map((e) => e.key),
      ["a", "c"],
    );
    assert.equal(map.get("b"), undefined);
    await map.close();
  });
});
