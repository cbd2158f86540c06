import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Rate } from "../../../src/config/units.ts";
import { createRateLimiter } from "../../../src/enforce/create-rate-limiter.ts";
import { LocalRateLimiter } from "../../../src/enforce/rate-limiter.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import type { RateClaim } from "../../../src/store/rate-sync.ts";

const PER_SECOND = (count: number): Rate => ({ count, perMs: 1000 });
const PER_MINUTE = (count: number): Rate => ({ count, perMs: 60_000 });
/** A time at the start of a clock minute (and so of a second). */
const T0 = 1_700_000_040_000;

function admitted(l: LocalRateLimiter, key: string, rate: Rate, now: number, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.take(key, rate, now) === 0) ok++;
  return ok;
}

describe("rate limiter in memory", () => {
  it("admits exactly rate.count requests per window", () => {
    const l = new LocalRateLimiter();
    assert.equal(admitted(l, "d1:203.0.113.7", PER_SECOND(5), T0 + 10, 5), 5);
    assert.ok(l.take("d1:203.0.113.7", PER_SECOND(5), T0 + 20) >= 1, "the 6th is refused");
    assert.equal(admitted(l, "d1:203.0.113.7", PER_SECOND(5), T0 + 999, 100), 0);
  });

  it("answers the seconds until the window ends, rounded up and never below 1", () => {
    const l = new LocalRateLimiter();
    const rate = PER_MINUTE(10);
    assert.equal(admitted(l, "k", rate, T0, 10), 10);
    assert.equal(l.take("k", rate, T0), 60);
    assert.equal(l.take("k", rate, T0 + 15_000), 45);
    assert.equal(l.take("k", rate, T0 + 15_001), 45);
    assert.equal(l.take("k", rate, T0 + 59_000), 1);
    assert.equal(l.take("k", rate, T0 + 59_999), 1);
    assert.equal(l.take("k", rate, T0 + 60_000), 0, "Retry-After was honest: the next window admits");
  });

  it("gives each key its own budget", () => {
    const l = new LocalRateLimiter();
    assert.equal(admitted(l, "d1:a", PER_SECOND(3), T0, 10), 3);
    assert.equal(admitted(l, "d1:b", PER_SECOND(3), T0, 10), 3);
    assert.equal(admitted(l, "d2:a", PER_SECOND(3), T0, 10), 3, "same actor, another decision");
    assert.equal(l.size, 3);
  });

  it("starts a new budget when the epoch-aligned window rolls over", () => {
    const clock = new ManualClock(T0 + 600);
    const l = new LocalRateLimiter();
    const rate = PER_SECOND(4);
    assert.equal(admitted(l, "k", rate, clock.now(), 10), 4);
    assert.equal(l.take("k", rate, clock.now()), 1);
    clock.advance(399); // T0 + 999: still the same second
    assert.equal(admitted(l, "k", rate, clock.now(), 1), 0);
    clock.advance(1); // T0 + 1000: a new second, not 1000 ms after the first request
    assert.equal(admitted(l, "k", rate, clock.now(), 10), 4);
    clock.advance(5_000);
    assert.equal(admitted(l, "k", rate, clock.now(), 10), 4, "after idle windows, a full budget");
  });

  it("counts a request stamped just before the key's window in that window", () => {
    const l = new LocalRateLimiter();
    assert.equal(admitted(l, "k", PER_SECOND(2), T0 + 1000, 2), 2);
    assert.ok(l.take("k", PER_SECOND(2), T0 + 999) >= 1);
  });

  it("follows a changed rate for the same key", () => {
    const l = new LocalRateLimiter();
    assert.equal(admitted(l, "k", PER_MINUTE(2), T0, 5), 2);
    assert.equal(admitted(l, "k", PER_MINUTE(4), T0 + 1, 5), 2, "a higher count in the same window");
    assert.equal(admitted(l, "k", PER_SECOND(1), T0 + 2, 5), 1, "another period: a new window");
  });

  it("refuses everything at a rate of 0, until the window ends", () => {
    const l = new LocalRateLimiter();
    assert.equal(l.take("k", { count: 0, perMs: 60_000 }, T0 + 30_000), 30);
  });

  it("forgets keys whose windows are over when swept", () => {
    const l = new LocalRateLimiter();
    admitted(l, "old", PER_SECOND(1), T0, 1);
    admitted(l, "slow", PER_MINUTE(1), T0, 1);
    l.sweep(T0 + 999);
    assert.equal(l.size, 2);
    l.sweep(T0 + 1000);
    assert.equal(l.size, 1, "a window that is over is forgotten");
    assert.ok(l.take("slow", PER_MINUTE(1), T0 + 2000) >= 1, "a live window is kept, with its count");
    l.sweep(T0 + 60_000);
    assert.equal(l.size, 0);
  });

  it("keeps a key whose next window it claimed ahead, until that window is over", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    l.take("k", PER_SECOND(5), T0 + 900);
    const claims = l.collect(T0 + 950, 200);
    l.settle(
      claims,
      claims.map(() => ({ extra: 2, claimed: 3, used: 0 })),
    );
    l.sweep(T0 + 1100);
    assert.equal(l.size, 1);
    l.sweep(T0 + 2000);
    assert.equal(l.size, 0);
  });

  it("keeps hostile keys bounded: huge keys are hashed, distinct keys capped and counted", () => {
    const l = new LocalRateLimiter({ maxKeys: 1000 });
    const huge = "x".repeat(1 << 20);
    assert.equal(admitted(l, huge, PER_SECOND(2), T0, 5), 2, "a huge key still has its budget");
    assert.equal(admitted(l, `${huge}y`, PER_SECOND(2), T0, 5), 2, "and differs from its neighbour");
    l.setShared(true);
    const keys = l.collect(T0, 200).map((c) => c.key);
    assert.equal(keys.length, 2);
    for (const k of keys) assert.ok(k.length <= 64, `stored as a ${k.length}-character key`);
    l.setShared(false);
    for (let i = 0; i < 50_000; i++) l.take(`d1:${i}:${"z".repeat(300)}`, PER_SECOND(1), T0 + 1);
    assert.equal(l.size, 1000);
    assert.equal(l.evicted, 50_000 + 2 - 1000);
    assert.equal(l.take("d1:49999:".concat("z".repeat(300)), PER_SECOND(1), T0 + 1), 1, "newest kept");
  });

  it("does not let a key pass for another key's hash", () => {
    const l = new LocalRateLimiter();
    const long = "k".repeat(500);
    admitted(l, long, PER_SECOND(1), T0, 1);
    l.setShared(true);
    const [hashed] = l.collect(T0, 200).map((c) => c.key);
    l.setShared(false);
    assert.equal(admitted(l, hashed!, PER_SECOND(1), T0, 1), 1);
  });

  it("evicts the least recently active key first", () => {
    const l = new LocalRateLimiter({ maxKeys: 2 });
    admitted(l, "a", PER_SECOND(1), T0, 1);
    admitted(l, "b", PER_SECOND(1), T0, 1);
    admitted(l, "a", PER_SECOND(1), T0 + 1000, 1); // a's new window: a is now the more recent
    admitted(l, "c", PER_SECOND(1), T0 + 1000, 1);
    assert.equal(l.take("a", PER_SECOND(1), T0 + 1000), 1, "a kept its count");
    assert.equal(l.take("b", PER_SECOND(1), T0 + 1000), 0, "b was evicted");
  });

  it("createRateLimiter without Redis is the exact in-memory limiter", async () => {
    const clock = new ManualClock(T0);
    const l = createRateLimiter({ redis: null, app: "t", clock });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (l.take("k", PER_SECOND(7), clock.now()) === 0) ok++;
    assert.equal(ok, 7);
    l.sweep(clock.now());
    await l.close();
  });
});

describe("rate limiter claims (what the Redis sync drives)", () => {
  const H = 200; // the claim horizon RateSync passes
  const window = T0 / 60_000;
  const shape = (c: RateClaim) => ({ window: c.window, used: c.used, hold: c.hold, want: c.want });

  it("admits only what it has claimed, asking for 1.5 times its demand", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_MINUTE(30);
    assert.equal(l.take("k", rate, T0), 0, "one request before any claim");
    assert.equal(l.take("k", rate, T0 + 1), 1, "then: budget may remain elsewhere, retry soon");
    for (let i = 0; i < 4; i++) l.take("k", rate, T0 + 2);
    const claims = l.collect(T0 + 100, H);
    assert.deepEqual(claims.map(shape), [{ window, used: 1, hold: 0, want: 10 }]);
    assert.equal(claims[0]?.count, 30);
    l.settle(claims, [{ extra: 10, claimed: 11, used: 1 }]);
    assert.equal(admitted(l, "k", rate, T0 + 150, 50), 10);
    assert.equal(l.take("k", rate, T0 + 151), 1);
  });

  it("gives back what it no longer needs, keeping one while the key is in use", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_MINUTE(30);
    l.take("k", rate, T0);
    l.settle(l.collect(T0 + 100, H), [{ extra: 20, claimed: 21, used: 1 }]);
    assert.deepEqual(l.collect(T0 + 200, H).map(shape), [{ window, used: 1, hold: 1, want: 0 }]);
    assert.deepEqual(l.collect(T0 + 300, H), [], "nothing changed: nothing sent");
    assert.deepEqual(l.collect(T0 + 1100, H).map(shape), [{ window, used: 1, hold: 0, want: 0 }]);
    assert.deepEqual(l.collect(T0 + 1200, H), []);
  });

  it("says when the window ends once every replica's admissions fill it", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_MINUTE(30);
    l.take("k", rate, T0);
    l.settle(l.collect(T0 + 100, H), [{ extra: 0, claimed: 30, used: 30 }]);
    assert.equal(l.take("k", rate, T0 + 30_000), 30);
    assert.deepEqual(l.collect(T0 + 30_100, H), [], "a used-up window asks for nothing");
  });

  it("claims the next window just before it starts", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_SECOND(20);
    l.take("k", rate, T0 + 850);
    l.take("k", rate, T0 + 851);
    const claims = l.collect(T0 + 900, H);
    assert.deepEqual(claims.map(shape), [
      { window: T0 / 1000, used: 1, hold: 0, want: 4 },
      { window: T0 / 1000 + 1, used: 0, hold: 0, want: 4 },
    ]);
    l.settle(claims, [
      { extra: 4, claimed: 5, used: 1 },
      { extra: 4, claimed: 4, used: 0 },
    ]);
    assert.equal(l.collect(T0 + 950, H).filter((c) => c.window === T0 / 1000 + 1).length, 0, "once");
    assert.equal(admitted(l, "k", rate, T0 + 1000, 50), 4, "the new window starts with its claim");
  });

  it("sends a claim again, whole, when it did not reach Redis", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    l.take("k", PER_MINUTE(10), T0);
    const claims = l.collect(T0 + 100, H);
    l.settle(claims, [null]);
    assert.deepEqual(l.collect(T0 + 200, H).map(shape), [{ window, used: 1, hold: 0, want: 1 }]);
  });

  it("ignores an answer about a window it has left", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_SECOND(10);
    l.take("k", rate, T0);
    const claims = l.collect(T0 + 100, H);
    assert.equal(l.take("k", rate, T0 + 1000), 0, "a new window: its first request");
    l.settle(claims, [{ extra: 9, claimed: 10, used: 1 }]);
    assert.equal(l.take("k", rate, T0 + 1001), 1, "the old window's grant is not spent here");
  });

  it("gives every claim back, the next window's too, when it closes", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_SECOND(20);
    admitted(l, "k", rate, T0 + 850, 3);
    const claims = l.collect(T0 + 900, H);
    l.settle(claims, [
      { extra: 5, claimed: 6, used: 1 },
      { extra: 5, claimed: 5, used: 0 },
    ]);
    assert.deepEqual(l.collect(T0 + 950, H, true).map(shape), [
      { window: T0 / 1000, used: 1, hold: 0, want: 0 },
      { window: T0 / 1000 + 1, used: 0, hold: 0, want: 0 },
    ]);
  });

  it("limits alone at the full rate, less what the others were known to use, while Redis is away", () => {
    const l = new LocalRateLimiter();
    l.setShared(true);
    const rate = PER_MINUTE(30);
    admitted(l, "k", rate, T0, 1);
    l.settle(l.collect(T0 + 100, H), [{ extra: 5, claimed: 20, used: 13 }]);
    l.setShared(false);
    assert.equal(admitted(l, "k", rate, T0 + 200, 100), 17, "30 - 12 the others used - 1 its own");
    assert.equal(l.take("k", rate, T0 + 30_000), 30, "and Retry-After is the window's end");
    assert.equal(admitted(l, "k", rate, T0 + 60_000, 100), 30, "the next window: the full rate");
    l.setShared(true);
    const [back] = l.collect(T0 + 60_100, H);
    assert.equal(back?.used, 30, "what it admitted alone is told to Redis when it is back");
  });
});
