import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { parseCidr, parseIp } from "../../../src/actor/cidr.ts";
import {
  DecisionIndex,
  emptyMatches,
  type Matches,
  type RequestFacts,
} from "../../../src/enforce/decision-index.ts";
import { compileRoutes } from "../../../src/enforce/route-matcher.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import type { Decision, DecisionAction } from "../../../src/store/decision.ts";

const T0 = 1_800_000_000_000;
const ACTIONS: readonly DecisionAction[] = ["block", "throttle", "disable", "logout", "tarpit", "flag"];

function decision(overrides: Partial<Decision> & Pick<Decision, "id">): Decision {
  return {
    action: "block",
    scope: "ip",
    value: "203.0.113.9",
    routes: null,
    until: T0 + 60_000,
    createdAt: T0,
    origin: "policy",
    reason: { mode: "enforce" },
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
  const index = new DecisionIndex({ clock });
  const match = (facts: Partial<RequestFacts> = {}) => index.match(request(facts), emptyMatches());
  return { clock, index, match };
}

/** The id per action, for short comparisons. */
function ids(m: Matches): Record<string, string | null> {
  return Object.fromEntries(ACTIONS.map((a) => [a, m[a]?.id ?? null]));
}

describe("DecisionIndex scopes", () => {
  it("ip: the address itself, IPv4 and IPv6, nothing next to it", () => {
    const { index, match } = setup();
    index.add(decision({ id: "v4", value: "203.0.113.9" }));
    index.add(decision({ id: "v6", value: "2001:db8::9" }));
    assert.equal(match({ ip: "203.0.113.9" }).block?.id, "v4");
    assert.equal(match({ ip: "203.0.113.8" }).block, null);
    assert.equal(match({ ip: "203.0.113.90" }).block, null);
    assert.equal(match({ ip: "2001:db8::9" }).block?.id, "v6");
    assert.equal(match({ ip: "2001:db8::8" }).block, null);
    assert.equal(match({ ip: "2001:db8::9:0" }).block, null);
  });

  it("ip: IPv6 compared in canonical form on both sides", () => {
    const { index, match } = setup();
    index.add(decision({ id: "long", value: "2001:0DB8:0000:0000:0000:0000:0000:0001" }));
    for (const ip of [
      "2001:db8::1",
      "2001:DB8::1",
      "2001:db8:0:0::1",
      "2001:0db8::0001",
      "2001:db8::1%eth0",
    ]) {
      assert.equal(match({ ip }).block?.id, "long", ip);
    }
  });

  it("ip: IPv4-mapped IPv6 is the IPv4 address, in decisions and in requests", () => {
    const { index, match } = setup();
    index.add(decision({ id: "mapped", value: "::ffff:192.0.2.7" }));
    index.add(decision({ id: "plain", value: "192.0.2.8" }));
    index.add(decision({ id: "mapped-range", scope: "range", value: "::ffff:198.51.100.0/120" }));
    assert.equal(match({ ip: "192.0.2.7" }).block?.id, "mapped");
    assert.equal(
      match({ ip: "::ffff:192.0.2.8" }).block?.id,
      "plain",
      "a request the caller forgot to strip",
    );
    assert.equal(match({ ip: "::ffff:c000:208" }).block?.id, "plain");
    assert.equal(match({ ip: "198.51.100.200" }).block?.id, "mapped-range");
    assert.equal(match({ ip: "198.51.101.1" }).block, null);
  });

  it("range: IPv4 prefixes of every length, /0 to /32, and nested ranges", () => {
    const { index, match } = setup();
    for (let prefix = 0; prefix <= 32; prefix++) {
      index.add(
        decision({ id: `r${prefix}`, scope: "range", value: `10.20.30.40/${prefix}`, action: "flag" }),
      );
    }
    // Each address below shares exactly `k` leading bits with 10.20.30.40, so ranges /0 to /k hold it.
    const base = (10 << 24) | (20 << 16) | (30 << 8) | 40;
    // Blocks that last longer the narrower they are: the one enforced is the narrowest holding it.
    const longest = new DecisionIndex({ clock: new ManualClock(T0) });
    for (let prefix = 0; prefix <= 32; prefix++) {
      longest.add(
        decision({
          id: `r${prefix}`,
          scope: "range",
          value: `10.20.30.40/${prefix}`,
          until: T0 + 1000 + prefix,
        }),
      );
    }
    for (let k = 0; k <= 32; k++) {
      const addr = k === 32 ? base : (base ^ (1 << (31 - k))) >>> 0;
      const text = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
      assert.equal(match({ ip: text }).flag?.id, "r0", "first added wins for flag");
      assert.equal(longest.match(request({ ip: text }), emptyMatches()).block?.id, `r${k}`, text);
    }
    assert.equal(match({ ip: "255.255.255.255" }).flag?.id, "r0", "/0 holds everything");
  });

  it("range: IPv6 prefixes of many lengths, /0 and /128 included", () => {
    const { index } = setup();
    const lengths = [0, 1, 16, 31, 32, 47, 48, 63, 64, 65, 96, 112, 127, 128];
    for (const prefix of lengths) {
      index.add(
        decision({
          id: `r${prefix}`,
          scope: "range",
          value: `2001:db8:abcd:12::8001/${prefix}`,
          until: T0 + 1000 + prefix,
        }),
      );
    }
    const at = (ip: string) => index.match(request({ ip }), emptyMatches()).block?.id ?? null;
    assert.equal(at("2001:db8:abcd:12::8001"), "r128");
    assert.equal(at("2001:db8:abcd:12::8000"), "r127");
    assert.equal(at("2001:db8:abcd:12::1"), "r112");
    assert.equal(at("2001:db8:abcd:12:8000::"), "r64");
    assert.equal(at("2001:db8:abcd:13::"), "r63");
    assert.equal(at("2001:db8:abcc::"), "r47");
    assert.equal(at("2001:db9::"), "r31");
    assert.equal(at("2001:ffff::"), "r16");
    assert.equal(at("2002::"), "r1", "2001 and 2002 part at bit 14");
    assert.equal(at("4000::"), "r1");
    assert.equal(at("ffff::"), "r0");
    assert.equal(at("203.0.113.1"), null, "IPv6 ranges never hold IPv4 clients");
  });

  it("range: a value with host bits set is its network", () => {
    const { index, match } = setup();
    index.add(decision({ id: "r", scope: "range", value: "203.0.113.77/24" }));
    assert.equal(match({ ip: "203.0.113.1" }).block?.id, "r");
    assert.equal(match({ ip: "203.0.114.1" }).block, null);
  });

  it("user and session: exact values, null never matches", () => {
    const { index, match } = setup();
    index.add(decision({ id: "u", scope: "user", value: "alice" }));
    index.add(decision({ id: "s", scope: "session", value: "h:abc", action: "logout" }));
    assert.equal(match({ user: "alice" }).block?.id, "u");
    assert.equal(match({ user: "Alice" }).block, null);
    assert.equal(match({ user: "alice " }).block, null);
    assert.equal(match({ user: null }).block, null);
    assert.equal(match({ session: "h:abc" }).logout?.id, "s");
    assert.equal(match({ session: "h:abcd" }).logout, null);
    assert.equal(match({ user: "h:abc" }).logout, null, "a session value is not a user");
    assert.equal(match({ session: "alice" }).block, null, "a user value is not a session");
  });

  it("global: everyone", () => {
    const { index, match } = setup();
    index.add(decision({ id: "g", scope: "global", value: "*", action: "flag" }));
    assert.equal(match().flag?.id, "g");
    assert.equal(match({ ip: "2001:db8::1", user: "x" }).flag?.id, "g");
    assert.equal(match({ ip: "garbage" }).flag?.id, "g");
  });

  it("one request gathers every action from every scope that holds it", () => {
    const { index, match } = setup();
    index.add(decision({ id: "b", action: "block", scope: "user", value: "alice" }));
    index.add(
      decision({
        id: "t",
        action: "throttle",
        scope: "range",
        value: "203.0.113.0/24",
        rate: { count: 5, perMs: 1000 },
      }),
    );
    index.add(
      decision({
        id: "d",
        action: "disable",
        scope: "global",
        value: "*",
        routes: ["POST /upload/*"],
        status: 503,
      }),
    );
    index.add(decision({ id: "l", action: "logout", scope: "session", value: "h1" }));
    index.add(decision({ id: "p", action: "tarpit", scope: "ip", value: "203.0.113.9", delayMs: 500 }));
    index.add(decision({ id: "f", action: "flag", scope: "ip", value: "203.0.113.9" }));
    const all = match({ ip: "203.0.113.9", user: "alice", session: "h1", method: "POST", path: "/upload/x" });
    assert.deepEqual(ids(all), {
      block: "b",
      throttle: "t",
      disable: "d",
      logout: "l",
      tarpit: "p",
      flag: "f",
    });
    const none = match({ ip: "198.51.100.1", user: "bob", session: "h2", method: "GET", path: "/upload/x" });
    assert.deepEqual(ids(none), {
      block: null,
      throttle: null,
      disable: null,
      logout: null,
      tarpit: null,
      flag: null,
    });
  });
});

describe("DecisionIndex lifecycle", () => {
  it("a decision applies while until > now, and sweep drops it after", () => {
    const { index, match, clock } = setup();
    index.add(decision({ id: "a", until: T0 + 1000 }));
    index.add(decision({ id: "b", scope: "user", value: "alice", until: T0 + 5000 }));
    clock.advance(999);
    assert.equal(match({ ip: "203.0.113.9" }).block?.id, "a");
    clock.advance(1);
    assert.equal(match({ ip: "203.0.113.9" }).block, null, "until is exclusive");
    assert.equal(index.size, 2, "match ignores it; sweep removes it");
    index.sweep();
    assert.equal(index.size, 1);
    assert.equal(match({ user: "alice" }).block?.id, "b");
    clock.advance(10_000);
    index.sweep();
    assert.equal(index.size, 0);
    assert.equal(match({ user: "alice" }).block, null);
  });

  it("an expired decision is not held at all", () => {
    const { index, match } = setup();
    index.add(decision({ id: "old", until: T0 }));
    assert.equal(index.size, 0);
    assert.equal(match({ ip: "203.0.113.9" }).block, null);
  });

  it("the expired one of two gives way to the live one", () => {
    const { index, match, clock } = setup();
    index.add(decision({ id: "long", until: T0 + 10_000 }));
    index.add(decision({ id: "longer", until: T0 + 1_000_000, scope: "range", value: "203.0.113.0/24" }));
    index.add(decision({ id: "short-but-first", until: T0 + 100, action: "flag" }));
    index.add(decision({ id: "second", until: T0 + 10_000, action: "flag" }));
    assert.equal(match({ ip: "203.0.113.9" }).flag?.id, "short-but-first");
    clock.advance(100);
    assert.equal(match({ ip: "203.0.113.9" }).flag?.id, "second");
    assert.equal(match({ ip: "203.0.113.9" }).block?.id, "longer");
  });

  it("add replaces by id, wherever the new one points", () => {
    const { index, match } = setup();
    index.add(decision({ id: "x", value: "203.0.113.9" }));
    index.add(decision({ id: "x", scope: "user", value: "alice", action: "flag" }));
    assert.equal(index.size, 1);
    assert.equal(match({ ip: "203.0.113.9" }).block, null);
    assert.equal(match({ user: "alice" }).flag?.id, "x");
    index.add(decision({ id: "x", scope: "range", value: "2001:db8::/32" }));
    assert.equal(match({ user: "alice" }).flag, null);
    assert.equal(match({ ip: "2001:db8::5" }).block?.id, "x");
  });

  it("replacing keeps the decision's place in add order", () => {
    const { index, match } = setup();
    index.add(decision({ id: "first", action: "flag" }));
    index.add(decision({ id: "second", action: "flag" }));
    index.add(decision({ id: "first", action: "flag", until: T0 + 999_999 }));
    assert.equal(match({ ip: "203.0.113.9" }).flag?.id, "first");
    index.remove("first");
    index.add(decision({ id: "first", action: "flag" }));
    assert.equal(match({ ip: "203.0.113.9" }).flag?.id, "second", "removed then added is added anew");
  });

  it("remove and clear", () => {
    const { index, match } = setup();
    index.add(decision({ id: "a" }));
    index.add(decision({ id: "b", scope: "session", value: "h" }));
    index.add(decision({ id: "c", scope: "global", value: "*", action: "flag" }));
    index.remove("a");
    index.remove("a");
    index.remove("never");
    assert.equal(index.size, 2);
    assert.equal(match({ ip: "203.0.113.9" }).block, null);
    assert.equal(match({ session: "h" }).block?.id, "b");
    index.clear();
    assert.equal(index.size, 0);
    assert.deepEqual(ids(match({ session: "h" })), ids(emptyMatches()));
    index.add(decision({ id: "a" }));
    assert.equal(match({ ip: "203.0.113.9" }).block?.id, "a", "usable after clear");
  });

  it("shadow decisions are never enforced, and a shadow replacement withdraws the enforced one", () => {
    const { index, match } = setup();
    index.add(decision({ id: "s", reason: { mode: "shadow" } }));
    assert.equal(index.size, 0);
    assert.equal(match({ ip: "203.0.113.9" }).block, null);
    index.add(decision({ id: "e" }));
    index.add(decision({ id: "e", reason: { mode: "shadow" } }));
    assert.equal(match({ ip: "203.0.113.9" }).block, null);
  });

  it("decisions that cannot apply are not held", () => {
    const { index } = setup();
    const bad: Decision[] = [
      decision({ id: "1", value: "not an ip" }),
      decision({ id: "2", value: "203.0.113.0/24" }),
      decision({ id: "3", scope: "range", value: "10.0.0.0/33" }),
      decision({ id: "4", scope: "range", value: "" }),
      decision({ id: "5", action: "disable", routes: null }),
      decision({ id: "6", action: "disable", routes: [] }),
      decision({ id: "7", action: "disable", routes: ["/no-method"] }),
      decision({ id: "8", action: "notify" as DecisionAction }),
      decision({ id: "9", scope: "tenant" as "ip" }),
      decision({ id: "10", until: Number.NaN }),
      decision({ id: "11", scope: "user", value: 42 as unknown as string }),
    ];
    for (const d of bad) index.add(d);
    assert.equal(index.size, 0);
  });

  it("an empty bucket leaves the trie, so a later lookup there costs nothing", () => {
    const { index, match } = setup();
    for (let i = 0; i < 1000; i++) index.add(decision({ id: `d${i}`, value: `10.0.${i >> 8}.${i & 255}` }));
    for (let i = 0; i < 1000; i++) index.remove(`d${i}`);
    assert.equal(index.size, 0);
    index.add(decision({ id: "u", scope: "user", value: "alice" }));
    assert.equal(match({ ip: "10.0.0.1" }).block, null);
  });
});

describe("DecisionIndex disable", () => {
  it("applies only to matching routes and only within its scope", () => {
    const { index, match } = setup();
    index.add(
      decision({
        id: "d",
        action: "disable",
        scope: "ip",
        value: "203.0.113.9",
        routes: ["POST /upload/*", "GET /api/**"],
        status: 503,
      }),
    );
    assert.equal(match({ ip: "203.0.113.9", method: "POST", path: "/upload/a" }).disable?.id, "d");
    assert.equal(match({ ip: "203.0.113.9", method: "GET", path: "/api/x/y" }).disable?.id, "d");
    assert.equal(match({ ip: "203.0.113.9", method: "POST", path: "/upload/a/b" }).disable, null);
    assert.equal(match({ ip: "203.0.113.9", method: "GET", path: "/upload/a" }).disable, null);
    assert.equal(match({ ip: "203.0.113.9", method: "POST", path: "/api/x" }).disable, null);
    assert.equal(
      match({ ip: "203.0.113.10", method: "POST", path: "/upload/a" }).disable,
      null,
      "other scope",
    );
  });

  it("a non-matching earlier disable does not hide a matching later one", () => {
    const { index, match } = setup();
    index.add(
      decision({ id: "first", action: "disable", scope: "global", value: "*", routes: ["GET /other"] }),
    );
    index.add(
      decision({ id: "second", action: "disable", scope: "global", value: "*", routes: ["GET /here"] }),
    );
    assert.equal(match({ method: "GET", path: "/here" }).disable?.id, "second");
    assert.equal(match({ method: "GET", path: "/other" }).disable?.id, "first");
  });
});

describe("DecisionIndex tie-breaks", () => {
  it("block: the one lasting longest, whatever the scope; first added on a tie", () => {
    const { index, match } = setup();
    index.add(decision({ id: "ip", until: T0 + 1000 }));
    index.add(decision({ id: "range", scope: "range", value: "203.0.113.0/24", until: T0 + 3000 }));
    index.add(decision({ id: "user", scope: "user", value: "alice", until: T0 + 2000 }));
    assert.equal(match({ ip: "203.0.113.9", user: "alice" }).block?.id, "range");
    index.add(decision({ id: "tie", scope: "global", value: "*", until: T0 + 3000 }));
    assert.equal(match({ ip: "203.0.113.9", user: "alice" }).block?.id, "range");
    assert.equal(match({ ip: "198.51.100.1", user: "alice" }).block?.id, "tie");
  });

  it("throttle: the lowest rate, across units; no usable rate is the highest", () => {
    const { index, match } = setup();
    index.add(decision({ id: "none", action: "throttle", rate: null }));
    assert.equal(match({ ip: "203.0.113.9" }).throttle?.id, "none", "still the only one");
    index.add(decision({ id: "10/s", action: "throttle", rate: { count: 10, perMs: 1000 } }));
    index.add(
      decision({
        id: "300/m",
        action: "throttle",
        scope: "user",
        value: "a",
        rate: { count: 300, perMs: 60_000 },
      }),
    );
    index.add(
      decision({
        id: "1000/h",
        action: "throttle",
        scope: "global",
        value: "*",
        rate: { count: 1000, perMs: 3_600_000 },
      }),
    );
    assert.equal(match({ ip: "203.0.113.9" }).throttle?.id, "1000/h");
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).throttle?.id, "1000/h");
    index.remove("1000/h");
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).throttle?.id, "300/m", "5/s is below 10/s");
    index.add(
      decision({
        id: "5/s",
        action: "throttle",
        scope: "range",
        value: "203.0.0.0/16",
        rate: { count: 5, perMs: 1000 },
      }),
    );
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).throttle?.id, "300/m", "same rate: first added");
    index.add(
      decision({
        id: "zero",
        action: "throttle",
        scope: "user",
        value: "a",
        rate: { count: 0, perMs: 1000 },
      }),
    );
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).throttle?.id, "zero");
    index.add(decision({ id: "broken", action: "throttle", rate: { count: 1, perMs: 0 } }));
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).throttle?.id, "zero");
  });

  it("throttle: a rate that is not a number never shadows a real one", () => {
    const { index, match } = setup();
    index.add(decision({ id: "nan", action: "throttle", rate: { count: Number.NaN, perMs: 1000 } }));
    index.add(decision({ id: "negative", action: "throttle", rate: { count: -1, perMs: 1000 } }));
    index.add(decision({ id: "10/s", action: "throttle", rate: { count: 10, perMs: 1000 } }));
    assert.equal(match({ ip: "203.0.113.9" }).throttle?.id, "10/s");
  });

  it("tarpit: the longest delay; first added on a tie", () => {
    const { index, match } = setup();
    index.add(decision({ id: "short", action: "tarpit", delayMs: 100 }));
    index.add(decision({ id: "long", action: "tarpit", scope: "user", value: "a", delayMs: 2000 }));
    index.add(decision({ id: "long too", action: "tarpit", scope: "global", value: "*", delayMs: 2000 }));
    index.add(decision({ id: "none", action: "tarpit", scope: "global", value: "*", delayMs: null }));
    assert.equal(match({ ip: "203.0.113.9", user: "a" }).tarpit?.id, "long");
    assert.equal(match({ ip: "203.0.113.9" }).tarpit?.id, "long too");
    assert.equal(match({ ip: "198.51.100.1" }).tarpit?.id, "long too");
  });

  it("disable, logout and flag: the first added", () => {
    for (const action of ["disable", "logout", "flag"] as const) {
      const { index, match } = setup();
      const routes = action === "disable" ? ["* /**"] : null;
      index.add(decision({ id: "1", action, scope: "user", value: "a", routes, until: T0 + 100 }));
      index.add(decision({ id: "2", action, routes, until: T0 + 9_000 }));
      index.add(decision({ id: "3", action, scope: "global", value: "*", routes }));
      assert.equal(match({ ip: "203.0.113.9", user: "a" })[action]?.id, "1", action);
      assert.equal(match({ ip: "203.0.113.9" })[action]?.id, "2", action);
      assert.equal(match({})[action]?.id, "3", action);
    }
  });
});

describe("DecisionIndex hostile input", () => {
  it("match never throws, and finds nothing it should not", () => {
    const { index, match } = setup();
    index.add(decision({ id: "ip" }));
    index.add(decision({ id: "r6", scope: "range", value: "::/0", action: "flag" }));
    index.add(decision({ id: "u", scope: "user", value: "alice" }));
    index.add(
      decision({ id: "d", action: "disable", scope: "global", value: "*", routes: ["GET /**/x*y*z"] }),
    );
    const garbage = [
      "",
      "203.0.113.9 ",
      "203.0.113.9/32",
      "203.0.113.09.1",
      "999.999.999.999",
      ":::::::",
      "1::2::3",
      "x".repeat(10_000),
      `${"ffff:".repeat(2000)}1`,
      "\u0000",
      "\ud800",
      "%",
      "::%%",
    ];
    for (const ip of garbage) {
      const m = match({ ip, path: `/${"a/".repeat(5000)}`, method: "GET".repeat(1000) });
      assert.equal(m.block, null, JSON.stringify(ip.slice(0, 20)));
      assert.equal(m.flag, null);
      assert.equal(m.disable, null);
    }
    const long = `/${"xy".repeat(5_000)}`;
    assert.equal(match({ path: long }).disable, null);
    assert.equal(match({ path: `${long}/x${"y".repeat(10_000)}z` }).disable?.id, "d");
    const weird = [null, undefined, 42, {}, [], Symbol.iterator] as unknown[];
    for (const value of weird) {
      const facts = {
        ip: value,
        user: value,
        session: value,
        method: value,
        path: value,
      } as unknown as RequestFacts;
      const m = index.match(facts, emptyMatches());
      assert.equal(m.block, null);
    }
  });

  it("out is reset even when nothing applies and the index is empty", () => {
    const { index } = setup();
    const out = emptyMatches();
    out.block = decision({ id: "stale" });
    out.flag = out.block;
    index.match(request(), out);
    assert.deepEqual(ids(out), ids(emptyMatches()));
  });
});

// --- Property: the index agrees with a naive linear scan --------------------------------------

/** The reference: every held decision in add order, each checked against the request. */
class NaiveIndex {
  readonly held = new Map<string, Decision>();
  readonly clock: ManualClock;
  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  add(d: Decision): void {
    if (d.reason.mode === "shadow" || !(d.until > this.clock.now()) || !usable(d)) this.held.delete(d.id);
    else this.held.set(d.id, d);
  }

  sweep(): void {
    for (const [id, d] of this.held) if (d.until <= this.clock.now()) this.held.delete(id);
  }

  match(f: RequestFacts): Record<string, string | null> {
    const live = [...this.held.values()].filter((d) => d.until > this.clock.now() && applies(d, f));
    const pick = (action: DecisionAction, better: (a: Decision, b: Decision) => boolean) =>
      live
        .filter((d) => d.action === action)
        .reduce<Decision | null>((b, d) => (b === null || better(d, b) ? d : b), null)?.id ?? null;
    const rate = (d: Decision) =>
      d.rate && d.rate.perMs > 0 ? d.rate.count / d.rate.perMs : Number.POSITIVE_INFINITY;
    return {
      block: pick("block", (a, b) => a.until > b.until),
      throttle: pick("throttle", (a, b) => rate(a) < rate(b)),
      disable: pick("disable", () => false),
      logout: pick("logout", () => false),
      tarpit: pick("tarpit", (a, b) => (a.delayMs ?? 0) > (b.delayMs ?? 0)),
      flag: pick("flag", () => false),
    };
  }
}

function usable(d: Decision): boolean {
  if (d.action === "disable" && compileRoutes(d.routes) === null) return false;
  if (d.scope === "ip") return !d.value.includes("/") && parseIp(d.value) !== null;
  if (d.scope === "range") return typeof parseCidr(d.value) !== "string";
  return true;
}

function applies(d: Decision, f: RequestFacts): boolean {
  if (d.action === "disable" && !compileRoutes(d.routes)!.matches(f.method, f.path)) return false;
  switch (d.scope) {
    case "global":
      return true;
    case "user":
      return d.value === f.user;
    case "session":
      return d.value === f.session;
    case "ip":
    case "range": {
      const client = ipaddr.isValid(f.ip) ? parseIp(f.ip) : null;
      const cidr = parseCidr(d.value);
      if (client === null || typeof cidr === "string" || client.kind() !== cidr.kind) return false;
      return client.match(ipaddr.fromByteArray(cidr.bytes), cidr.prefix);
    }
  }
}

const V4_BASES = [
  "10.0.0.1",
  "10.0.0.2",
  "10.0.1.1",
  "10.128.0.1",
  "192.0.2.1",
  "0.0.0.0",
  "255.255.255.255",
];
const V6_BASES = ["2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:8000::1", "::", "ffff::1"];
/** Text the same address may be written as in a decision. */
const spell = (ip: string, how: number): string => {
  if (ip.includes(":"))
    return how === 0 ? ipaddr.parse(ip).toNormalizedString() : how === 1 ? ip.toUpperCase() : ip;
  return how === 0 ? `::ffff:${ip}` : ip;
};

const arbDecision = fc
  .record({
    id: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
    action: fc.constantFrom(...ACTIONS),
    target: fc.oneof(
      fc.record({
        scope: fc.constant("ip" as const),
        base: fc.constantFrom(...V4_BASES, ...V6_BASES),
        how: fc.nat(2),
      }),
      fc.record({
        scope: fc.constant("range" as const),
        base: fc.constantFrom(...V4_BASES, ...V6_BASES),
        prefix: fc.nat(128),
      }),
      fc.record({ scope: fc.constant("user" as const), value: fc.constantFrom("alice", "bob") }),
      fc.record({ scope: fc.constant("session" as const), value: fc.constantFrom("h1", "h2") }),
      fc.record({ scope: fc.constant("global" as const) }),
      fc.record({ scope: fc.constant("ip" as const), bad: fc.constantFrom("10.0.0.0/8", "nope", "") }),
    ),
    ttl: fc.integer({ min: -5, max: 100 }),
    shadow: fc.nat(9).map((n) => n < 2),
    rate: fc.option(fc.record({ count: fc.nat(5), perMs: fc.constantFrom(1000, 60_000, 3_600_000) })),
    delayMs: fc.option(fc.nat(3)),
    routes: fc.option(fc.subarray(["POST /upload/*", "GET /api/**", "not a route"])),
  })
  .map((r): ((now: number) => Decision) => {
    const t = r.target;
    let value: string;
    if ("bad" in t) value = t.bad;
    else if (t.scope === "ip") value = spell(t.base, t.how);
    else if (t.scope === "range") value = `${t.base}/${t.base.includes(":") ? t.prefix : t.prefix % 33}`;
    else if (t.scope === "global") value = "*";
    else value = t.value;
    return (now) =>
      decision({
        id: r.id,
        action: r.action,
        scope: t.scope,
        value,
        until: now + r.ttl,
        reason: { mode: r.shadow ? "shadow" : "enforce" },
        rate: r.action === "throttle" ? r.rate : null,
        delayMs: r.action === "tarpit" ? r.delayMs : null,
        routes: r.action === "disable" ? r.routes : null,
      });
  });

/** Request addresses: the bases, their neighbours, mapped forms, and text that is no address. */
const arbIp = fc.oneof(
  fc.constantFrom(...V4_BASES, ...V6_BASES),
  fc.constantFrom(...V4_BASES).map((ip) => `::ffff:${ip}`),
  fc.tuple(fc.constantFrom(...V4_BASES, ...V6_BASES), fc.nat(127)).map(([ip, bit]) => {
    const bytes = ipaddr.parse(ip).toByteArray();
    const at = bit % (bytes.length * 8);
    bytes[at >> 3]! ^= 0x80 >> (at & 7);
    return ipaddr.fromByteArray(bytes).toString();
  }),
  fc.constantFrom("not-an-ip", "", "::g", "10.0.0.1.1"),
);

const arbRequest = fc.record({
  ip: arbIp,
  user: fc.constantFrom("alice", "bob", "carol", null),
  session: fc.constantFrom("h1", "h2", "h3", null),
  method: fc.constantFrom("GET", "POST", "post"),
  path: fc.constantFrom("/upload/a", "/upload/a/b", "/api", "/api/x/y", "/"),
});

const arbOp = fc.oneof(
  { weight: 5, arbitrary: arbDecision.map((make) => ({ kind: "add" as const, make })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("a", "b", "c", "d").map((id) => ({ kind: "remove" as const, id })),
  },
  { weight: 1, arbitrary: fc.nat(40).map((ms) => ({ kind: "advance" as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: "sweep" as const }) },
  { weight: 3, arbitrary: arbRequest.map((facts) => ({ kind: "match" as const, facts })) },
);

describe("DecisionIndex against a linear scan", () => {
  it("agrees on every request, through adds, replacements, removals, expiry and sweeps", () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 80, size: "large" }), (ops) => {
        const clock = new ManualClock(T0);
        const index = new DecisionIndex({ clock });
        const naive = new NaiveIndex(clock);
        const out = emptyMatches();
        for (const op of ops) {
          if (op.kind === "add") {
            const d = op.make(clock.now());
            index.add(d);
            naive.add(d);
          } else if (op.kind === "remove") {
            index.remove(op.id);
            naive.held.delete(op.id);
          } else if (op.kind === "advance") clock.advance(op.ms);
          else if (op.kind === "sweep") {
            index.sweep();
            naive.sweep();
            assert.equal(index.size, naive.held.size);
          } else {
            assert.deepEqual(
              ids(index.match(op.facts, out)),
              naive.match(op.facts),
              JSON.stringify(op.facts),
            );
          }
        }
        assert.equal(index.size, naive.held.size);
      }),
      { numRuns: 1_000 },
    );
  });
});
