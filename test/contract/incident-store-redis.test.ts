/**
 * RedisIncidentStore against a redis-server this file starts (never a shared one): the
 * incident store contract, with two connections as two replicas; and the failover store in
 * front of it recording locally while Redis is gone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ManualClock } from "../../src/store/clock.ts";
import type { IncidentUpdate } from "../../src/store/incident.ts";
import { FailoverIncidentStore, MemoryIncidentStore } from "../../src/store/incident-store.ts";
import { RedisIncidentStore } from "../../src/store/redis-incident-store.ts";
import { type RedisServer, serverKeys, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";
import { incidentStoreContract } from "./incident-store-contract.ts";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.close();
});

async function connected(): Promise<RedisIncidentStore> {
  const store = new RedisIncidentStore({ url: redis.url, app: "incidents", retry: { maxMs: 200 } });
  await waitFor(() => store.status().status === "up", "the incident store to connect");
  return store;
}

incidentStoreContract(
  "redis",
  async () => {
    const store = await connected();
    const replicas: RedisIncidentStore[] = [];
    return {
      store,
      async cleanup() {
        await Promise.all([store, ...replicas].map((s) => s.close()));
      },
      async replica() {
        const r = await connected();
        replicas.push(r);
        return r;
      },
      elapse: (ms) => sleep(ms),
      keys: async () =>
        (await serverKeys([redis.port])).filter((k) => k.key.startsWith("gatehouse:{incidents}:")),
    };
  },
  { shared: true },
);

describe("FailoverIncidentStore", () => {
  it("records locally while Redis is down, lists both, and goes back to Redis", async () => {
    const clock = new ManualClock(Date.now());
    const shared = await connected();
    const store = new FailoverIncidentStore(shared, new MemoryIncidentStore({ clock }));
    const update = (ip: string, id: string): IncidentUpdate => ({
      id,
      keys: [`ip:${ip}`],
      pending: `ip:${ip}`,
      opens: true,
      time: clock.now(),
      windowMs: 60_000,
      retentionMs: 3_600_000,
      actor: { ip },
      events: 1,
      detectionPoints: ["IE1"],
      outcome: "success",
      attacks: 0,
      evidence: [],
      responses: [],
    });
    const all = { outcome: null, since: null, ip: null, user: null, limit: 100 };
    try {
      const [before] = await store.record([update("198.51.100.1", "fo-1")]);
      assert.equal(before?.breached, true);
      await redis.stop();
      await waitFor(() => store.status().status === "degraded", "the outage to be seen");
      const started = Date.now();
      const [during] = await store.record([update("198.51.100.2", "fo-2")]);
      assert.ok(Date.now() - started < 1000, "an outage never makes a batch wait for Redis");
      assert.equal(during?.breached, true, "a breach during the outage still pages");
      assert.deepEqual(
        (await store.list(all)).map((i) => i.id),
        ["fo-2"],
        "while Redis is away only the local incident can be listed",
      );
      await redis.start();
      await waitFor(() => store.status().status === "up", "Redis to be back");
      clock.advance(1);
      await store.record([update("198.51.100.3", "fo-3")]);
      const ids = (await store.list(all)).map((i) => i.id).filter((id) => id.startsWith("fo-"));
      assert.deepEqual(ids.sort(), ["fo-1", "fo-2", "fo-3"]);
    } finally {
      await store.close();
    }
  });
});
