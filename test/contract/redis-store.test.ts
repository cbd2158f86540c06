/**
 * RedisStore against a redis-server this file starts (never a shared one): the store contract,
 * with two connections as two replicas.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { ManualClock } from "../../src/store/clock.ts";
import { MemoryStore } from "../../src/store/memory-store.ts";
import { RedisStore } from "../../src/store/redis-store.ts";
import type { WindowHit, WindowMatch } from "../../src/store/store.ts";
import { type RedisServer, serverKeys, startRedis } from "../helpers/redis.ts";
import { storeContract, whenUp } from "./store-contract.ts";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.close();
});

async function connected(app: string): Promise<RedisStore> {
  const store = new RedisStore({ url: redis.url, app });
  await whenUp(store);
  return store;
}

storeContract(
  "redis",
  async () => {
    const store = await connected("contract");
    return {
      store,
      cleanup: () => store.close(),
      replica: () => connected("contract"),
      otherApp: () => connected("contract-other"),
      apps: ["contract", "contract-other"],
      keys: () => serverKeys([redis.port]),
      windowSize: async (window) =>
        (await serverKeys([redis.port])).find((k) => k.key === `gatehouse:{contract}:${window}`)?.size ?? 0,
    };
  },
  { shared: true },
);

describe("RedisStore when Redis is not there", () => {
  it("fails a batch at once, instead of queueing it", async () => {
    const store = new RedisStore({ url: "redis://127.0.0.1:1", app: "nowhere", retry: { maxMs: 100 } });
    const started = Date.now();
    await assert.rejects(
      store.hit([
        {
          window: "w",
          history: "h",
          label: "IE1",
          time: 1,
          withinMs: 1000,
          match: { kind: "count", count: 3 },
          memoryMs: 1000,
        },
      ]),
      { code: "STORE_UNAVAILABLE" },
    );
    assert.ok(Date.now() - started < 100);
    assert.equal(store.status().status, "degraded");
    await store.close();
  });
});

describe("RedisStore and MemoryStore decide alike", () => {
  it("for random streams of events, in and out of time order, on every kind of match", async () => {
    const store = await connected("differential");
    const matches: WindowMatch[] = [
      { kind: "count", count: 3 },
      { kind: "all", labels: ["A", "B", "C"] },
      { kind: "sequence", labels: ["A", "B", "A"] },
      { kind: "sequence", labels: ["A", "B"] },
    ];
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...matches),
          // Labels, and time steps: mostly forward, sometimes back (another replica's clock), some
          // runs dense enough to pass the sequence cap.
          fc.array(
            fc.tuple(
              fc.constantFrom("A", "B", "C", "D"),
              fc.oneof(fc.integer({ min: -3000, max: 20_000 }), fc.integer({ min: -200, max: 300 })),
            ),
            { minLength: 1, maxLength: 150 },
          ),
          async (match, steps) => {
            run++;
            let t = 1_700_000_000_000;
            const hits: WindowHit[] = steps.map(([label, step]) => {
              t += step;
              return {
                window: `w${run}`,
                history: `h${run}`,
                label,
                time: t,
                withinMs: 60_000,
                match,
                memoryMs: 300_000,
              };
            });
            const memory = new MemoryStore({ clock: new ManualClock(t) });
            assert.deepEqual(await store.hit(hits), memory.hitNow(hits));
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      await store.close();
    }
  });
});
