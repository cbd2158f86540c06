import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDecisionInput, parseRfc3339 } from "../../../src/admin/decision-input.ts";

const NOW = Date.parse("2026-11-22T03:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const BLOCK = { action: "block", scope: "ip", value: "203.0.113.7", duration: "1h" };

function accepted(body: Record<string, unknown>) {
  const r = parseDecisionInput(body, NOW);
  assert.ok(r.ok, `expected the body to be accepted: ${JSON.stringify(r.ok ? null : r.errors)}`);
  return r.input;
}

function errors(body: unknown) {
  const r = parseDecisionInput(body, NOW);
  assert.equal(r.ok, false, "expected the body to be refused");
  return r.ok ? [] : r.errors;
}

describe("decision input: accepted bodies", () => {
  it("a block of an address for an hour, with every optional field at its default", () => {
    assert.deepEqual(accepted(BLOCK), {
      action: "block",
      scope: "ip",
      value: "203.0.113.7",
      routes: null,
      until: NOW + HOUR,
      rate: null,
      status: null,
      delayMs: null,
      reason: null,
    });
  });

  const cases: [string, Record<string, unknown>, Partial<ReturnType<typeof accepted>>][] = [
    ["IPv4-mapped IPv6 becomes IPv4", { ...BLOCK, value: "::ffff:203.0.113.7" }, { value: "203.0.113.7" }],
    ["IPv6 is written the RFC 5952 way", { ...BLOCK, value: "2001:DB8:0:0::1" }, { value: "2001:db8::1" }],
    [
      "a range is canonicalised to its network",
      { ...BLOCK, scope: "range", value: "203.0.113.7/24" },
      { value: "203.0.113.0/24" },
    ],
    [
      "an IPv6 range too",
      { ...BLOCK, scope: "range", value: "2001:db8:1:2:3::9/48" },
      { value: "2001:db8:1::/48" },
    ],
    [
      "a user name is kept as written",
      { ...BLOCK, scope: "user", value: "Zoë O'Brien" },
      { value: "Zoë O'Brien" },
    ],
    [
      "a session hash",
      { ...BLOCK, action: "logout", scope: "session", value: "aB3_-x" },
      { action: "logout", value: "aB3_-x" },
    ],
    ["global without a value is *", { action: "flag", scope: "global", duration: "15m" }, { value: "*" }],
    ["global with *", { action: "flag", scope: "global", value: "*", duration: "15m" }, { value: "*" }],
    [
      "disable with routes answers 503 by default",
      { action: "disable", scope: "global", routes: ["POST /upload/*", "* /admin"], duration: "30m" },
      { routes: ["POST /upload/*", "* /admin"], status: 503, until: NOW + 30 * 60_000 },
    ],
    [
      "disable with a status",
      {
        action: "disable",
        scope: "user",
        value: "bob",
        routes: ["GET /export"],
        status: 451,
        duration: "1d",
      },
      { status: 451 },
    ],
    [
      "throttle with a rate",
      { ...BLOCK, action: "throttle", rate: "10/m" },
      { action: "throttle", rate: { count: 10, perMs: 60_000 } },
    ],
    ["tarpit with a delay", { ...BLOCK, action: "tarpit", delay: "2s" }, { action: "tarpit", delayMs: 2000 }],
    ["tarpit up to a minute", { ...BLOCK, action: "tarpit", delay: "60s" }, { delayMs: 60_000 }],
    [
      "until, with an offset",
      { ...BLOCK, duration: undefined, until: "2026-11-22T05:30:00+02:00" },
      { until: NOW + 30 * 60_000 },
    ],
    [
      "until 366 days ahead",
      { ...BLOCK, duration: undefined, until: "2027-11-23T03:00:00Z" },
      { until: NOW + 366 * DAY },
    ],
    ["duration up to 366d", { ...BLOCK, duration: "366d" }, { until: NOW + 366 * DAY }],
    [
      "a reason",
      { ...BLOCK, reason: "credential stuffing from this host" },
      { reason: "credential stuffing from this host" },
    ],
    ["an empty reason is none", { ...BLOCK, reason: "" }, { reason: null }],
    [
      "null means absent",
      { ...BLOCK, routes: null, rate: null, status: null, delay: null, reason: null },
      {},
    ],
  ];
  for (const [name, body, expected] of cases) {
    it(name, () => {
      const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
      const input = accepted(clean);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(input[key as keyof typeof input], value, key);
      }
    });
  }
});

describe("decision input: every rule, with its exact message", () => {
  const ACTIONS = "block, throttle, disable, logout, tarpit, flag";
  const without = (key: string, body: Record<string, unknown> = BLOCK) =>
    Object.fromEntries(Object.entries(body).filter(([k]) => k !== key));
  const cases: [string, unknown, [string, string][]][] = [
    ["action missing", without("action"), [["action", `is required: one of ${ACTIONS}`]]],
    ["action unknown", { ...BLOCK, action: "ban" }, [["action", `must be one of ${ACTIONS}`]]],
    [
      "action with a typo",
      { ...BLOCK, action: "blok" },
      [["action", `must be one of ${ACTIONS} (did you mean "block"?)`]],
    ],
    [
      "notify is not a decision",
      { ...BLOCK, action: "notify" },
      [["action", `must be one of ${ACTIONS} (notify and log are policy responses, not decisions)`]],
    ],
    [
      "log is not a decision",
      { ...BLOCK, action: "log" },
      [["action", `must be one of ${ACTIONS} (notify and log are policy responses, not decisions)`]],
    ],
    ["action of the wrong type", { ...BLOCK, action: 1 }, [["action", `must be one of ${ACTIONS}`]]],
    ["scope missing", without("scope"), [["scope", "is required: one of ip, range, session, user, global"]]],
    [
      "scope unknown",
      { ...BLOCK, scope: "host" },
      [["scope", "must be one of ip, range, session, user, global"]],
    ],
    [
      "logout needs scope session",
      { ...BLOCK, action: "logout" },
      [["scope", "must be session for action logout"]],
    ],
    ["ip missing", without("value"), [["value", "is required for scope ip: an IPv4 or IPv6 address"]]],
    [
      "ip not an address",
      { ...BLOCK, value: "300.1.1.1" },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "ip in short form",
      { ...BLOCK, value: "127.1" },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "ip in octal",
      { ...BLOCK, value: "010.0.0.1" },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "ip with a zone",
      { ...BLOCK, value: "fe80::1%eth0" },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "ip given a CIDR",
      { ...BLOCK, value: "10.0.0.0/8" },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "ip of the wrong type",
      { ...BLOCK, value: 3232235777 },
      [["value", "must be an IPv4 or IPv6 address for scope ip"]],
    ],
    [
      "range missing",
      without("value", { ...BLOCK, scope: "range" }),
      [["value", "is required for scope range: a CIDR such as 203.0.113.0/24"]],
    ],
    [
      "range without a prefix",
      { ...BLOCK, scope: "range", value: "203.0.113.7" },
      [["value", "must be a CIDR such as 203.0.113.0/24 or 2001:db8::/48 for scope range"]],
    ],
    [
      "range with a bad prefix",
      { ...BLOCK, scope: "range", value: "203.0.113.0/33" },
      [
        [
          "value",
          'must be a CIDR such as 203.0.113.0/24 or 2001:db8::/48 for scope range: "203.0.113.0/33" has an invalid prefix length (0-32 for ipv4)',
        ],
      ],
    ],
    [
      "user missing",
      without("value", { ...BLOCK, scope: "user" }),
      [["value", "is required for scope user: the user name as the app reports it"]],
    ],
    ...["", "x".repeat(257), "é".repeat(129), "alice\nadmin", "a\u0085b", "\ud800"].map(
      (value): [string, unknown, [string, string][]] => [
        `user ${JSON.stringify(value.slice(0, 12))}`,
        { ...BLOCK, scope: "user", value },
        [["value", "must be 1 to 256 bytes of text without control characters for scope user"]],
      ],
    ),
    [
      "session missing",
      without("value", { ...BLOCK, scope: "session" }),
      [["value", "is required for scope session: the session hash as Gatehouse logs it"]],
    ],
    ...["", "x".repeat(129), "abc=", "a b", "raw.session.id"].map(
      (value): [string, unknown, [string, string][]] => [
        `session ${JSON.stringify(value.slice(0, 12))}`,
        { ...BLOCK, scope: "session", value },
        [
          [
            "value",
            "must be the session hash as Gatehouse logs it (1 to 128 letters, digits, _ or -) for scope session",
          ],
        ],
      ],
    ),
    [
      "global with a value",
      { ...BLOCK, scope: "global", value: "everyone" },
      [["value", 'must be "*" or absent for scope global']],
    ],
    ["routes on a block", { ...BLOCK, routes: ["GET /"] }, [["routes", "applies only to action disable"]]],
    [
      "routes missing on disable",
      { ...BLOCK, action: "disable" },
      [["routes", 'is required for action disable: a list of "METHOD /path/glob"']],
    ],
    [
      "routes empty",
      { ...BLOCK, action: "disable", routes: [] },
      [["routes", 'must be a list of 1 to 256 routes, each "METHOD /path/glob"']],
    ],
    [
      "routes not a list",
      { ...BLOCK, action: "disable", routes: "GET /" },
      [["routes", 'must be a list of 1 to 256 routes, each "METHOD /path/glob"']],
    ],
    [
      "too many routes",
      { ...BLOCK, action: "disable", routes: Array(257).fill("GET /") },
      [["routes", 'must be a list of 1 to 256 routes, each "METHOD /path/glob"']],
    ],
    [
      "a route without a method, and one with a query",
      { ...BLOCK, action: "disable", routes: ["GET /ok", "/upload", "GET /search?q=1"] },
      [
        [
          "routes[1]",
          '"/upload" is not a route (use "METHOD /path", e.g. "POST /upload/*": METHOD upper case or *, the path from /, * as a glob, no query)',
        ],
        [
          "routes[2]",
          '"GET /search?q=1" is not a route (use "METHOD /path", e.g. "POST /upload/*": METHOD upper case or *, the path from /, * as a glob, no query)',
        ],
      ],
    ],
    ["rate on a block", { ...BLOCK, rate: "10/m" }, [["rate", "applies only to action throttle"]]],
    [
      "rate missing on throttle",
      { ...BLOCK, action: "throttle" },
      [["rate", "is required for action throttle (e.g. 10/m)"]],
    ],
    [
      "rate malformed",
      { ...BLOCK, action: "throttle", rate: "10 per minute" },
      [["rate", '"10 per minute" is not a rate (use e.g. 10/s, 600/m, 1000/h)']],
    ],
    [
      "rate of zero",
      { ...BLOCK, action: "throttle", rate: "0/s" },
      [["rate", '"0/s" is not a rate (use e.g. 10/s, 600/m, 1000/h)']],
    ],
    ["status on a block", { ...BLOCK, status: 503 }, [["status", "applies only to action disable"]]],
    ...[399, 600, 503.5, "503"].map((status): [string, unknown, [string, string][]] => [
      `status ${JSON.stringify(status)}`,
      { ...BLOCK, action: "disable", routes: ["GET /"], status },
      [["status", "must be a whole number from 400 to 599"]],
    ]),
    ["delay on a block", { ...BLOCK, delay: "2s" }, [["delay", "applies only to action tarpit"]]],
    [
      "delay missing on tarpit",
      { ...BLOCK, action: "tarpit" },
      [["delay", "is required for action tarpit (e.g. 2s, at most 60s)"]],
    ],
    ["delay over a minute", { ...BLOCK, action: "tarpit", delay: "61s" }, [["delay", "must be at most 60s"]]],
    ["delay of zero", { ...BLOCK, action: "tarpit", delay: "0" }, [["delay", "must be longer than 0"]]],
    [
      "delay malformed",
      { ...BLOCK, action: "tarpit", delay: 2000 },
      [["delay", "2000 is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)"]],
    ],
    [
      "neither duration nor until",
      without("duration"),
      [["duration", "is required (e.g. 15m, 1h, 7d), or until (an RFC 3339 time)"]],
    ],
    [
      "both duration and until",
      { ...BLOCK, until: "2026-11-23T00:00:00Z" },
      [["until", "cannot be given with duration: give one of them"]],
    ],
    [
      "duration malformed",
      { ...BLOCK, duration: "1 hour" },
      [["duration", '"1 hour" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)']],
    ],
    ["duration over 366 days", { ...BLOCK, duration: "367d" }, [["duration", '"367d" is longer than 366d']]],
    ["duration of zero", { ...BLOCK, duration: "0" }, [["duration", "must be longer than 0"]]],
    ...[
      "tomorrow",
      "2026-11-23",
      "2026-11-23 03:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-11-23T24:00:00Z",
      "2026-11-23T03:00:00+24:00",
    ].map((until): [string, unknown, [string, string][]] => [
      `until ${JSON.stringify(until)}`,
      { ...without("duration"), until },
      [["until", "must be an RFC 3339 time such as 2026-11-22T03:00:00Z"]],
    ]),
    [
      "until now",
      { ...without("duration"), until: "2026-11-22T03:00:00Z" },
      [["until", "must be in the future"]],
    ],
    [
      "until in the past",
      { ...without("duration"), until: "2020-01-01T00:00:00Z" },
      [["until", "must be in the future"]],
    ],
    [
      "until more than 366 days ahead",
      { ...without("duration"), until: "2027-11-23T03:00:00.001Z" },
      [["until", "must be at most 366 days ahead"]],
    ],
    ["reason not a string", { ...BLOCK, reason: { text: "x" } }, [["reason", "must be a string"]]],
    [
      "reason over 1024 bytes",
      { ...BLOCK, reason: "ü".repeat(513) },
      [["reason", "must be at most 1024 bytes"]],
    ],
    [
      "an unknown field",
      { ...BLOCK, ttl: "1h" },
      [
        [
          "ttl",
          "is not a field of a decision (fields: action, scope, value, routes, duration, until, rate, status, delay, reason)",
        ],
      ],
    ],
    [
      "an unknown field with a typo",
      { ...BLOCK, reasn: "x" },
      [
        [
          "reasn",
          'is not a field of a decision (fields: action, scope, value, routes, duration, until, rate, status, delay, reason) (did you mean "reason"?)',
        ],
      ],
    ],
    [
      "every problem at once",
      { action: "throttle", scope: "ip", value: "nope", duration: "forever", delay: "1s" },
      [
        ["value", "must be an IPv4 or IPv6 address for scope ip"],
        ["delay", "applies only to action tarpit"],
        ["rate", "is required for action throttle (e.g. 10/m)"],
        ["duration", '"forever" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)'],
      ],
    ],
  ];
  for (const [name, body, expected] of cases) {
    it(name, () => {
      assert.deepEqual(
        errors(body),
        expected.map(([field, message]) => ({ field, message })),
      );
    });
  }
});

describe("decision input: hostile bodies", () => {
  const FIELDS = "action, scope, value, routes, duration, until, rate, status, delay, reason";

  for (const body of [null, [], [BLOCK], "block", 42, true]) {
    it(`refuses ${JSON.stringify(body)} as a whole`, () => {
      assert.deepEqual(errors(body), [{ field: "(body)", message: "must be a JSON object" }]);
    });
  }

  it("names prototype keys as unknown fields and never touches the prototype", () => {
    const body = JSON.parse(`{"action":"block","scope":"ip","value":"203.0.113.7","duration":"1h",
      "__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"toString":"x"}`);
    assert.deepEqual(
      errors(body).map((e) => e.field),
      ["__proto__", "constructor", "toString"],
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("does not read fields from the prototype chain", () => {
    const body = Object.create({ action: "block", scope: "ip", value: "1.2.3.4", duration: "1h" });
    assert.deepEqual(
      errors(body).map((e) => e.field),
      ["action", "scope", "duration"],
    );
  });

  it("refuses wrong types in every field without throwing", () => {
    const odd = [1, true, [], {}, [["x"]]];
    for (const v of odd) {
      const body = {
        action: v,
        scope: v,
        value: v,
        routes: v,
        duration: v,
        rate: v,
        status: v,
        delay: v,
        reason: v,
      };
      const fields = errors(body).map((e) => e.field);
      assert.ok(
        fields.includes("action") && fields.includes("scope") && fields.includes("reason"),
        JSON.stringify(v),
      );
    }
    const typed = errors({ ...BLOCK, action: "disable", routes: [1, null, { m: "GET" }] });
    assert.deepEqual(
      typed.map((e) => e.field),
      ["routes[0]", "routes[1]", "routes[2]"],
    );
  });

  it("survives deep nesting", () => {
    const deep = JSON.parse(`${"[".repeat(10_000)}${"]".repeat(10_000)}`);
    const r = errors({ ...BLOCK, reason: deep, routes: deep, value: deep });
    assert.deepEqual(
      r.map((e) => e.field),
      ["value", "routes", "reason"],
    );
    assert.deepEqual(errors(deep), [{ field: "(body)", message: "must be a JSON object" }]);
  });

  it("bounds huge strings in what it echoes", () => {
    const huge = "x".repeat(60_000);
    const r = errors({ ...BLOCK, [huge]: 1, duration: huge, action: huge });
    assert.ok(JSON.stringify(r).length < 2000, `answer of ${JSON.stringify(r).length} bytes`);
    assert.deepEqual(
      r.map((e) => e.field),
      [`${"x".repeat(61)}...`, "action", "duration"],
    );
    assert.match(r[0]!.message, new RegExp(`^is not a field of a decision \\(fields: ${FIELDS}\\)$`));
  });

  it("keeps each error to a field of the body, however many there are", () => {
    const body: Record<string, unknown> = { ...BLOCK };
    for (let i = 0; i < 1000; i++) body[`k${i}`] = i;
    const r = errors(body);
    assert.equal(r.length, 1000);
    assert.ok(r.every((e) => /^k\d+$/.test(e.field)));
  });
});

describe("RFC 3339 times", () => {
  it("reads offsets, fractions and lower-case separators", () => {
    assert.equal(parseRfc3339("2026-11-22T03:00:00Z"), NOW);
    assert.equal(parseRfc3339("2026-11-22t03:00:00z"), NOW);
    assert.equal(parseRfc3339("2026-11-21T22:00:00-05:00"), NOW);
    assert.equal(parseRfc3339("2026-11-22T03:00:00.123456789Z"), NOW + 123);
    assert.equal(parseRfc3339("2028-02-29T00:00:00Z"), Date.parse("2028-02-29T00:00:00Z"));
  });

  it("refuses dates that Date.parse would roll over", () => {
    for (const text of [
      "2027-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-22T03:60:00Z",
    ]) {
      assert.equal(parseRfc3339(text), null, text);
    }
  });
});
