import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration, parseRate, parseSize } from "../../../src/config/units.ts";

describe("durations", () => {
  it("reads every documented unit", () => {
    assert.deepEqual(
      ["500ms", "30s", "10m", "1h", "7d"].map((d) => parseDuration(d)),
      [500, 30_000, 600_000, 3_600_000, 604_800_000].map((value) => ({ ok: true, value })),
    );
  });

  it("accepts 0 as off", () => {
    assert.deepEqual(parseDuration(0), { ok: true, value: 0 });
  });

  it("refuses prose, negatives, fractions and bare numbers with a hint", () => {
    for (const bad of ["5 minutes", "-1s", "1.5s", "10", 10, "", null, "1w"]) {
      const result = parseDuration(bad);
      assert.equal(result.ok, false, String(bad));
      if (!result.ok) assert.match(result.message, /is not a duration \(use e\.g\. 500ms/);
    }
  });

  it("bounds hostile input in its message", () => {
    const result = parseDuration("x".repeat(100_000));
    assert.equal(result.ok, false);
    if (!result.ok) assert.ok(result.message.length < 200);
  });
});

describe("sizes", () => {
  it("reads binary multiples", () => {
    assert.deepEqual(parseSize("512KB"), { ok: true, value: 512 * 1024 });
    assert.deepEqual(parseSize("10MB"), { ok: true, value: 10 * 1024 * 1024 });
    assert.deepEqual(parseSize("1GB"), { ok: true, value: 1024 ** 3 });
    assert.deepEqual(parseSize(4096), { ok: true, value: 4096 });
  });

  it("refuses unknown units and overflow", () => {
    assert.equal(parseSize("10 TB").ok, false);
    assert.equal(parseSize("999999999999GB").ok, false);
    assert.equal(parseSize(-1).ok, false);
  });
});

describe("rates", () => {
  it("reads per second, minute and hour", () => {
    assert.deepEqual(parseRate("10/s"), { ok: true, value: { count: 10, perMs: 1000 } });
    assert.deepEqual(parseRate("600/m"), { ok: true, value: { count: 600, perMs: 60_000 } });
  });

  it("refuses zero and prose", () => {
    assert.equal(parseRate("0/s").ok, false);
    assert.equal(parseRate("ten per second").ok, false);
  });
});

describe("duration bounds", () => {
  it("refuses durations longer than Node's timers can hold, instead of firing them at once", () => {
    assert.deepEqual(parseDuration("24d"), { ok: true, value: 24 * 86_400_000 });
    const long = parseDuration("30d");
    assert.equal(long.ok, false);
    if (!long.ok) assert.match(long.message, /longer than 24d/);
  });
});
