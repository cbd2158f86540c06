/**
 * The engine beyond what the data-driven cases show: one policy snapshot per batch across a
 * reload, a stalled store that must not grow memory, a failing store that must not throw, and
 * breaches answered in event order among attacks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DetectionEvent } from "../../../src/events/event.ts";
import {
  type AttackRecord,
  type BreachRecord,
  createEngine,
  type EngineSink,
} from "../../../src/policy/engine.ts";
import { loadPolicySources } from "../../../src/policy/load.ts";
import type { Policy } from "../../../src/policy/policy.ts";
import type { Effect } from "../../../src/policy/responses.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import { MemoryStore } from "../../../src/store/memory-store.ts";
import type { HitResult, Store, WindowHit } from "../../../src/store/store.ts";

function policy(text: string): Policy {
  const result = loadPolicySources([{ name: "policy.yaml", text }]);
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join("; "));
  return result.policy;
}

const THRESHOLD_3 = policy(`
detectionPoints:
  IE1: { threshold: { count: 3, within: 10m }, per: ip, responses: [block-ip] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
breach:
  responses: [block-ip]
`);

const THRESHOLD_2 = policy(`
detectionPoints:
  IE1: { threshold: { count: 2, within: 10m }, per: ip, responses: [block-ip] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
`);

function event(ip: string, time: number, outcome: DetectionEvent["outcome"] = "attempt"): DetectionEvent {
  return {
    detectionPoint: "IE1",
    channel: "socket",
    outcome,
    time,
    actor: { ip, session: null, user: null },
    request: null,
    detail: null,
    metadata: null,
  };
}

function recordingSink() {
  const seen: string[] = [];
  const attacks: AttackRecord[] = [];
  const effects: Effect[] = [];
  const sink: EngineSink = {
    attack(a) {
      attacks.push(a);
      seen.push(`attack ${a.actor.value} #${a.nth}`);
    },
    breach(b: BreachRecord) {
      seen.push(`breach ${b.identities.ip}`);
    },
    effect(e) {
      effects.push(e);
      seen.push(`effect ${e.kind}`);
    },
  };
  return { sink, seen, attacks, effects };
}

const T0 = Date.parse("2026-11-22T03:00:00Z");

describe("policy engine", () => {
  it("reads the policy once per batch: a reload between batches applies from the next batch on", async () => {
    let live = THRESHOLD_3;
    const { sink, attacks } = recordingSink();
    const engine = createEngine({
      store: new MemoryStore({ clock: new ManualClock(T0) }),
      policy: () => live,
      sink,
    });
    const batch = [event("192.0.2.1", T0), event("192.0.2.1", T0 + 1)];
    const first = engine.process(batch);
    live = THRESHOLD_2; // a reload while the first batch is being analysed
    await first;
    assert.equal(attacks.length, 0, "the first batch was analysed with threshold 3 throughout");
    await engine.process([event("192.0.2.2", T0 + 2), event("192.0.2.2", T0 + 3)]);
    assert.equal(attacks.length, 1, "the second batch sees threshold 2");
  });

  it("answers a breach in event order among attacks, and never counts it toward a threshold", async () => {
    const { sink, seen } = recordingSink();
    const engine = createEngine({
      store: new MemoryStore({ clock: new ManualClock(T0) }),
      policy: () => THRESHOLD_3,
      sink,
    });
    await engine.process([
      event("192.0.2.9", T0),
      event("192.0.2.9", T0 + 1),
      event("192.0.2.9", T0 + 2, "success"),
      event("192.0.2.9", T0 + 3),
    ]);
    assert.deepEqual(seen, ["breach 192.0.2.9", "effect decision", "attack 192.0.2.9 #1", "effect decision"]);
  });

  it("drops and counts batches while the store is too far behind, instead of queueing without end", async () => {
    let release!: () => void;
    const stalled: Store = {
      hit: (hits: readonly WindowHit[]) =>
        new Promise<HitResult[]>((resolve) => {
          release = () => resolve(hits.map(() => ({ attack: false })));
        }),
      status: () => ({ kind: "memory", status: "up" }),
      onStatusChange() {},
      close: async () => {},
    };
    let dropped = 0;
    const engine = createEngine({
      store: stalled,
      policy: () => THRESHOLD_3,
      sink: recordingSink().sink,
      maxPending: 10,
      onDrop: (n) => {
        dropped += n;
      },
    });
    const first = engine.process(Array.from({ length: 8 }, (_, i) => event("192.0.2.3", T0 + i)));
    await engine.process(Array.from({ length: 5 }, (_, i) => event("192.0.2.3", T0 + i)));
    assert.equal(dropped, 5);
    assert.equal(engine.pending(), 8);
    release();
    await first;
    await engine.idle();
    assert.equal(engine.pending(), 0);
  });

  it("reports a failing store through onError and keeps going", async () => {
    const errors: unknown[] = [];
    const broken: Store = {
      hit: () => Promise.reject(new Error("store exploded")),
      status: () => ({ kind: "redis", status: "degraded" }),
      onStatusChange() {},
      close: async () => {},
    };
    const engine = createEngine({
      store: broken,
      policy: () => THRESHOLD_3,
      sink: recordingSink().sink,
      onError: (err) => errors.push(err),
    });
    await engine.process([event("192.0.2.4", T0)]);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /store exploded/);
    assert.equal(engine.pending(), 0);
  });

  it("skips a response that needs an identity the event lacks, saying why", async () => {
    const blockUser = policy(`
detectionPoints:
  IE1: { threshold: { count: 1, within: 1m }, per: ip, responses: [block-user] }
responses:
  block-user: { action: block, scope: user, duration: 1h }
`);
    const { sink, effects } = recordingSink();
    const engine = createEngine({
      store: new MemoryStore({ clock: new ManualClock(T0) }),
      policy: () => blockUser,
      sink,
    });
    await engine.process([event("192.0.2.5", T0)]);
    assert.deepEqual(effects, [
      { kind: "skipped", response: "block-user", why: "no user is known for this actor" },
    ]);
  });
});
