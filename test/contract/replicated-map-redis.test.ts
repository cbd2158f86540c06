/**
 * RedisReplicatedMap against a redis-server this file starts (never a shared one): the contract,
 * with two maps as two replicas, and outages: Redis stopped under a running replica, not there
 * at start, and back without its data.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { ManualClock } from "../../src/store/clock.ts";
import { createReplicatedMap } from "../../src/store/create-replicated-map.ts";
import { RedisReplicatedMap } from "../../src/store/redis-replicated-map.ts";
import type { StoreStatus } from "../../src/store/store.ts";
import { freePort, type RedisServer, serverKeys, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";
import { type Item, itemCodec, record, replicatedMapContract, whenReady } from "./replicated-map-contract.ts";

let redis: RedisServer;
let admin: Redis;
before(async () => {
  redis = await startRedis();
  admin = new Redis({ port: redis.port, host: "127.0.0.1" });
});
after(async () => {
  admin?.disconnect();
  await redis?.close();
});

function open(url: string, app: string, clock: ManualClock, extra: object = {}): RedisReplicatedMap<Item> {
  return new RedisReplicatedMap<Item>({
    url,
    app,
    name: "decisions",
    codec: itemCodec,
    clock,
    retry: { maxMs: 200 },
    ...extra,
  });
}

replicatedMapContract(
  "redis",
  async (clock, app) => {
    const map = open(redis.url, app, clock);
    return {
      map,
      replica: async () => open(redis.url, app, clock),
      keys: () => serverKeys([redis.port]),
      command: (...args) => admin.call(String(args[0]), ...args.slice(1)),
      cleanup: () => map.close(),
    };
  },
  { shared: true },
);

const MINUTE = 60_000;
const item = (n: number): Item => ({ id: `i${n}`, n });
const statuses = (map: RedisReplicatedMap<Item>) => {
  const seen: StoreStatus["status"][] = [];
  map.onStatusChange((s) => seen.push(s.status));
  return seen;
};

describe("RedisReplicatedMap through outages", () => {
  it("keeps changes made while Redis is down and writes them back, so other replicas get them", async () => {
    const server = await startRedis();
    const clock = new ManualClock(Date.now());
    const a = open(server.url, "outage", clock);
    const b = open(server.url, "outage", clock);
    try {
      await Promise.all([whenReady(a), whenReady(b)]);
      const until = clock.now() + 10 * MINUTE;
      a.set("before", item(1), until);
      a.set("doomed", item(2), until);
      await waitFor(() => b.get("doomed"), "B to see the writes before the outage");
      const aStatus = statuses(a);
      await server.stop();
      await waitFor(() => a.status().status === "degraded", "A to notice");
      const local = record(a);
      a.set("during", item(3), until);
      a.delete("doomed");
      b.set("from-b", item(4), until);
      assert.deepEqual(a.get("during"), item(3), "applies locally at once");
      assert.deepEqual(
        local.map((c) => c.kind),
        ["set", "delete"],
      );
      assert.match(a.status().detail ?? "", /./);
      await server.start();
      await waitFor(() => b.get("during"), "B to receive A's write-back", 5000);
      await waitFor(() => b.get("doomed") === undefined, "B to receive A's delete", 5000);
      await waitFor(() => a.get("from-b"), "A to receive B's write-back", 5000);
      await Promise.all([whenReady(a), whenReady(b)]);
      assert.deepEqual(aStatus, ["degraded", "up"], "one change each way");
      assert.deepEqual(a.get("before"), item(1), "the reload kept what Redis had");
      const c = open(server.url, "outage", clock);
      await whenReady(c);
      assert.deepEqual([...c.entries()].map((e) => e.key).sort(), ["before", "during", "from-b"]);
      await c.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.close();
    }
  });

  it("subscribes again after Redis restarts: later changes arrive as messages, not only by the version check", async () => {
    const server = await startRedis();
    const clock = new ManualClock(Date.now());
    // No version check: only the channel can bring B the change made after the restart.
    const a = open(server.url, "resubscribe", clock, { versionCheckMs: 0 });
    const b = open(server.url, "resubscribe", clock, { versionCheckMs: 0 });
    try {
      await Promise.all([whenReady(a), whenReady(b)]);
      const until = clock.now() + 10 * MINUTE;
      await server.stop();
      await waitFor(() => b.status().status === "degraded", "B to notice the outage");
      await server.start();
      await Promise.all([whenReady(a), whenReady(b)]);
      a.set("after", item(5), until);
      await waitFor(() => b.get("after"), "B to receive A's change through the channel", 3000);
      assert.deepEqual(b.get("after"), item(5));
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.close();
    }
  });

  it("works locally when Redis is not there at start, and loads when it appears", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const clock = new ManualClock(Date.now());
    const a = open(url, "late", clock);
    let server: RedisServer | undefined;
    try {
      await waitFor(() => a.status().detail !== "connecting", "A to try");
      assert.equal(a.status().status, "degraded");
      assert.equal(a.loaded(), false);
      const until = clock.now() + 10 * MINUTE;
      a.set("early", item(1), until);
      assert.deepEqual(a.get("early"), item(1));
      server = await startRedis({ port });
      await whenReady(a);
      assert.deepEqual(a.get("early"), item(1), "the local write survives the first load");
      const b = open(url, "late", clock);
      await whenReady(b);
      assert.deepEqual(b.get("early"), item(1), "and reached Redis");
      await b.close();
    } finally {
      await a.close();
      await server?.close();
    }
  });

  it("bounds the write-back queue, counting what it drops", async () => {
    const server = await startRedis();
    const clock = new ManualClock(Date.now());
    const a = open(server.url, "bounded", clock, { maxQueued: 10 });
    try {
      await whenReady(a);
      await server.stop();
      await waitFor(() => a.status().status === "degraded", "A to notice");
      const until = clock.now() + 10 * MINUTE;
      for (let i = 0; i < 15; i++) a.set(`k${i}`, item(i), until);
      a.set("k14", item(99), until); // the latest per key, not another slot
      // Queued at once, or (if the lost connection was not noticed yet) when the writes fail.
      await waitFor(() => a.droppedWrites === 5, "5 dropped");
      await server.start();
      await whenReady(a);
      const b = open(server.url, "bounded", clock);
      await whenReady(b);
      assert.deepEqual([...b.entries()].map((e) => e.key).sort(), [
        "k10",
        "k11",
        "k12",
        "k13",
        "k14",
        "k5",
        "k6",
        "k7",
        "k8",
        "k9",
      ]);
      assert.deepEqual(b.get("k14"), item(99));
      await b.close();
    } finally {
      await a.close();
      await server.close();
    }
  });

  it("writes its entries back when Redis comes back without its data", async () => {
    const server = await startRedis();
    const clock = new ManualClock(Date.now());
    const a = open(server.url, "amnesia", clock);
    try {
      await whenReady(a);
      const until = clock.now() + 10 * MINUTE;
      for (let i = 0; i < 20; i++) a.set(`k${i}`, item(i), until);
      const check = new Redis({ port: server.port, host: "127.0.0.1" });
      await waitFor(
        async () => (await check.zcard("gatehouse:{amnesia}:decisions:index")) === 20,
        "the writes",
      );
      check.disconnect();
      await server.kill();
      await server.start();
      await waitFor(() => a.status().status === "up", "A back", 5000);
      const b = open(server.url, "amnesia", clock);
      await whenReady(b);
      assert.equal(b.size, 20, "the decisions are still in force everywhere");
      assert.equal(a.size, 20);
      await b.close();
    } finally {
      await a.close();
      await server.close();
    }
  });

  it("never crashes on a connection error and logs once per change of state", async () => {
    const server = await startRedis();
    const clock = new ManualClock(Date.now());
    const lines: string[] = [];
    const logger = {
      warn: (_: object, msg: string) => lines.push(`warn ${msg}`),
      info: (_: object, msg: string) => lines.push(`info ${msg}`),
    };
    const a = open(server.url, "logs", clock, { logger });
    try {
      await whenReady(a);
      await server.stop();
      await waitFor(() => a.status().status === "degraded", "A to notice");
      await new Promise((r) => setTimeout(r, 1000)); // several failed reconnections
      a.set("x", item(1), clock.now() + MINUTE);
      assert.equal(lines.filter((l) => l.includes("unreachable")).length, 1, lines.join("\n"));
      await server.start();
      await whenReady(a);
    } finally {
      await a.close();
      await server.close();
    }
  });
});

describe("createReplicatedMap with Redis", () => {
  it("shares the map through Redis under the app's namespace", async () => {
    const clock = new ManualClock(Date.now());
    const options = { redis: redis.url, app: "factory", name: "decisions", codec: itemCodec, clock };
    const a = createReplicatedMap(options);
    const b = createReplicatedMap(options);
    try {
      await Promise.all([whenReady(a), whenReady(b)]);
      a.set("k", item(1), clock.now() + MINUTE);
      await waitFor(() => b.get("k"), "B to see it");
      assert.equal(await admin.exists("gatehouse:{factory}:decisions:e:k"), 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("a bounded RedisReplicatedMap (session bindings)", () => {
  it("holds at most maxEntries locally, forgetting the oldest set first, while Redis keeps them all", async () => {
    const clock = new ManualClock(Date.now());
    const writer = open(redis.url, "bounded", clock);
    const bounded = open(redis.url, "bounded", clock, { maxEntries: 3 });
    try {
      await whenReady(writer);
      await whenReady(bounded);
      for (let n = 1; n <= 5; n++) writer.set(`k${n}`, item(n), clock.now() + 10 * MINUTE);
      await waitFor(() => (bounded.get("k5") ? true : undefined), "the last set to arrive", 5_000);
      assert.equal(bounded.size, 3);
      assert.equal(bounded.get("k1"), undefined, "the oldest is forgotten");
      assert.deepEqual(
        [...bounded.entries()].map((e) => e.key),
        ["k3", "k4", "k5"],
      );
      assert.equal(writer.size, 5, "an unbounded replica still holds every entry");
    } finally {
      await writer.close();
      await bounded.close();
    }
  });
});
