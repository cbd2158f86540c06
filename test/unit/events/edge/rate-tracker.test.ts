/** The bounded per-actor counters behind UT2, AE3 and the failed logins before a success. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailureLog, SlidingCounter } from "../../../../src/events/edge/rate-tracker.ts";

describe("SlidingCounter", () => {
  it("estimates the rate over a sliding window from two fixed ones", () => {
    const c = new SlidingCounter(1000);
    for (let i = 0; i < 10; i++) c.hit("a", 500);
    // Half of the previous window still overlaps at t=1500: 10/2 + 1.
    assert.equal(c.hit("a", 1500).rate, 6);
    // Two windows later the old hits are gone.
    assert.equal(c.hit("a", 3100).rate, 1);
  });

  it("keeps at most `max` keys per window, and forgets them as windows pass", () => {
    const c = new SlidingCounter(1000, 3);
    for (const k of ["a", "b", "c"]) c.hit(k, 0);
    assert.deepEqual(c.hit("d", 0), { rate: 0, slot: null });
    assert.equal(c.hit("d", 1000).rate, 1);
    c.hit("x", 5000);
    assert.equal(c.size, 1);
  });
});

describe("FailureLog", () => {
  it("counts recent failures per key, keeping only the last few, and evicts the stalest key", () => {
    const log = new FailureLog(3, 2);
    for (let t = 0; t < 5; t++) log.add("a", t * 1000);
    assert.equal(log.count("a", 4000, 10_000), 3);
    assert.equal(log.count("a", 4000, 1000), 2);
    log.add("b", 5000);
    log.add("c", 6000);
    assert.equal(log.size, 2);
    assert.equal(log.count("a", 6000, 60_000), 0, "a was the least recently failed");
    log.clear("b");
    assert.equal(log.count("b", 6000, 60_000), 0);
  });
});
