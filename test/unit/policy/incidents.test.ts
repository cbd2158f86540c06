/**
 * Grouping into incidents through the engine, as `serve` runs it (MemoryIncidentStore on a
 * ManualClock): what opens an incident and what only waits, the outcome an attack and an
 * incident take, the window, breach evidence, and which notify responses page.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DetectionEvent } from "../../../src/events/event.ts";
import { createEngine, type IncidentReport } from "../../../src/policy/engine.ts";
import { loadPolicySources } from "../../../src/policy/load.ts";
import type { Policy } from "../../../src/policy/policy.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import { MemoryIncidentStore } from "../../../src/store/incident-store.ts";
import { MemoryStore } from "../../../src/store/memory-store.ts";

function policy(text: string): Policy {
  const result = loadPolicySources([{ name: "policy.yaml", text }]);
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  return result.policy;
}

const POLICY = policy(`
incidents: { window: 10m }
detectionPoints:
  AE2: { threshold: { count: 3, within: 5m }, per: ip, responses: [block-ip] }
  ACE3: { threshold: { count: 2, within: 5m }, per: ip, responses: [tell-ops] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
  tell-ops: { action: notify, channel: ops }
  page-ops: { action: notify, channel: ops }
  logout: { action: logout }
breach:
  responses: [logout, page-ops]
notify:
  ops: { webhook: "https://alerts.example.invalid/hook", digest: 15m }
`);

const T0 = Date.parse("2026-11-22T03:00:00Z");

function harness(p = POLICY) {
  const clock = new ManualClock(T0);
  const incidents = new MemoryIncidentStore({ clock });
  const reports: IncidentReport[] = [];
  const engine = createEngine({
    store: new MemoryStore({ clock, sweepIntervalMs: 0 }),
    incidents,
    policy: () => p,
    sink: { attack() {}, breach() {}, effect() {}, incident: (r) => reports.push(r) },
  });
  let n = 0;
  async function send(e: Partial<DetectionEvent> & { detectionPoint: string }, advanceMs = 1000) {
    clock.advance(advanceMs);
    await engine.process([
      {
        channel: "edge",
        outcome: "attempt",
        time: clock.now(),
        actor: { ip: "203.0.113.9", session: null, user: null },
        request: { id: `req-${++n}`, method: "POST", path: "/login" },
        detail: null,
        metadata: null,
        ...e,
      },
    ]);
  }
  const all = () => incidents.listNow({ outcome: null, since: null, ip: null, user: null, limit: 100 });
  return { clock, send, reports, all };
}

describe("incidents", () => {
  it("a benign user's one failed login or 404 never becomes an incident", async () => {
    const h = harness();
    await h.send({ detectionPoint: "AE2" });
    await h.send({ detectionPoint: "ACE3", actor: { ip: "198.51.100.7", session: null, user: null } });
    assert.deepEqual(h.all(), []);
    assert.deepEqual(h.reports, []);
  });

  it("guessing that adds up to an attack opens one incident, blocked by the block it got, with the guesses in it", async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.send({ detectionPoint: "AE2" });
    const [incident] = h.all();
    assert.equal(incident?.outcome, "blocked", "answered with block-ip: Gatehouse stopped it");
    assert.equal(incident?.events, 3);
    assert.equal(incident?.attacks, 1);
    assert.equal(incident?.firstSeen, T0 + 1000);
    assert.deepEqual(incident?.actor, { ip: "203.0.113.9", range: "203.0.113.0/24" });
    assert.deepEqual(incident?.responses, [{ response: "block-ip", action: "block", mode: "enforce" }]);
    assert.equal(h.reports.length, 1);
    assert.equal(h.reports[0]?.opened, true);
  });

  it("an attack answered only by notify stays an attempt and goes to the digest, never paged", async () => {
    const h = harness();
    await h.send({ detectionPoint: "ACE3" });
    await h.send({ detectionPoint: "ACE3" });
    assert.equal(h.all()[0]?.outcome, "attempt");
    assert.deepEqual(h.reports[0]?.notify, [{ channel: "ops", kind: "digest", mode: "enforce" }]);
  });

  it("a login after guessing, from the same address, is the same incident and pages once with its evidence", async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.send({ detectionPoint: "AE2" });
    const evidence = { kind: "login-after-guessing", detail: "200 on POST /login after 3 failures" };
    const success = {
      detectionPoint: "AE2",
      outcome: "success" as const,
      actor: { ip: "203.0.113.9", session: "s-1", user: "victim" },
      metadata: { evidence, part: "status" },
    };
    await h.send(success);
    await h.send({ ...success, detectionPoint: "HT3" });
    const incidents = h.all();
    assert.equal(incidents.length, 1);
    assert.equal(incidents[0]?.outcome, "success");
    assert.equal(incidents[0]?.actor.user, "victim");
    assert.deepEqual(incidents[0]?.evidence[0], { ...evidence, requestId: "req-4" });
    const pages = h.reports.flatMap((r) => r.notify.filter((n) => n.kind === "breach"));
    assert.deepEqual(pages, [{ channel: "ops", kind: "breach", mode: "enforce" }], "one page, not two");
    assert.deepEqual(
      h.reports.map((r) => r.breached),
      [false, true, false],
    );
  });

  it("evidence the app gives without a shape of its own is kept as kind app with its detail", async () => {
    const h = harness();
    await h.send({
      detectionPoint: "HT1",
      outcome: "success",
      detail: "canary record 42 read",
      metadata: { evidence: 7 },
    });
    assert.deepEqual(h.all()[0]?.evidence, [
      { kind: "app", detail: "canary record 42 read", requestId: "req-1" },
    ]);
  });

  it("closes after the policy's window: the actor's next attack is a new incident", async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.send({ detectionPoint: "AE2" });
    await h.send({ detectionPoint: "AE2" }, 10 * 60_000 + 1);
    assert.equal(h.all().length, 1, "the event after the window is held, not added");
    await h.send({ detectionPoint: "AE2" });
    await h.send({ detectionPoint: "AE2" });
    const [newer, older] = h.all();
    assert.notEqual(newer?.id, older?.id);
    assert.equal(newer?.events, 3);
    assert.equal(older?.events, 3);
  });

  it("a breach with no identity at all is an incident of its own, and still pages", async () => {
    const h = harness();
    const anonymous = { ip: null, session: null, user: null };
    await h.send({ detectionPoint: "HT3", outcome: "success", actor: anonymous });
    await h.send({ detectionPoint: "HT3", outcome: "success", actor: anonymous });
    assert.equal(h.all().length, 2);
    assert.equal(h.reports.filter((r) => r.breached).length, 2);
    assert.deepEqual(h.all()[0]?.actor, {});
  });

  it("in shadow mode an attack stays an attempt (nothing was stopped) and a breach page is marked shadow", async () => {
    const h = harness(
      policy(`
mode: shadow
detectionPoints:
  AE2: { threshold: { count: 1, within: 5m }, per: ip, responses: [block-ip] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
  page-ops: { action: notify, channel: ops }
breach: { responses: [page-ops] }
notify:
  ops: { webhook: "https://alerts.example.invalid/hook" }
`),
    );
    await h.send({ detectionPoint: "AE2" });
    assert.equal(h.all()[0]?.outcome, "attempt");
    await h.send({ detectionPoint: "HT3", outcome: "success" });
    assert.deepEqual(h.reports[1]?.notify, [{ channel: "ops", kind: "breach", mode: "shadow" }]);
  });
});
