import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Correlation } from "../../../src/events/correlation.ts";

function setup(capacity = 4, ttlMs = 1000) {
  let now = 1_000_000;
  const clock = { now: () => now };
  return { c: new Correlation({ capacity, ttlMs, clock }), advance: (ms: number) => (now += ms) };
}

describe("request correlation", () => {
  it("remembers a request by the id it hands out", () => {
    const { c } = setup();
    const id = c.record(null, "203.0.113.9", "s1", null, "POST", "/login");
    assert.match(id, /^[0-9a-f]{16}-[0-9a-z]+$/);
    assert.deepEqual(c.get(id), {
      ip: "203.0.113.9",
      session: "s1",
      user: null,
      method: "POST",
      path: "/login",
      time: 1_000_000,
    });
  });

  it("hands out distinct ids, and distinct prefixes per instance (replica)", () => {
    const a = setup().c;
    const b = setup().c;
    const ids = new Set([0, 1, 2].map(() => a.record(null, "ip", null, null, "GET", "/")));
    assert.equal(ids.size, 3);
    assert.notEqual([...ids][0]!.split("-")[0], b.record(null, "ip", null, null, "GET", "/").split("-")[0]);
  });

  it("keeps a trusted proxy's id and finds the request by it", () => {
    const { c } = setup();
    assert.equal(c.record("lb-42", "10.0.0.1", null, "u", "GET", "/x"), "lb-42");
    assert.equal(c.get("lb-42")?.path, "/x");
  });

  it("forgets the oldest when full, including kept ids, and never confuses a reused slot", () => {
    const { c } = setup(4);
    const first = c.record("lb-old", "ip", null, null, "GET", "/0");
    const second = c.record(null, "ip", null, null, "GET", "/1");
    for (let i = 2; i < 6; i++) c.record(null, "ip", null, null, "GET", `/${i}`);
    assert.equal(c.get(first), undefined);
    assert.equal(c.get(second), undefined, "slot 1 now holds request 5, not request 1");
  });

  it("forgets after the TTL", () => {
    const { c, advance } = setup(4, 1000);
    const id = c.record(null, "ip", null, null, "GET", "/");
    advance(999);
    assert.ok(c.get(id));
    advance(1);
    assert.equal(c.get(id), undefined);
  });

  it("learns the user the app names later", () => {
    const { c } = setup();
    const id = c.record(null, "ip", "s", null, "GET", "/");
    c.setUser(id, "alice");
    assert.equal(c.get(id)?.user, "alice");
  });

  it("answers nothing for ids it never made, however they look", () => {
    const { c } = setup();
    const id = c.record(null, "ip", null, null, "GET", "/");
    const prefix = id.slice(0, id.indexOf("-") + 1);
    for (const bogus of [
      "",
      "x",
      `${prefix}`,
      `${prefix}zzzzzzzzzzzzzzzz`,
      `${prefix}-1`,
      `${prefix}1.5`,
      `${prefix}ZZ`,
      "constructor",
      "__proto__",
    ]) {
      assert.equal(c.get(bogus), undefined, bogus);
    }
  });
});

describe("request correlation memory", () => {
  it("keeps at most 512 characters of a path, so long URLs cannot pin memory in every slot", () => {
    const { c } = setup();
    const id = c.record(null, "ip", null, null, "GET", `/${"a".repeat(16_000)}`);
    assert.equal(c.get(id)?.path.length, 512);
  });
});
