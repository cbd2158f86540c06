/**
 * MemoryReplicatedMap: the contract's local cases, and the factory's choice of it when there is
 * no Redis.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import { createReplicatedMap } from "../../src/store/create-replicated-map.ts";
import { MemoryReplicatedMap } from "../../src/store/replicated-map.ts";
import { itemCodec, replicatedMapContract } from "./replicated-map-contract.ts";

replicatedMapContract("memory", async (clock) => {
  const map = new MemoryReplicatedMap<{ id: string; n: number }>({ clock });
  return { map, cleanup: () => map.close() };
});

describe("createReplicatedMap", () => {
  it("keeps the map in this process when there is no Redis", async () => {
    const clock = new ManualClock(Date.now());
    const map = createReplicatedMap({ redis: null, app: "a", name: "decisions", codec: itemCodec, clock });
    assert.ok(map instanceof MemoryReplicatedMap);
    assert.deepEqual(map.status(), { kind: "memory", status: "up" });
    assert.equal(map.loaded(), true);
    await map.close();
  });
});
