/**
 * MemoryIncidentStore: the contract, and its bound: however many actors an attacker invents,
 * it keeps at most `maxIncidents` incidents and `maxActors` held actors and identity keys.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import type { IncidentUpdate } from "../../src/store/incident.ts";
import { MemoryIncidentStore } from "../../src/store/incident-store.ts";
import { incidentStoreContract } from "./incident-store-contract.ts";

incidentStoreContract("memory", async (clock) => {
  const store = new MemoryIncidentStore({ clock });
  return {
    store,
    cleanup: () => store.close(),
    replica: async () => store,
    elapse: async () => {},
  };
});

describe("MemoryIncidentStore", () => {
  it("stays within its bounds under a flood of invented actors", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryIncidentStore({ clock, maxIncidents: 100, maxActors: 500 });
    const update = (i: number, opens: boolean): IncidentUpdate => ({
      id: `inc-${i}`,
      keys: [`ip:10.0.${i >> 8}.${i & 255}`],
      pending: `ip:10.0.${i >> 8}.${i & 255}`,
      opens,
      time: clock.now(),
      windowMs: 60_000,
      retentionMs: 3_600_000,
      actor: {},
      events: 1,
      detectionPoints: ["ACE3"],
      outcome: "attempt",
      attacks: opens ? 1 : 0,
      evidence: [],
      responses: [],
    });
    for (let i = 0; i < 20_000; i++) {
      clock.advance(1);
      store.recordNow(update(i, i % 2 === 0));
    }
    const sizes = store.sizes;
    assert.ok(sizes.incidents <= 100, `incidents ${sizes.incidents}`);
    assert.ok(sizes.held <= 500, `held ${sizes.held}`);
    assert.ok(sizes.index <= 500, `index ${sizes.index}`);
    const listed = store.listNow({ outcome: null, since: null, ip: null, user: null, limit: 1000 });
    assert.equal(listed.length, 100);
    assert.equal(listed[0]?.id, "inc-19998", "the newest are kept");
  });

  it("forgets incidents after their retention, by the injected clock", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryIncidentStore({ clock });
    store.recordNow({
      id: "inc-1",
      keys: ["ip:192.0.2.1"],
      pending: "ip:192.0.2.1",
      opens: true,
      time: clock.now(),
      windowMs: 60_000,
      retentionMs: 3_600_000,
      actor: { ip: "192.0.2.1" },
      events: 1,
      detectionPoints: ["IE1"],
      outcome: "attempt",
      attacks: 1,
      evidence: [],
      responses: [],
    });
    const all = { outcome: null, since: null, ip: null, user: null, limit: 10 };
    clock.advance(3_599_999);
    assert.equal(store.listNow(all).length, 1);
    clock.advance(1);
    assert.equal(store.listNow(all).length, 0);
  });
});
