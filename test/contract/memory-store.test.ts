/**
 * MemoryStore: the contract, and what only memory has to promise: keys expire by the injected
 * clock, the store stays within its bound however many keys an attacker invents, and the state
 * it hands over after an outage is what it counted.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import { MemoryStore } from "../../src/store/memory-store.ts";
import type { WindowHit } from "../../src/store/store.ts";
import { storeContract } from "./store-contract.ts";

storeContract("memory", async (clock) => {
  const store = new MemoryStore({ clock });
  return {
    store,
    cleanup: () => store.close(),
    replica: async () => store,
    otherApp: async () => new MemoryStore({ clock }),
    windowSize: async (window) =>
      store.exportState().windows.find((w) => w.key === window)?.events.length ?? 0,
  };
});

const T0 = 1_700_000_000_000;
const hit = (window: string, time: number, o: Partial<WindowHit> = {}): WindowHit => ({
  window,
  history: `h:${window}`,
  label: "IE1",
  time,
  withinMs: 60_000,
  match: { kind: "count", count: 3 },
  memoryMs: 3_600_000,
  ...o,
});

describe("MemoryStore", () => {
  it("forgets a window its TTL after the last hit, by the injected clock", () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore({ clock });
    store.hitNow([hit("a", T0), hit("a", T0)]);
    assert.equal(store.size, 1);
    clock.advance(59_999);
    store.hitNow([hit("b", clock.now())]);
    assert.equal(store.size, 2, "a is still inside its window");
    clock.advance(1);
    store.hitNow([hit("b", clock.now())]);
    assert.equal(store.size, 1, "a expired");
  });

  it("keeps a history for its memory, then forgets it", () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore({ clock });
    store.hitNow([hit("a", T0), hit("a", T0), hit("a", T0)]);
    assert.equal(store.exportState().histories.length, 1);
    clock.advance(3_600_000);
    store.hitNow([]);
    assert.deepEqual(store.exportState(), { windows: [], histories: [] });
    assert.equal(store.size, 0);
  });

  it("stays within maxKeys, evicting the least recently hit and counting it", () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore({ clock, maxKeys: 100 });
    store.hitNow([hit("keep", T0)]);
    for (let i = 0; i < 10_000; i++) {
      clock.advance(1);
      store.hitNow([
        hit(`k${i}`, clock.now(), i % 2 ? {} : { withinMs: 120_000 }),
        hit("keep", clock.now(), { match: { kind: "count", count: 1e9 } }),
      ]);
    }
    assert.equal(store.size, 100);
    assert.equal(store.evicted, 9_901);
    const keys = store.exportState().windows.map((w) => w.key);
    assert.ok(keys.includes("keep"), "a window hit all along survives");
    assert.ok(keys.includes("k9999") && !keys.includes("k0"));
  });

  it("bounds rule windows under a flood: `all` keeps one event per label", () => {
    const store = new MemoryStore({ clock: new ManualClock(T0) });
    const all = { kind: "all", labels: ["ACE3", "IE1"] } as const;
    store.hitNow(
      Array.from({ length: 1000 }, (_, i) => hit("r", T0 + i, { label: i % 3 ? "ACE3" : "RE2", match: all })),
    );
    const [w] = store.exportState().windows;
    assert.deepEqual(
      w?.events.map((e) => [e.label, e.time]),
      [["ACE3", T0 + 998]],
    );
  });

  it("exportState hands over live windows and histories, with stable ids; clear() empties it", () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore({ clock });
    store.hitNow([
      hit("a", T0),
      hit("a", T0 + 1),
      hit("a", T0 + 2),
      hit("a", T0 + 3),
      hit("b", T0 + 4, { label: "CIE1" }),
    ]);
    const state = store.exportState();
    assert.deepEqual(
      state.windows.map((w) => [w.key, w.withinMs, w.events.map((e) => [e.time, e.label])]),
      [
        ["a", 60_000, [[T0 + 3, "IE1"]]],
        ["b", 60_000, [[T0 + 4, "CIE1"]]],
      ],
    );
    assert.deepEqual(
      state.histories.map((h) => [h.key, h.memoryMs, h.attacks.map((a) => a.time)]),
      [["h:a", 3_600_000, [T0 + 2]]],
    );
    assert.deepEqual(store.exportState(), state, "the same events keep the same ids");
    const ids = [...state.windows.flatMap((w) => w.events), ...state.histories.flatMap((h) => h.attacks)].map(
      (e) => e.id,
    );
    assert.equal(new Set(ids).size, ids.length);
    store.clear();
    assert.deepEqual(store.exportState(), { windows: [], histories: [] });
    assert.equal(store.size, 0);
  });

  it("holds no timer that keeps the process alive: a script that made one exits by itself", () => {
    const src = new URL("../../src/store/", import.meta.url).href;
    const script = `import { MemoryStore } from "${src}memory-store.ts"; new MemoryStore({ clock: { now: Date.now }, sweepIntervalMs: 10 });`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 10_000,
      encoding: "utf8",
    });
    assert.equal(run.error, undefined, "it did not exit on its own");
    assert.equal(run.status, 0, run.stderr);
  });
});
