import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decisionCodec } from "../../../src/enforce/decision-service.ts";
import type { Decision } from "../../../src/store/decision.ts";

const decision: Decision = {
  id: "d-1",
  action: "block",
  scope: "ip",
  value: "203.0.113.7",
  routes: null,
  until: 1_800_000_000_000,
  createdAt: 1_799_999_000_000,
  origin: "manual",
  reason: { mode: "enforce", text: "seen in the WAF logs" },
  rate: null,
  status: null,
  delayMs: null,
};

describe("decision codec (the shared map's wire form)", () => {
  it("round-trips a decision filed under its id", () => {
    assert.deepEqual(decisionCodec.decode(decisionCodec.encode(decision), "d-1"), decision);
  });

  it("refuses a decision filed under another id, so one key cannot carry another's decision", () => {
    assert.equal(decisionCodec.decode(decisionCodec.encode(decision), "d-2"), null);
  });

  it("refuses what is not a decision, without throwing", () => {
    for (const text of [
      "",
      "{",
      "null",
      "[]",
      '"d-1"',
      '{"id":"d-1"}',
      '{"id":"d-1","action":"block"}',
      "x".repeat(100_000),
    ]) {
      assert.equal(decisionCodec.decode(text, "d-1"), null, text.slice(0, 40));
    }
  });
});
