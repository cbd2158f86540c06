/**
 * The decision index as the decisions map's local store (`keep: "columns"`, as a Redis-backed
 * replica runs it): what it gives back of a decision, what it keeps whole, what match() finds,
 * and the snapshot generations the map's reload relies on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DecisionIndex, emptyMatches, type RequestFacts } from "../../../src/enforce/decision-index.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import { type Decision, decisionToJson } from "../../../src/store/decision.ts";

const T0 = 1_800_000_000_000;

function decision(overrides: Partial<Decision> & Pick<Decision, "id">): Decision {
  return {
    action: "block",
    scope: "ip",
    value: "203.0.113.9",
    routes: null,
    until: T0 + 60_000,
    createdAt: T0 - 5_000,
    origin: "policy",
    reason: { detectionPoint: "AE2", attackId: "a-1", mode: "enforce", response: "block-ip" },
    rate: null,
    status: null,
    delayMs: null,
    ...overrides,
  };
}

function request(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return { ip: "198.51.100.1", user: null, session: null, method: "GET", path: "/", ...overrides };
}

function setup() {
  const clock = new ManualClock(T0);
  const index = new DecisionIndex({ clock, keep: "columns" });
  const store = index.store;
  const hold = (d: Decision) => store.hold(d.id, d, d.until, 1);
  return { clock, index, store, hold };
}

/** What a columns store gives back: the decision with its reason cut to the mode. */
function withoutReason(d: Decision): Decision {
  return { ...d, reason: { mode: d.reason.mode } };
}

describe("DecisionIndex columns: what comes back", () => {
  it("gives back every field of section 5 but the reason, which keeps only its mode", () => {
    const { store, hold } = setup();
    const all: Decision[] = [
      decision({ id: "ip4" }),
      decision({ id: "ip6", value: "2001:db8::1" }),
      decision({ id: "r4", scope: "range", value: "203.0.113.0/24", origin: "breach" }),
      decision({ id: "r6", scope: "range", value: "2001:db8::/32", origin: "feed" }),
      decision({ id: "u", scope: "user", value: "alice", action: "logout", origin: "manual" }),
      decision({ id: "s", scope: "session", value: "h:abc", action: "flag" }),
      decision({ id: "t", action: "throttle", rate: { count: 10, perMs: 60_000 } }),
      decision({
        id: "d",
        action: "disable",
        scope: "global",
        value: "*",
        routes: ["POST /login"],
        status: 418,
      }),
      decision({ id: "p", action: "tarpit", delayMs: 2500 }),
      decision({ id: "sh", reason: { mode: "shadow", rule: "r" } }),
    ];
    for (const d of all) hold(d);
    assert.equal(store.size, all.length);
    for (const d of all) {
      const back = store.get(d.id);
      assert.deepEqual(back, withoutReason(d), d.id);
      assert.deepEqual(decisionToJson(back!), decisionToJson(withoutReason(d)), d.id);
    }
    assert.deepEqual([...store.entries()].map((e) => e.key).sort(), all.map((d) => d.id).sort());
  });

  it("gives back ip and range text exactly as it came, canonical or not", () => {
    const { store, hold, index } = setup();
    const values: [Decision["scope"], string, string][] = [
      ["ip", "::ffff:203.0.113.7", "203.0.113.7"],
      ["ip", "2001:DB8:0:0::1", "2001:db8::1"],
      ["ip", "2001:db8:0:0:0:0:0:2", "2001:db8::2"],
      ["range", "203.0.113.77/24", "203.0.113.1"],
      ["range", "2001:db8:ffff::/32", "2001:db8::9"],
      ["range", "0.0.0.0/0", "192.0.2.1"],
    ];
    values.forEach(([scope, value], i) => {
      hold(decision({ id: `v${i}`, scope, value, action: "flag" }));
    });
    values.forEach(([, value, hit], i) => {
      assert.equal(store.get(`v${i}`)?.value, value);
      assert.ok(index.match(request({ ip: hit }), emptyMatches()).flag, `${value} matches ${hit}`);
    });
  });

  it("keeps whole what the columns cannot represent, and matches what of it can apply", () => {
    const { store, hold, index } = setup();
    const odd = [
      decision({ id: "o1", action: "notify" as Decision["action"] }),
      decision({ id: "o2", scope: "tenant" as Decision["scope"] }),
      decision({ id: "o3", origin: "import" as Decision["origin"] }),
      decision({ id: "o4", value: 42 as unknown as string }),
      decision({ id: "o5", rate: "fast" as unknown as Decision["rate"] }),
      decision({ id: "o6", status: "503" as unknown as number }),
      decision({ id: "o7", createdAt: "yesterday" as unknown as number }),
      decision({ id: "o8", reason: { mode: "maybe" as "enforce" } }),
      decision({ id: "o9", routes: [1, 2] as unknown as string[] }),
    ];
    for (const d of odd) hold(d);
    for (const d of odd) assert.equal(store.get(d.id), d, d.id);
    assert.equal(index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block?.id, "o3");
    assert.equal(index.size, 6, "o3 and o5-o9 still apply: their action, scope and value are usable");
  });

  it("holds what cannot apply (shadow, unparseable, expired) for the map, and matches none of it", () => {
    const { store, hold, index, clock } = setup();
    hold(decision({ id: "shadow", reason: { mode: "shadow" } }));
    hold(decision({ id: "bad-ip", value: "not an ip" }));
    hold(decision({ id: "bad-range", scope: "range", value: "10.0.0.0/33" }));
    hold(decision({ id: "no-routes", action: "disable", routes: [] }));
    assert.equal(store.size, 4);
    assert.equal(index.size, 0);
    assert.equal(store.get("bad-ip")?.value, "not an ip");
    assert.equal(index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block, null);
    clock.advance(60_000);
    assert.equal(store.get("shadow"), undefined, "expired: gone for readers");
    store.sweep();
    assert.equal(store.size, 0);
  });

  it("a repeated hit hands out the same object (made once per row), a replacement a new one", () => {
    const { index, hold } = setup();
    hold(decision({ id: "a" }));
    const first = index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block;
    const again = index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block;
    assert.ok(first);
    assert.equal(again, first);
    hold(decision({ id: "a", until: T0 + 120_000 }));
    const replaced = index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block;
    assert.notEqual(replaced, first);
    assert.equal(replaced?.until, T0 + 120_000);
  });

  it("a delete through the store takes the decision out of the index at once", () => {
    const { index, store, hold } = setup();
    hold(decision({ id: "a" }));
    hold(decision({ id: "b", scope: "range", value: "203.0.113.0/24" }));
    assert.equal(store.delete("a"), true);
    assert.equal(store.delete("a"), false);
    assert.equal(index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block?.id, "b");
    assert.equal(store.delete("b"), true);
    assert.equal(index.match(request({ ip: "203.0.113.9" }), emptyMatches()).block, null);
    assert.equal(index.size, 0);
  });
});

describe("DecisionIndex columns: snapshot generations", () => {
  it("drops what a reload did not confirm, except what the map says to keep", () => {
    const { store, index } = setup();
    for (const id of ["a", "b", "c", "d"])
      store.hold(id, decision({ id, value: "203.0.113.9" }), T0 + 60_000, 1);
    store.confirm("a", 2);
    store.hold("b", decision({ id: "b", value: "203.0.113.9" }), T0 + 60_000, 2);
    store.confirm("never-held", 2);
    store.dropUnconfirmed(2, (key) => key === "d");
    assert.deepEqual([...store.entries()].map((e) => e.key).sort(), ["a", "b", "d"]);
    assert.equal(index.size, 3);
  });

  it("holds and finds the same after reserve(), whatever count it is told, and grows past it", () => {
    const { store, index, hold } = setup();
    hold(decision({ id: "before" }));
    for (const n of [Number.NaN, -5, 0, 1e15, Number.POSITIVE_INFINITY, 3]) store.reserve(n);
    // Past the 3 reserved, and with ids a Map would hold as they came: long, empty, non-Latin-1.
    const ids = [
      "x".repeat(300),
      "",
      "décision-ü",
      "\u{1F512}-id",
      ...Array.from({ length: 100 }, (_, i) => `d-${i}`),
    ];
    ids.forEach((id, i) => {
      hold(decision({ id, value: `198.51.100.${i}` }));
    });
    assert.equal(store.size, ids.length + 1);
    for (const [i, id] of ids.entries()) {
      assert.equal(store.get(id)?.id, id);
      assert.equal(index.match(request({ ip: `198.51.100.${i}` }), emptyMatches()).block?.id, id);
    }
    assert.deepEqual([...store.entries()].map((e) => e.key).sort(), [...ids, "before"].sort());
    assert.equal(store.delete(""), true);
    assert.equal(store.get(""), undefined);
    assert.equal(store.get("x".repeat(300))?.value, "198.51.100.0");
  });
});

describe("DecisionIndex columns: hostile decisions", () => {
  const arbValue = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.ipV4(),
    fc.ipV6(),
    fc.tuple(fc.ipV4(), fc.integer({ min: -2, max: 40 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: -2, max: 140 })).map(([a, p]) => `${a}/${p}`),
    fc.anything(),
  );
  const arbDecision = fc.record({
    id: fc.constantFrom("a", "b", "c"),
    action: fc.oneof(
      fc.constantFrom("block", "throttle", "disable", "logout", "tarpit", "flag"),
      fc.anything(),
    ),
    scope: fc.oneof(fc.constantFrom("ip", "range", "session", "user", "global"), fc.anything()),
    value: arbValue,
    routes: fc.oneof(
      fc.constant(null),
      fc.array(fc.constantFrom("GET /x", "POST /**", "bad")),
      fc.anything(),
    ),
    until: fc.oneof(fc.integer({ min: T0 - 10, max: T0 + 100_000 }), fc.double({ max: T0 + 100_000 })),
    createdAt: fc.oneof(fc.integer({ min: 0, max: T0 }), fc.anything()),
    origin: fc.oneof(fc.constantFrom("policy", "breach", "manual", "feed"), fc.anything()),
    reason: fc.oneof(
      fc.record({ mode: fc.constantFrom("enforce", "shadow"), text: fc.string() }),
      fc.anything(),
    ),
    rate: fc.oneof(
      fc.constant(null),
      fc.record({ count: fc.integer({ min: -1, max: 100 }), perMs: fc.integer({ min: 0, max: 3_600_000 }) }),
      fc.anything(),
    ),
    status: fc.oneof(fc.constant(null), fc.integer({ min: 100, max: 599 }), fc.anything()),
    delayMs: fc.oneof(fc.constant(null), fc.integer({ min: -5, max: 60_000 }), fc.anything()),
  }) as fc.Arbitrary<unknown> as fc.Arbitrary<Decision>;

  it("never throws, and gives back each decision as the whole index would (reason aside)", () => {
    fc.assert(
      fc.property(
        fc.array(arbDecision, { maxLength: 20 }),
        fc.array(fc.ipV4(), { maxLength: 5 }),
        (ds, ips) => {
          const clock = new ManualClock(T0);
          const columns = new DecisionIndex({ clock, keep: "columns" });
          const whole = new DecisionIndex({ clock, keep: "whole" });
          for (const d of ds) {
            columns.store.hold(d.id, d, d.until, 1);
            whole.store.hold(d.id, d, d.until, 1);
          }
          assert.equal(columns.size, whole.size);
          for (const id of ["a", "b", "c"]) {
            const w = whole.store.get(id);
            const c = columns.store.get(id);
            if (w === undefined) assert.equal(c, undefined);
            else if (c === w)
              continue; // kept whole
            else assert.deepEqual(c, { ...w, reason: { mode: (w.reason as { mode: string }).mode } });
          }
          for (const ip of [...ips, "203.0.113.9", "2001:db8::1"]) {
            const facts = request({ ip, user: "alice", session: "h" });
            const a = columns.match(facts, emptyMatches());
            const b = whole.match(facts, emptyMatches());
            for (const k of ["block", "throttle", "disable", "logout", "tarpit", "flag"] as const)
              assert.equal(a[k]?.id, b[k]?.id, k);
          }
          columns.sweep();
          clock.advance(200_000);
          columns.sweep();
          assert.equal(columns.store.size, 0);
          assert.equal(columns.size, 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
