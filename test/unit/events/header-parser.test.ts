import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HEADER_ERROR_REASONS, parseDetectionHeaders } from "../../../src/events/header-parser.ts";

describe("Gatehouse-Event header", () => {
  it("reads the examples of DESIGN 3.1", () => {
    const r = parseDetectionHeaders(
      ['IE1;outcome=blocked;detail="script tag in comment field"', "AE2, ACE3"],
      "alice",
    );
    assert.deepEqual(r, {
      user: "alice",
      errors: [],
      events: [
        { detectionPoint: "IE1", outcome: "blocked", user: null, detail: "script tag in comment field" },
        { detectionPoint: "AE2", outcome: "attempt", user: null, detail: null },
        { detectionPoint: "ACE3", outcome: "attempt", user: null, detail: null },
      ],
    });
  });

  it("accepts String members, custom labels and a per-event user", () => {
    const r = parseDetectionHeaders('"checkout.coupon-abuse";outcome="success";user="bob"', undefined);
    assert.deepEqual(r.events, [
      { detectionPoint: "checkout.coupon-abuse", outcome: "success", user: "bob", detail: null },
    ]);
  });

  it("keeps the valid members when others are bad, naming each problem", () => {
    const r = parseDetectionHeaders(
      'IE1, 42, AE2;outcome=won, (IE1 IE2), CIE1;detail=5, "9abc", ACE3',
      undefined,
    );
    assert.deepEqual(
      r.events.map((e) => e.detectionPoint),
      ["IE1", "ACE3"],
    );
    assert.deepEqual(r.errors, [
      "invalid_label",
      "invalid_outcome",
      "inner_list",
      "invalid_detail",
      "invalid_label",
    ]);
  });

  it("refuses a syntactically broken header as a whole", () => {
    for (const bad of [
      'IE1;detail="unterminated',
      "IE1,,AE2",
      "IE1;outcome=",
      'IE1;detail="caf\u00e9"',
      "IE1\tAE2",
    ]) {
      assert.deepEqual(
        parseDetectionHeaders(bad, undefined),
        { events: [], user: null, errors: ["malformed"] },
        bad,
      );
    }
  });

  it("enforces the limits: 8 KiB and 32 events per response, 1024-byte detail, 256-byte user", () => {
    assert.deepEqual(parseDetectionHeaders(`IE1;detail="${"x".repeat(9000)}"`, undefined).errors, [
      "too_large",
    ]);
    const many = parseDetectionHeaders(Array.from({ length: 40 }, () => "IE1").join(", "), undefined);
    assert.equal(many.events.length, 32);
    assert.deepEqual(many.errors, ["too_many"]);
    assert.deepEqual(parseDetectionHeaders(`IE1;detail="${"d".repeat(1025)}"`, undefined).errors, [
      "invalid_detail",
    ]);
    assert.deepEqual(parseDetectionHeaders(`IE1;user="${"u".repeat(257)}"`, undefined).errors, [
      "invalid_user",
    ]);
    assert.deepEqual(parseDetectionHeaders(`${"A".repeat(65)}`, undefined).errors, ["invalid_label"]);
  });

  it("10 000 list members cost one bounded refusal", () => {
    const r = parseDetectionHeaders(Array.from({ length: 10_000 }, () => "IE1").join(","), undefined);
    assert.deepEqual(r, { events: [], user: null, errors: ["too_large"] });
  });
});

describe("parsed-value cache", () => {
  it("a repeated value gives the same events, and a caller changing its result cannot poison the next", () => {
    const header = 'ACE3;detail="cache probe", AE2';
    const first = parseDetectionHeaders(header, undefined);
    first.events.push({ detectionPoint: "X", outcome: "success", user: null, detail: null });
    first.errors.push("malformed");
    const second = parseDetectionHeaders(header, undefined);
    assert.deepEqual(second, {
      user: null,
      errors: [],
      events: [
        { detectionPoint: "ACE3", outcome: "attempt", user: null, detail: "cache probe" },
        { detectionPoint: "AE2", outcome: "attempt", user: null, detail: null },
      ],
    });
    assert.ok(Object.isFrozen(second.events[0]), "shared event objects are frozen");
  });

  it("caches refusals too, and still reports them every time", () => {
    assert.deepEqual(parseDetectionHeaders("42, IE1", undefined).errors, ["invalid_label"]);
    assert.deepEqual(parseDetectionHeaders("42, IE1", undefined).errors, ["invalid_label"]);
  });
});

describe("Gatehouse-User header", () => {
  it("decodes UTF-8 names that arrive as latin1 header bytes", () => {
    const latin1 = Buffer.from("zoë", "utf8").toString("latin1");
    assert.equal(parseDetectionHeaders(undefined, latin1).user, "zoë");
  });

  it("refuses empty, oversized, repeated, control-character and invalid UTF-8 names", () => {
    for (const bad of ["", "   ", "u".repeat(257), "a\u0001b", "\u00ff\u00fe"]) {
      assert.deepEqual(parseDetectionHeaders(undefined, bad), {
        events: [],
        user: null,
        errors: ["invalid_user_header"],
      });
    }
    assert.deepEqual(parseDetectionHeaders(undefined, ["alice", "bob"]).errors, ["invalid_user_header"]);
  });
});

describe("hostile input (property-based)", () => {
  it("never throws, and every error is a known reason", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: "binary", maxLength: 300 }),
          fc.array(fc.string(), { maxLength: 5 }),
        ),
        fc.option(fc.string({ unit: "binary", maxLength: 300 }), { nil: undefined }),
        (eventHeader, userHeader) => {
          const r = parseDetectionHeaders(eventHeader, userHeader);
          assert.ok(r.events.length <= 32);
          for (const e of r.errors) assert.ok((HEADER_ERROR_REASONS as readonly string[]).includes(e), e);
          for (const e of r.events) assert.match(e.detectionPoint, /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("round-trips every well-formed member it is given", () => {
    const label = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:-]{0,20}$/);
    const outcome = fc.constantFrom("attempt", "blocked", "success");
    const detail = fc.stringMatching(/^[ -!#-[\]-~]{0,40}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(label, outcome, detail), { minLength: 1, maxLength: 32 }), (members) => {
        const header = members.map(([l, o, d]) => `${l};outcome=${o};detail="${d}"`).join(", ");
        const r = parseDetectionHeaders(header, undefined);
        assert.deepEqual(r.errors, []);
        assert.deepEqual(
          r.events.map((e) => [e.detectionPoint, e.outcome, e.detail]),
          members,
        );
      }),
      { numRuns: 500 },
    );
  });
});
