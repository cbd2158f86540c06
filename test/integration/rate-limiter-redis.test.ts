/**
 * A throttle rate holds across replicas: three limiters (three "replicas", each with its own
 * connection) share one Redis the test owns, and one actor's requests are spread over them,
 * evenly and unevenly. Then that Redis goes away mid-run: take() keeps answering at once, each
 * replica limits alone, and sharing resumes when Redis is back.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Rate } from "../../src/config/units.ts";
import { createRateLimiter } from "../../src/enforce/create-rate-limiter.ts";
import type { RateLimiter } from "../../src/enforce/rate-limiter.ts";
import { systemClock } from "../../src/store/clock.ts";
import { type RedisServer, rawCommand, serverKeys, startRedis } from "../helpers/redis.ts";

const APP = "rate-test";
const RATE: Rate = { count: 50, perMs: 1000 };
/** Requests per second offered, all replicas together: three times the rate. */
const DEMAND = 150;
/** HLEN of a window's hash once all three replicas claimed in it: two fields each, and the two sums. */
const ALL_THREE = ":8\r\n";

interface Log {
  level: "warn" | "info";
  msg: string;
}

interface Run {
  /** Admitted per epoch second, all replicas together, and per replica. */
  perSecond: Map<number, { total: number; byReplica: number[] }>;
  errors: number;
  maxTakeMs: number;
  stop(): Promise<void>;
}

/** Offer `demand` requests a second until stopped, each to the replica `pick(n)` says. */
function drive(limiters: RateLimiter[], key: string, pick: (n: number) => number, demand = DEMAND): Run {
  const run: Run = { perSecond: new Map(), errors: 0, maxTakeMs: 0, stop: async () => {} };
  const start = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) * demand) / 1000);
    for (; sent < due; sent++) {
      const replica = pick(sent);
      const now = Date.now();
      const t = performance.now();
      let retry: number;
      try {
        retry = limiters[replica]!.take(key, RATE, now);
      } catch {
        run.errors++;
        continue;
      }
      run.maxTakeMs = Math.max(run.maxTakeMs, performance.now() - t);
      assert.ok(retry === 0 || retry >= 1, `Retry-After ${retry}`);
      const second = Math.floor(now / 1000);
      let s = run.perSecond.get(second);
      if (!s) {
        s = { total: 0, byReplica: limiters.map(() => 0) };
        run.perSecond.set(second, s);
      }
      if (retry === 0) {
        s.total++;
        s.byReplica[replica]!++;
      }
    }
  }, 5);
  run.stop = async () => {
    clearInterval(timer);
  };
  return run;
}

/** The seconds wholly inside [from, to]. */
function seconds(
  run: Run,
  from: number,
  to: number,
): { second: number; total: number; byReplica: number[] }[] {
  return [...run.perSecond]
    .filter(([second]) => second * 1000 >= from && (second + 1) * 1000 <= to)
    .map(([second, s]) => ({ second, ...s }));
}

function assertWithinRate(t: TestContext, what: string, measured: { total: number }[]): void {
  t.diagnostic(`${what}: admitted per second ${measured.map((s) => s.total).join(", ")}`);
  assert.ok(measured.length >= 2, `${what}: ${measured.length} whole seconds measured`);
  for (const s of measured) {
    assert.ok(
      s.total >= RATE.count * 0.8 && s.total <= RATE.count * 1.2,
      `${what}: ${s.total} admitted in one second, rate ${RATE.count}/s ± 20%`,
    );
  }
}

describe("throttle rate shared by three replicas through Redis", { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let limiters: RateLimiter[] = [];
  const logs: Log[][] = [[], [], []];

  before(async () => {
    redis = await startRedis();
    limiters = logs.map((lines) =>
      createRateLimiter({
        redis: redis.url,
        app: APP,
        clock: systemClock,
        logger: {
          warn: (_obj, msg) => lines.push({ level: "warn", msg }),
          info: (_obj, msg) => lines.push({ level: "info", msg }),
        },
      }),
    );
    // Every replica is connected, and has had a tick to find Redis answering.
    const deadline = Date.now() + 10_000;
    while ((await rawCommand(redis.port, "CLIENT LIST", "\n")).split("name=gatehouse").length < 4) {
      assert.ok(Date.now() < deadline, "replicas did not connect to Redis");
      await sleep(50);
    }
    await sleep(300);
  });

  after(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    await redis?.close();
  });

  it("holds the rate with requests spread round-robin", async (t) => {
    const run = drive(limiters, "d1:203.0.113.7", (n) => n % 3);
    const from = Date.now();
    await sleep(3600);
    await run.stop();
    assertWithinRate(t, "round-robin", seconds(run, from, Date.now()));
    assert.equal(run.errors, 0);
  });

  it("holds the rate when one replica gets 80% of the requests", async (t) => {
    const run = drive(limiters, "d1:203.0.113.8", (n) => (n % 10 < 8 ? 0 : 1 + (n % 2)));
    const from = Date.now();
    await sleep(3600);
    await run.stop();
    const measured = seconds(run, from, Date.now());
    assertWithinRate(t, "80/10/10", measured);
    t.diagnostic(`80/10/10 by replica: ${measured.map((s) => s.byReplica.join("/")).join(", ")}`);
  });

  it("holds the rate under a flood of 1000 requests a second spread over all three", async (t) => {
    const run = drive(limiters, "d1:203.0.113.9", (n) => n % 3, 1000);
    const from = Date.now();
    await sleep(3600);
    await run.stop();
    assertWithinRate(t, "flood", seconds(run, from, Date.now()));
  });

  it("writes every key under the app's namespace, with a TTL", async () => {
    const keys = await serverKeys([redis.port]);
    assert.ok(keys.length > 0);
    for (const k of keys) {
      assert.ok(k.key.startsWith(`gatehouse:{${APP}}:rate:`), k.key);
      // The window, the claim horizon (two syncs) and a second of clock skew.
      assert.ok(k.pttl > 0 && k.pttl <= RATE.perMs + 200 + 1000, `${k.key} PTTL ${k.pttl}`);
    }
  });

  it("keeps answering at once while Redis is down, and shares again when it is back", async (t) => {
    const key = "d2:198.51.100.9";
    const run = drive(limiters, key, (n) => n % 3);
    const from = Date.now();
    await sleep(3100);
    const downFrom = Date.now();
    await redis.stop();
    const downAt = Date.now();
    await sleep(2600);
    const upAt = Date.now();
    await redis.start();
    // Shared again: all three replicas counted in the current window's hash.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const window = Math.floor(Date.now() / 1000);
      const hash = `gatehouse:{${APP}}:rate:1000:${window}:${key}`;
      if ((await rawCommand(redis.port, `HLEN ${hash}`, "\r\n")) === ALL_THREE) break;
      assert.ok(Date.now() < deadline, "sharing did not resume");
      await sleep(50);
    }
    const sharedAt = Date.now();
    await sleep(3600);
    await run.stop();
    const end = Date.now();

    assert.equal(run.errors, 0, "take() never threw");
    t.diagnostic(
      `slowest take(): ${run.maxTakeMs.toFixed(3)} ms; sharing resumed ${sharedAt - upAt} ms after restart`,
    );
    assert.ok(run.maxTakeMs < 20, `take() took ${run.maxTakeMs} ms`);

    assertWithinRate(t, "before the outage", seconds(run, from, downFrom));
    const outage = seconds(run, downAt, upAt);
    t.diagnostic(
      `during the outage: admitted per second ${outage.map((s) => `${s.total} (${s.byReplica.join("/")})`).join(", ")}`,
    );
    assert.ok(outage.length >= 1);
    for (const s of outage) {
      for (const n of s.byReplica) assert.ok(n > 0 && n <= RATE.count, `a replica alone admitted ${n}`);
    }
    // Sharing has resumed from the next whole second on.
    assertWithinRate(t, "after the outage", seconds(run, sharedAt, end));

    for (const lines of logs) {
      assert.equal(lines.filter((l) => l.level === "warn").length, 1, JSON.stringify(lines));
      assert.deepEqual(
        lines.filter((l) => l.level === "info").map((l) => l.msg),
        ["rate limits shared through Redis again"],
      );
    }
  });
});
