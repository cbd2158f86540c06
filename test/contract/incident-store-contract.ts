/**
 * What every IncidentStore promises (memory, Redis), as the engine, the admin API and the people
 * paged rely on it: an actor's events are held until an attack or breach opens an incident,
 * then folded in; the worst outcome wins; exactly one update sees the turn to success, across
 * replicas too; incidents close after their window; lists are bounded; filters and order hold.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import type { IncidentUpdate } from "../../src/store/incident.ts";
import type { IncidentStore } from "../../src/store/incident-store.ts";

export interface IncidentSubject {
  store: IncidentStore;
  cleanup(): Promise<void>;
  /** Another replica sharing this one's state (memory: the same store). */
  replica(): Promise<IncidentStore>;
  /** Let `ms` pass for the store's expiry (memory: the clock; Redis: real time). */
  elapse(ms: number): Promise<void>;
  /** Shared stores: every key written with its PTTL. */
  keys?(): Promise<{ key: string; pttl: number }[]>;
}

export type IncidentFactory = (clock: ManualClock) => Promise<IncidentSubject>;

const QUERY = { outcome: null, since: null, ip: null, user: null, limit: 100 } as const;

/** `shared`: the store keeps its state in Redis, so every key it writes must carry a TTL. */
export function incidentStoreContract(
  name: string,
  factory: IncidentFactory,
  options: { shared: boolean } = { shared: false },
): void {
  describe(`IncidentStore contract: ${name}`, () => {
    let clock: ManualClock;
    let subject: IncidentSubject;
    let store: IncidentStore;
    let run: string;
    let n = 0;

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      subject = await factory(clock);
      store = subject.store;
      // Fresh actors per test: tests sharing a server never meet each other's incidents.
      run = randomUUID().slice(0, 8);
    });
    afterEach(() => subject.cleanup());

    const ip = (i: number) => `10.${i}.${run.charCodeAt(0)}.${run.charCodeAt(1)}`;
    function update(o: Partial<IncidentUpdate> & { who: { ip?: string; user?: string } }): IncidentUpdate {
      const keys = [
        ...(o.who.user ? [`user:${run}:${o.who.user}`] : []),
        ...(o.who.ip ? [`ip:${o.who.ip}`] : []),
      ];
      return {
        id: `inc-${run}-${++n}`,
        keys,
        pending: o.who.ip ? `ip:${o.who.ip}` : (keys[0] ?? null),
        opens: false,
        time: clock.now(),
        windowMs: 60_000,
        retentionMs: 3_600_000,
        actor: {
          ...(o.who.ip ? { ip: o.who.ip } : {}),
          ...(o.who.user ? { user: `${run}:${o.who.user}` } : {}),
        },
        events: 1,
        detectionPoints: ["AE2"],
        outcome: "attempt",
        attacks: 0,
        evidence: [],
        responses: [],
        ...o,
      };
    }
    const one = async (u: IncidentUpdate) => (await store.record([u]))[0]!;

    it("two users behind one address are two incidents: the second one's breach pages under their own name", async () => {
      const nat = ip(21);
      const alice = await one(update({ who: { ip: nat, user: "alice" }, opens: true, attacks: 1 }));
      assert.equal(alice.opened, true);
      const bob = await one(update({ who: { ip: nat, user: "bob" }, opens: true, outcome: "success" }));
      assert.equal(bob.opened, true, "bob's breach is not folded into alice's incident");
      assert.equal(bob.breached, true, "so it pages");
      assert.notEqual(bob.incident!.id, alice.incident!.id);
      assert.equal(bob.incident!.actor.user, `${run}:bob`);
      // An event of alice's from the same address still goes to her own incident.
      const again = await one(update({ who: { ip: nat, user: "alice" } }));
      assert.equal(again.incident?.id, alice.incident!.id);
    });

    it("holds an actor's events until an attack opens an incident, then folds them in", async () => {
      const a = ip(1);
      for (let i = 0; i < 3; i++) {
        const r = await one(update({ who: { ip: a } }));
        assert.deepEqual(r, { incident: null, opened: false, breached: false });
        clock.advance(1000);
      }
      assert.deepEqual(await store.list({ ...QUERY, ip: a }), [], "no incident for events alone");
      const first = clock.now() - 3000;
      const opened = await one(
        update({
          who: { ip: a },
          opens: true,
          attacks: 1,
          detectionPoints: ["AE3"],
          responses: [{ response: "block-ip", action: "block", mode: "enforce" }],
        }),
      );
      assert.equal(opened.opened, true);
      assert.equal(opened.breached, false);
      const incident = opened.incident!;
      assert.equal(incident.events, 4);
      assert.equal(incident.attacks, 1);
      assert.equal(incident.firstSeen, first);
      assert.deepEqual(incident.detectionPoints, ["AE2", "AE3"]);
      assert.deepEqual(incident.responses, [{ response: "block-ip", action: "block", mode: "enforce" }]);
      assert.deepEqual(incident.actor, { ip: a });
      const again = await one(update({ who: { ip: a } }));
      assert.equal(again.incident?.id, incident.id);
      assert.equal(again.incident?.events, 5);
    });

    it("takes the worst outcome; exactly one update sees the turn to success", async () => {
      const a = ip(2);
      const r1 = await one(update({ who: { ip: a }, opens: true, attacks: 1 }));
      assert.equal(r1.incident?.outcome, "attempt");
      const r2 = await one(update({ who: { ip: a }, outcome: "blocked" }));
      assert.equal(r2.incident?.outcome, "blocked");
      const r3 = await one(update({ who: { ip: a }, outcome: "attempt" }));
      assert.equal(r3.incident?.outcome, "blocked", "an attempt after a block does not lower it");
      const evidence = { kind: "honeytoken-request", detail: "decoy key used", requestId: "r-1" };
      const r4 = await one(update({ who: { ip: a }, outcome: "success", opens: true, evidence: [evidence] }));
      assert.equal(r4.incident?.outcome, "success");
      assert.equal(r4.breached, true);
      assert.deepEqual(r4.incident?.evidence, [evidence]);
      const r5 = await one(update({ who: { ip: a }, outcome: "success", opens: true }));
      assert.equal(r5.breached, false, "the second success of one incident does not page again");
      assert.equal(r5.incident?.id, r1.incident?.id);
    });

    it("a breach with nothing before it opens an incident that is a breach at once", async () => {
      const r = await one(update({ who: { ip: ip(3), user: "carol" }, outcome: "success", opens: true }));
      assert.equal(r.opened, true);
      assert.equal(r.breached, true);
      assert.equal(r.incident?.outcome, "success");
    });

    it("keeps guessing from an address and the login that follows as one incident, then follows the user", async () => {
      const a = ip(4);
      await one(update({ who: { ip: a } }));
      const attack = await one(update({ who: { ip: a }, opens: true, attacks: 1 }));
      const login = await one(update({ who: { ip: a, user: "victim" }, outcome: "success", opens: true }));
      assert.equal(login.incident?.id, attack.incident?.id);
      assert.equal(login.breached, true);
      assert.equal(login.incident?.actor.user, `${run}:victim`);
      // The same user from another address is still the same incident.
      const moved = await one(update({ who: { ip: ip(5), user: "victim" } }));
      assert.equal(moved.incident?.id, attack.incident?.id);
      assert.equal(moved.incident?.actor.ip, a, "identities first seen stay");
    });

    it("an identity already leading to another open incident keeps leading there", async () => {
      const x = await one(update({ who: { ip: ip(6) }, opens: true, attacks: 1 }));
      const y = await one(update({ who: { user: "mallory" }, opens: true, attacks: 1 }));
      // mallory shows up from x's address: found by user (most specific), x keeps its address.
      const both = await one(update({ who: { ip: ip(6), user: "mallory" } }));
      assert.equal(both.incident?.id, y.incident?.id);
      const anon = await one(update({ who: { ip: ip(6) } }));
      assert.equal(anon.incident?.id, x.incident?.id);
    });

    it("closes an incident once its actor is not seen for the window: the next attack opens another", async () => {
      const a = ip(7);
      const short = { windowMs: 300 };
      const first = await one(update({ who: { ip: a }, opens: true, attacks: 1, ...short }));
      await subject.elapse(600);
      clock.advance(600);
      const held = await one(update({ who: { ip: a }, ...short }));
      assert.equal(held.incident, null, "after the window an event alone is held again");
      const second = await one(update({ who: { ip: a }, opens: true, attacks: 1, ...short }));
      assert.notEqual(second.incident?.id, first.incident?.id);
      assert.equal(second.opened, true);
      assert.equal(second.incident?.events, 2, "the held event is folded into the new incident");
      assert.equal((await store.list({ ...QUERY, ip: a })).length, 2, "the closed one is still listed");
    });

    it("bounds detection points, evidence and responses, keeping the first", async () => {
      const a = ip(8);
      const dps = Array.from({ length: 40 }, (_, i) => `dp-${i}`);
      const evidence = Array.from({ length: 20 }, (_, i) => ({
        kind: "app",
        detail: `e${i}`,
        requestId: null,
      }));
      const responses = Array.from({ length: 40 }, (_, i) => ({
        response: `r${i}`,
        action: "log",
        mode: "enforce" as const,
      }));
      await one(update({ who: { ip: a }, opens: true, attacks: 1 }));
      const r = await one(
        update({
          who: { ip: a },
          detectionPoints: dps,
          evidence,
          responses,
          outcome: "success",
          opens: true,
        }),
      );
      assert.equal(r.incident?.detectionPoints.length, 32);
      assert.deepEqual(r.incident?.detectionPoints.slice(0, 2), ["AE2", "dp-0"]);
      assert.equal(r.incident?.evidence.length, 16);
      assert.equal(r.incident?.evidence[0]?.detail, "e0");
      assert.equal(r.incident?.responses.length, 32);
    });

    it("lists most recently active first, with outcome, since, ip, user and limit filters", async () => {
      const [a, b, c] = [ip(9), ip(10), ip(11)];
      const start = clock.now();
      await one(update({ who: { ip: a }, opens: true, attacks: 1 }));
      clock.advance(1000);
      await one(update({ who: { ip: b, user: "bob" }, opens: true, outcome: "success" }));
      clock.advance(1000);
      await one(update({ who: { ip: c }, opens: true, attacks: 1, outcome: "blocked" }));
      const mine = (list: { actor: { ip?: string } }[]) =>
        list.filter((i) => [a, b, c].includes(i.actor.ip ?? "")).map((i) => i.actor.ip);
      assert.deepEqual(mine(await store.list(QUERY)), [c, b, a]);
      assert.deepEqual(mine(await store.list({ ...QUERY, outcome: "success" })), [b]);
      assert.deepEqual(mine(await store.list({ ...QUERY, outcome: "blocked" })), [c]);
      assert.deepEqual(mine(await store.list({ ...QUERY, since: start + 1000 })), [c, b]);
      assert.deepEqual(mine(await store.list({ ...QUERY, ip: a })), [a]);
      assert.deepEqual(mine(await store.list({ ...QUERY, user: `${run}:bob` })), [b]);
      assert.equal((await store.list({ ...QUERY, limit: 1 })).length, 1);
    });

    it("lets one caller claim a name until it expires", async () => {
      const name = `digest:ops:${run}`;
      assert.equal(await store.claim(name, 300), true);
      assert.equal(await store.claim(name, 300), false);
      const other = await subject.replica();
      assert.equal(await other.claim(name, 300), false, "another replica is refused too");
      await subject.elapse(600);
      clock.advance(600);
      assert.equal(await store.claim(name, 300), true);
    });

    it("across replicas, concurrent successes on one incident page once", async () => {
      const other = await subject.replica();
      const a = ip(12);
      await one(update({ who: { ip: a }, opens: true, attacks: 1 }));
      const success = () => update({ who: { ip: a }, outcome: "success", opens: true });
      const results = await Promise.all([
        ...Array.from({ length: 5 }, () => store.record([success()])),
        ...Array.from({ length: 5 }, () => other.record([success()])),
      ]);
      const flat = results.flat();
      assert.equal(flat.filter((r) => r.breached).length, 1);
      assert.equal(new Set(flat.map((r) => r.incident?.id)).size, 1);
    });

    if (!options.shared) return;

    it("writes nothing without a TTL", async () => {
      assert.ok(subject.keys, "a shared store's factory lists its keys");
      const a = ip(13);
      await one(update({ who: { ip: a } }));
      await one(update({ who: { ip: a, user: "ttl" }, opens: true, attacks: 1 }));
      await store.claim(`digest:ttl:${run}`, 60_000);
      const keys = await subject.keys();
      assert.ok(keys.length > 0);
      assert.deepEqual(
        keys.filter((k) => k.pttl < 0),
        [],
      );
    });
  });
}
