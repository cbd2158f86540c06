/**
 * Webhook bodies: the JSON page carries the incident as the API shows it, the Slack message
 * cannot be made to ping a channel or break out of its formatting by what an attacker put in a
 * user name or payload, digests summarise attempts only, and URLs are logged by origin only.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarise } from "../../../src/notify/digest.ts";
import { breachBody, digestBody, esc } from "../../../src/notify/format.ts";
import { redactUrl } from "../../../src/notify/webhook.ts";
import type { Incident } from "../../../src/store/incident.ts";

const T0 = Date.parse("2026-11-22T03:00:00Z");
const incident = (o: Partial<Incident> = {}): Incident => ({
  id: "inc-1",
  outcome: "success",
  actor: { ip: "203.0.113.9", range: "203.0.113.0/24", user: "<!channel> *bold*" },
  firstSeen: T0,
  lastSeen: T0 + 5000,
  detectionPoints: ["AE2", "IE1"],
  events: 7,
  attacks: 1,
  evidence: [{ kind: "reflected-payload", detail: "<script>alert(1)</script>`x`", requestId: "r-9" }],
  responses: [{ response: "page-ops", action: "notify", mode: "enforce" }],
  ...o,
});

describe("notify formats", () => {
  it("json: kind breach and the incident in the API's shape", () => {
    const body = breachBody(incident(), "json", T0 + 6000) as Record<string, unknown>;
    assert.equal(body.kind, "breach");
    assert.equal((body.incident as Record<string, unknown>).firstSeen, "2026-11-22T03:00:00.000Z");
    assert.deepEqual((body.incident as Record<string, unknown>).evidence, incident().evidence);
  });

  it("slack: text and blocks, with attacker-controlled text escaped", () => {
    const body = breachBody(incident(), "slack", T0) as { text: string; blocks: unknown[] };
    const all = JSON.stringify(body);
    assert.ok(body.text.startsWith("Breach:"));
    assert.ok(Array.isArray(body.blocks) && body.blocks.length >= 3);
    assert.ok(!all.includes("<!channel>"), "no channel ping");
    assert.ok(!all.includes("<script>"), "no raw markup");
    assert.ok(all.includes("&lt;script&gt;"));
    assert.equal(esc("a\u001b[31mb"), "a [31mb", "terminal escapes are neutralised");
    assert.ok(esc("x".repeat(10_000)).length <= 500);
  });

  it("digest: attempts and blocks counted by detection point and actor; breaches left out; none when empty", () => {
    const list = [
      incident({ id: "a", outcome: "attempt", actor: { ip: "198.51.100.1" } }),
      incident({ id: "b", outcome: "blocked", actor: { ip: "198.51.100.1" }, detectionPoints: ["AE2"] }),
      incident({ id: "c", outcome: "success" }),
    ];
    const s = summarise(list, T0, T0 + 60_000)!;
    assert.equal(s.incidents, 2);
    assert.deepEqual(s.outcomes, { attempt: 1, blocked: 1 });
    assert.deepEqual(s.detectionPoints, [
      { detectionPoint: "AE2", attempt: 1, blocked: 1 },
      { detectionPoint: "IE1", attempt: 1, blocked: 0 },
    ]);
    assert.deepEqual(s.topActors[0], { actor: { ip: "198.51.100.1" }, incidents: 2, events: 14, attacks: 2 });
    assert.deepEqual(s.incidentIds, ["a", "b"]);
    assert.equal(summarise([incident()], T0, T0 + 1), null, "only breaches: nothing to digest");
    assert.equal(summarise([], T0, T0 + 1), null);
    const slack = digestBody(s, "slack", T0) as { text: string };
    assert.match(slack.text, /2 incidents \(1 attempted, 1 blocked\)/);
    assert.equal((digestBody(s, "json", T0) as { kind: string }).kind, "digest");
  });

  it("a webhook URL is logged by its origin only", () => {
    assert.equal(
      redactUrl("https://user:pw@hooks.slack.com/services/T0/B0/XXXX?token=abc"),
      "https://hooks.slack.com",
    );
    assert.equal(redactUrl("not a url"), "(invalid URL)");
  });
});
