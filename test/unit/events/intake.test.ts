import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { sessionHasher } from "../../../src/actor/session.ts";
import { Correlation } from "../../../src/events/correlation.ts";
import type { DetectionEvent } from "../../../src/events/event.ts";
import { createEventBus } from "../../../src/events/event-bus.ts";
import { createEventMetrics } from "../../../src/events/event-metrics.ts";
import { createIntake, type RequestRecord } from "../../../src/events/intake.ts";
import { validateEvent } from "../../../src/events/socket-parser.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { MemoryReplicatedMap } from "../../../src/store/replicated-map.ts";
import { sessionBindings } from "../../../src/store/session-bindings.ts";

function setup() {
  let now = Date.parse("2026-11-22T03:00:00Z");
  const clock = { now: () => now };
  const registry = new Registry();
  const bus = createEventBus();
  const received: DetectionEvent[] = [];
  bus.subscribe((batch) => received.push(...batch));
  const logs: string[] = [];
  const logger = createLogger("info", { write: (line: string) => logs.push(line) });
  const correlation = new Correlation({ capacity: 1000, ttlMs: 300_000, clock });
  const sessionUsers = sessionBindings(
    new MemoryReplicatedMap<string>({ clock, sweepMs: 0 }),
    clock,
    86_400_000,
  );
  const hashSession = sessionHasher("k".repeat(32));
  const intake = createIntake({
    bus,
    correlation,
    sessionUsers,
    hashSession,
    metrics: createEventMetrics(registry, 2),
    clock,
    logger,
  });
  const socketEvent = (value: object) => {
    const r = validateEvent(value);
    assert.ok(r.ok);
    return r.event;
  };
  return {
    intake,
    bus,
    received,
    registry,
    logs,
    correlation,
    sessionUsers,
    hashSession,
    socketEvent,
    advance: (ms: number) => (now += ms),
  };
}

const source = (over: Partial<RequestRecord> = {}) => ({
  requestId: "r-1",
  ip: "203.0.113.9",
  session: "hashed-s",
  user: null,
  method: "POST",
  path: "/comment",
  time: 0,
  ...over,
});

describe("header detections", () => {
  it("become events attributed to the request, delivered off the request path", async () => {
    const t = setup();
    t.intake.fromHeaders(source(), 'IE1;outcome=blocked;detail="script tag"', "alice");
    assert.equal(t.received.length, 0, "delivery is asynchronous");
    await t.bus.flush();
    assert.deepEqual(t.received, [
      {
        detectionPoint: "IE1",
        channel: "header",
        outcome: "blocked",
        time: Date.parse("2026-11-22T03:00:00Z"),
        actor: { ip: "203.0.113.9", session: "hashed-s", user: "alice" },
        request: { id: "r-1", method: "POST", path: "/comment" },
        detail: "script tag",
        metadata: null,
      },
    ]);
  });

  it("an app attempt on a point the edge already raised for the request is counted once; other news still counts", async () => {
    const t = setup();
    const raised = (dp: string) => dp === "IE1";
    t.intake.fromHeaders(source(), "IE1, CIE1", undefined, raised);
    t.intake.fromHeaders(source({ path: "/login" }), "IE1;outcome=success", undefined, raised);
    await t.bus.flush();
    assert.deepEqual(
      t.received.map((e) => `${e.request?.path} ${e.detectionPoint}:${e.outcome}`),
      ["/comment CIE1:attempt", "/login IE1:success"],
    );
  });

  it("Gatehouse-User binds the session to the user", () => {
    const t = setup();
    t.intake.fromHeaders(source(), undefined, "alice");
    assert.equal(t.sessionUsers.get("hashed-s"), "alice");
  });

  it("counts accepted events and refused headers in metrics, logging each reason at most once a minute", async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) t.intake.fromHeaders(source(), "IE1, 42", undefined);
    const text = await t.registry.metrics();
    assert.match(
      text,
      /gatehouse_events_total\{channel="header",detection_point="IE1",outcome="attempt"\} 5/,
    );
    assert.match(text, /gatehouse_event_errors_total\{channel="header",reason="invalid_label"\} 5/);
    assert.equal(t.logs.filter((l) => l.includes("invalid_label")).length, 1);
    t.advance(60_000);
    t.intake.fromHeaders(source(), "42", undefined);
    const again = t.logs.filter((l) => l.includes("invalid_label"));
    assert.equal(again.length, 2);
    assert.match(again[1]!, /"suppressedSinceLast":4/);
  });

  it("caps custom detection-point labels in metrics", async () => {
    const t = setup();
    t.intake.fromHeaders(source(), "custom.a, custom.b, custom.c, custom.d, IE1", undefined);
    const text = await t.registry.metrics();
    assert.match(text, /detection_point="custom.a"/);
    assert.match(text, /detection_point="custom.b"/);
    assert.match(text, /detection_point="other",outcome="attempt"\} 2/);
    assert.match(text, /detection_point="IE1"/, "catalogue ids are never folded into other");
  });
});

describe("socket events", () => {
  it("take ip, session, user, method and path from the request they name", async () => {
    const t = setup();
    const id = t.correlation.record(null, "198.51.100.4", "hs", "carol", "GET", "/admin");
    assert.equal(t.intake.fromSocket([t.socketEvent({ detectionPoint: "ACE3", requestId: id })]), 1);
    await t.bus.flush();
    assert.deepEqual(t.received[0]!.actor, { ip: "198.51.100.4", session: "hs", user: "carol" });
    assert.deepEqual(t.received[0]!.request, { id, method: "GET", path: "/admin" });
    assert.equal(t.received[0]!.channel, "socket");
  });

  it("an unknown requestId is still accepted on the event's own fields, and counted as uncorrelated", async () => {
    const t = setup();
    t.intake.fromSocket([
      t.socketEvent({ detectionPoint: "AE2", requestId: "gone", ip: "192.0.2.1", user: "dave" }),
    ]);
    await t.bus.flush();
    assert.deepEqual(t.received[0]!.actor, { ip: "192.0.2.1", session: null, user: "dave" });
    assert.equal(t.received[0]!.request, null);
    assert.match(
      await t.registry.metrics(),
      /gatehouse_event_errors_total\{channel="socket",reason="uncorrelated"\} 1/,
    );
  });

  it("hashes a raw session and finds its bound user", async () => {
    const t = setup();
    t.sessionUsers.set(t.hashSession("raw-s"), "erin");
    t.intake.fromSocket([
      t.socketEvent({ detectionPoint: "SE6", session: "raw-s", timestamp: "2026-11-22T02:59:00Z" }),
    ]);
    await t.bus.flush();
    const e = t.received[0]!;
    assert.equal(e.actor.session, t.hashSession("raw-s"));
    assert.notEqual(e.actor.session, "raw-s");
    assert.equal(e.actor.user, "erin");
    assert.equal(e.time, Date.parse("2026-11-22T02:59:00Z"));
  });
});

describe("event bus", () => {
  it("drops and counts past its bound instead of growing without end", async () => {
    const dropped: DetectionEvent[] = [];
    const bus = createEventBus({ maxQueued: 3, onDrop: (e) => dropped.push(e) });
    const got: DetectionEvent[] = [];
    bus.subscribe((b) => got.push(...b));
    const e = { detectionPoint: "IE1" } as DetectionEvent;
    const accepted = [1, 2, 3, 4, 5].map(() => bus.publish(e));
    assert.deepEqual(accepted, [true, true, true, false, false]);
    await bus.flush();
    assert.equal(got.length, 3);
    assert.equal(dropped.length, 2);
  });

  it("a failing subscriber does not stop the others", async () => {
    const errors: unknown[] = [];
    const bus = createEventBus({ onError: (err) => errors.push(err) });
    let seen = 0;
    bus.subscribe(() => {
      throw new Error("boom");
    });
    bus.subscribe((b) => {
      seen += b.length;
    });
    bus.publish({ detectionPoint: "IE1" } as DetectionEvent);
    await bus.flush();
    assert.equal(seen, 1);
    assert.equal(errors.length, 1);
  });
});
