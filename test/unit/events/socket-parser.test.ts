import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromAppSensor, validateEvent } from "../../../src/events/socket-parser.ts";

const error = (input: unknown) => {
  const r = validateEvent(input);
  assert.equal(r.ok, false, "expected the event to be refused");
  return r.ok ? "" : r.error;
};

describe("socket event validation", () => {
  it("accepts every documented field", () => {
    const r = validateEvent({
      detectionPoint: "IE1",
      requestId: "5f0c2a8e-1b7d-4e0a-9c4e-2d7b8f1a3c55",
      user: "alice",
      ip: "::ffff:203.0.113.9",
      session: "raw-session-id",
      outcome: "blocked",
      detail: "script tag",
      timestamp: "2026-11-22T03:00:00.250Z",
      metadata: { field: "comment", nested: { ok: true } },
    });
    assert.deepEqual(r, {
      ok: true,
      event: {
        detectionPoint: "IE1",
        requestId: "5f0c2a8e-1b7d-4e0a-9c4e-2d7b8f1a3c55",
        user: "alice",
        ip: "203.0.113.9",
        session: "raw-session-id",
        outcome: "blocked",
        detail: "script tag",
        timestamp: Date.parse("2026-11-22T03:00:00.250Z"),
        metadata: { field: "comment", nested: { ok: true } },
      },
    });
  });

  it("defaults outcome to attempt and leaves the rest empty", () => {
    const r = validateEvent({ detectionPoint: "AE2" });
    assert.ok(r.ok);
    assert.equal(r.event.outcome, "attempt");
    assert.equal(r.event.timestamp, null);
  });

  it("names the field and the rule in every refusal", () => {
    assert.equal(error({}), "detectionPoint: required");
    assert.match(
      error({ detectionPoint: "1E1" }),
      /^detectionPoint: must be an AppSensor id or a label matching/,
    );
    assert.match(error({ detectionPoint: "IE1", detectionpoint: "x" }), /^unknown field "detectionpoint"/);
    assert.match(
      error({ detectionPoint: "IE1", outcome: "pwned" }),
      /^outcome: must be one of attempt, blocked, success$/,
    );
    assert.match(error({ detectionPoint: "IE1", ip: "300.1.1.1" }), /^ip: must be an IPv4 or IPv6 address$/);
    assert.match(error({ detectionPoint: "IE1", user: "" }), /^user: must be a non-empty string/);
    assert.match(error({ detectionPoint: "IE1", user: "a\nb" }), /without control characters/);
    assert.match(error({ detectionPoint: "IE1", user: "é".repeat(129) }), /at most 256 bytes/);
    assert.match(
      error({ detectionPoint: "IE1", detail: "x".repeat(1025) }),
      /^detail: must be a string of at most 1024 bytes$/,
    );
    assert.match(
      error({ detectionPoint: "IE1", timestamp: "yesterday" }),
      /^timestamp: must be an RFC 3339 date-time/,
    );
    assert.match(error({ detectionPoint: "IE1", timestamp: 1763780400000 }), /^timestamp: /);
    assert.match(error({ detectionPoint: "IE1", requestId: "has space" }), /^requestId: /);
    assert.match(error({ detectionPoint: "IE1", metadata: [1, 2] }), /^metadata: must be a JSON object$/);
    assert.match(
      error({ detectionPoint: "IE1", metadata: { big: "x".repeat(5000) } }),
      /^metadata: must serialise to at most 4 KiB$/,
    );
    assert.match(error("IE1"), /^an event must be a JSON object$/);
    assert.match(error(null), /^an event must be a JSON object$/);
  });

  it("refuses deeply nested metadata without walking all of it", () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) {
      const next = {};
      deep.n = next;
      deep = next;
    }
    assert.match(error({ detectionPoint: "IE1", metadata: root }), /^metadata: nested more than 8 levels$/);
  });

  it("never throws on arbitrary JSON values (property-based)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const r = validateEvent(value);
        assert.equal(typeof r.ok, "boolean");
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            detectionPoint: fc.oneof(fc.string(), fc.constantFrom("IE1", "AE2")),
            outcome: fc.oneof(fc.string(), fc.constantFrom("attempt", "success")),
            user: fc.string({ unit: "binary" }),
            ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
            metadata: fc.object(),
          },
          { requiredKeys: [] },
        ),
        (value) => {
          const r = validateEvent(value);
          if (r.ok) assert.match(r.event.detectionPoint, /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("AppSensor REST shape", () => {
  it("maps label, username, address, timestamp and metadata, ignoring AppSensor's other fields", () => {
    const r = fromAppSensor({
      user: {
        username: "bob",
        ipAddress: { address: "10.1.2.3", geoLocation: { latitude: 1, longitude: 2 } },
      },
      detectionPoint: { category: "Input Validation", label: "IE1", threshold: { count: 3 } },
      timestamp: "2026-11-22T03:00:00Z",
      detectionSystem: { detectionSystemId: "shop" },
      metadata: [{ key: "field", value: "comment" }],
    });
    assert.ok(r.ok, !r.ok ? r.error : "");
    assert.deepEqual(
      { dp: r.event.detectionPoint, user: r.event.user, ip: r.event.ip, meta: r.event.metadata },
      { dp: "IE1", user: "bob", ip: "10.1.2.3", meta: { field: "comment" } },
    );
  });

  it("names AppSensor's fields in refusals", () => {
    const r1 = fromAppSensor({ user: { username: "bob" } });
    assert.deepEqual(r1, { ok: false, error: "detectionPoint: required (an object with a label)" });
    const r2 = fromAppSensor({ detectionPoint: { label: "bad label" } });
    assert.equal(r2.ok, false);
    assert.match(!r2.ok ? r2.error : "", /^detectionPoint\.label: /);
    const r3 = fromAppSensor({ detectionPoint: { label: "IE1" }, user: { ipAddress: { address: "nope" } } });
    assert.match(!r3.ok ? r3.error : "", /^user\.ipAddress\.address: /);
  });
});
