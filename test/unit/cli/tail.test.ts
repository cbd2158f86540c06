/**
 * What `gatehouse tail` makes of the stream: server-sent message blocks, and lines for people in
 * which attacker-chosen text (paths, details, user names) cannot move the cursor or fake a line.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describe as line, parseMessage } from "../../../src/cli/tail.ts";

describe("gatehouse tail", () => {
  it("reads a message's event and data, and skips comments and keep-alives", () => {
    assert.deepEqual(parseMessage('event: attack\nid: 7\ndata: {"a":1}'), {
      kind: "attack",
      data: '{"a":1}',
    });
    assert.deepEqual(parseMessage("data: one\ndata: two"), { kind: "message", data: "one\ntwo" });
    assert.equal(parseMessage(": keepalive"), null);
    assert.equal(parseMessage("retry: 2000\n: gatehouse live feed: event"), null);
  });

  it("escapes control characters from the request and bounds long text", () => {
    const text = line(
      "event",
      JSON.stringify({
        time: "2026-12-01T10:00:00.123Z",
        detectionPoint: "IE1",
        outcome: "attempt",
        actor: { ip: "203.0.113.5", user: "mal\u001b[2Jlory" },
        request: { method: "GET", path: `/x\r\n10:00:00.000  breach    fake line${"a".repeat(500)}` },
        detail: "ok",
      }),
    );
    assert.ok(
      [...text].every((ch) => ch.charCodeAt(0) >= 0x20),
      "no control character reaches the terminal",
    );
    assert.match(
      text,
      /^10:00:00\.123 {2}event {5}IE1 attempt ip 203\.0\.113\.5 user mal\\u001b\[2Jlory GET \/x\\u000d\\u000a10/,
    );
    assert.ok(text.length < 600, "bounded");
  });

  it("prints each kind with what an operator needs, and never throws on odd data", () => {
    const decision = line(
      "decision",
      JSON.stringify({
        action: "block",
        scope: "ip",
        value: "203.0.113.5",
        until: "2026-12-01T11:00:00.000Z",
        origin: "policy",
        id: "d-1",
      }),
    );
    assert.match(
      decision,
      /decision {2}block ip 203\.0\.113\.5 until 2026-12-01T11:00:00\.000Z \(policy\) d-1$/,
    );
    assert.match(
      line(
        "attack",
        JSON.stringify({
          rule: "credential-stuffing",
          count: 2,
          actor: { scope: "ip", value: "203.0.113.5" },
          response: "block-ip",
          mode: "shadow",
        }),
      ),
      /credential-stuffing #2 ip 203\.0\.113\.5 -> block-ip \(shadow\)$/,
    );
    for (const odd of [
      "not json",
      "null",
      "[]",
      '{"evidence":"x"}',
      '{"evidence":[null,5]}',
      '{"actor":5}',
      '{"request":7}',
    ])
      for (const kind of ["event", "attack", "breach", "decision", "incident", "dropped", "other"])
        assert.equal(typeof line(kind, odd), "string");
  });
});
