/**
 * What every Store promises, run against each implementation (memory, one Redis, a Redis
 * Cluster): thresholds, rules, escalation memory and atomicity across replicas, as the policy
 * engine and the people reading its attacks rely on them. A new store passes this suite before
 * anything uses it. Event times come from a ManualClock, so "an hour later" takes no time.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import { SEQUENCE_CAP } from "../../src/store/memory-store.ts";
import type { HitResult, Store, WindowHit, WindowMatch } from "../../src/store/store.ts";

export interface ContractSubject {
  store: Store;
  cleanup(): Promise<void>;
  /** Another replica: a second store sharing this one's state (memory: the same store). */
  replica?(): Promise<Store>;
  /** A store of another app sharing the same server (memory: a new store). */
  otherApp?(): Promise<Store>;
  /** Shared stores: the app namespaces written to (this store's first, then otherApp's), and
   * every key on the server with its PTTL and size (members of its sorted set). */
  apps?: string[];
  keys?(): Promise<{ key: string; pttl: number; size: number }[]>;
  /** How many events a window (its key without the namespace) holds. */
  windowSize?(window: string): Promise<number>;
}

/** Resolves once `store` reports `up`. */
export function whenUp(store: Store, ms = 10_000): Promise<void> {
  if (store.status().status === "up") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`store not up after ${ms} ms: ${store.status().detail}`)),
      ms,
    );
    store.onStatusChange((s) => {
      if (s.status !== "up") return;
      clearTimeout(timer);
      resolve();
    });
  });
}

export type ContractFactory = (clock: ManualClock) => Promise<ContractSubject>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** `shared`: the store keeps its state in a server replicas share (adds the key-layout cases). */
export function storeContract(
  name: string,
  factory: ContractFactory,
  options: { shared?: boolean } = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let clock: ManualClock;
    let subject: ContractSubject;
    let store: Store;
    // Fresh keys per test, so tests sharing a server never see each other's windows.
    let id: string;
    const extra: Store[] = [];

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      subject = await factory(clock);
      store = subject.store;
      id = randomUUID().slice(0, 8);
    });

    afterEach(async () => {
      await Promise.all(extra.splice(0).map((s) => s.close()));
      await subject.cleanup();
    });

    function hit(window: string, match: WindowMatch, label = "IE1", o: Partial<WindowHit> = {}): WindowHit {
      return {
        window: `w:${id}:${window}`,
        history: `h:${id}:${window}`,
        label,
        time: clock.now(),
        withinMs: 10 * MINUTE,
        match,
        memoryMs: 24 * HOUR,
        ...o,
      };
    }
    const count = (n: number): WindowMatch => ({ kind: "count", count: n });
    const attacks = (results: HitResult[]) => results.flatMap((r, i) => (r.attack ? [[i + 1, r.nth]] : []));
    async function one(h: WindowHit): Promise<HitResult> {
      const [r] = await store.hit([h]);
      return r!;
    }

    it("threshold 3: attacks at events 3, 6 and 9, escalating 1, 2, 3", async () => {
      const hits = Array.from({ length: 9 }, () => hit("t", count(3)));
      assert.deepEqual(attacks(await store.hit(hits)), [
        [3, 1],
        [6, 2],
        [9, 3],
      ]);
      // The same, one event per batch and time moving on.
      const results: HitResult[] = [];
      for (let i = 0; i < 9; i++) {
        clock.advance(1000);
        results.push(await one(hit("t2", count(3))));
      }
      assert.deepEqual(attacks(results), [
        [3, 1],
        [6, 2],
        [9, 3],
      ]);
    });

    it("events spread wider than the window never attack", async () => {
      const results: HitResult[] = [];
      for (let i = 0; i < 12; i++) {
        results.push(await one(hit("slow", count(3))));
        clock.advance(5 * MINUTE + 1);
      }
      assert.deepEqual(attacks(results), []);
    });

    it("an event exactly one window after another no longer counts with it", async () => {
      await store.hit([hit("edge", count(2))]);
      clock.advance(10 * MINUTE);
      assert.deepEqual(await one(hit("edge", count(2))), { attack: false });
      clock.advance(1);
      assert.deepEqual(await one(hit("edge", count(2))), { attack: true, nth: 1 });
    });

    it("the window restarts after an attack: earlier events do not count again", async () => {
      assert.deepEqual(attacks(await store.hit([1, 2, 3].map(() => hit("r", count(3))))), [[3, 1]]);
      assert.deepEqual(attacks(await store.hit([1, 2].map(() => hit("r", count(3))))), []);
    });

    it("`all`: every label once, in any order; repeats of one label do not complete it", async () => {
      const all: WindowMatch = { kind: "all", labels: ["ACE3", "IE1", "CIE1"] };
      const labels = ["IE1", "IE1", "IE1", "CIE1", "IE1", "ACE3"];
      const results = await store.hit(labels.map((l) => hit("all", all, l)));
      assert.deepEqual(attacks(results), [[6, 1]]);
      assert.deepEqual(await one(hit("all", all, "IE1")), { attack: false }, "the window restarted");
    });

    it("`sequence`: order matters, other events may come between", async () => {
      const seq: WindowMatch = { kind: "sequence", labels: ["ACE3", "IE1"] };
      assert.deepEqual(
        attacks(await store.hit(["IE1", "ACE3"].map((l) => hit("s", seq, l)))),
        [],
        "wrong order",
      );
      assert.deepEqual(await one(hit("s", seq, "IE1")), { attack: true, nth: 1 }, "ACE3 then IE1");
      const three: WindowMatch = { kind: "sequence", labels: ["ACE3", "IE1", "CIE1"] };
      const labels = ["ACE3", "RE2", "CIE1", "IE1", "RE2", "IE1", "CIE1"];
      assert.deepEqual(attacks(await store.hit(labels.map((l) => hit("s3", three, l)))), [[7, 1]]);
    });

    it("`sequence` is decided by event time, not arrival", async () => {
      const seq: WindowMatch = { kind: "sequence", labels: ["ACE3", "IE1"] };
      const t = clock.now();
      assert.deepEqual(await one(hit("late", seq, "IE1", { time: t })), { attack: false });
      assert.deepEqual(await one(hit("late", seq, "ACE3", { time: t - 1000 })), { attack: true, nth: 1 });
    });

    it("a flood between the steps of a sequence neither hides the match nor grows the window", async () => {
      const seq: WindowMatch = { kind: "sequence", labels: ["ACE3", "IE1", "CIE1"] };
      const flood = ["ACE3", ...Array.from({ length: 500 }, (_, i) => (i % 2 ? "IE1" : "ACE3"))];
      assert.deepEqual(attacks(await store.hit(flood.map((l) => hit("flood", seq, l)))), []);
      const size = await subject.windowSize?.(`w:${id}:flood`);
      assert.ok(
        size === undefined || (size > 0 && size <= SEQUENCE_CAP + 1),
        `the window holds ${size} events`,
      );
      assert.deepEqual(await one(hit("flood", seq, "CIE1")), { attack: true, nth: 1 });
    });

    it("escalation memory: attacks older than memoryMs are forgotten and the ladder starts again", async () => {
      const h = (o: Partial<WindowHit> = {}) => hit("esc", count(1), "IE1", { memoryMs: HOUR, ...o });
      assert.deepEqual(await one(h()), { attack: true, nth: 1 });
      clock.advance(30 * MINUTE);
      assert.deepEqual(await one(h()), { attack: true, nth: 2 });
      clock.advance(31 * MINUTE);
      assert.deepEqual(await one(h()), { attack: true, nth: 2 }, "the first attack is over an hour old");
      clock.advance(2 * HOUR);
      assert.deepEqual(await one(h()), { attack: true, nth: 1 });
    });

    it("distinct windows, and distinct apps, count independently", async () => {
      const other = subject.otherApp ? await subject.otherApp() : undefined;
      if (other) extra.push(other);
      await store.hit([hit("a", count(3)), hit("a", count(3)), hit("b", count(3)), hit("b", count(3))]);
      await other?.hit([hit("a", count(3)), hit("a", count(3))]);
      assert.deepEqual(await one(hit("a", count(3))), { attack: true, nth: 1 });
      assert.deepEqual(await one(hit("b", count(3))), { attack: true, nth: 1 });
      if (other) assert.deepEqual(await other.hit([hit("a", count(3))]), [{ attack: true, nth: 1 }]);
    });

    it("results keep the batch's order", async () => {
      const windows = ["x", "x", "y", "x", "z", "y", "y", "z", "z"];
      const results = await store.hit(windows.map((w) => hit(w, count(3))));
      assert.deepEqual(attacks(results), [
        [4, 1],
        [7, 1],
        [9, 1],
      ]);
    });

    it("atomic across replicas: 300 concurrent events, threshold 3, give exactly 100 attacks, nth 1..100 once each", async () => {
      const replica = subject.replica ? await subject.replica() : store;
      if (replica !== store) extra.push(replica);
      const stores = [store, replica];
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => stores[i % 2]!.hit([hit("race", count(3))]).then(([r]) => r!)),
      );
      const nths = results.flatMap((r) => (r.attack ? [r.nth] : [])).sort((a, b) => a - b);
      assert.deepEqual(
        nths,
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
    });

    if (!options.shared) return;

    it("shared store: every key has a TTL, no longer than its window or memory", async () => {
      assert.ok(subject.keys, "a shared store's factory lists its keys");
      await store.hit([
        hit("ttl", count(3)),
        hit("ttl", count(3)),
        hit("ttl", count(3)),
        hit("ttl2", count(3)),
      ]);
      const keys = (await subject.keys()).filter((k) => k.key.includes(id));
      // The first window was emptied by its attack (so it is gone); its history and the second remain.
      assert.equal(keys.length, 2, keys.map((k) => k.key).join(", "));
      for (const k of keys) {
        const limit = k.key.includes(":h:") ? 24 * HOUR : 10 * MINUTE;
        assert.ok(k.pttl > 0 && k.pttl <= limit, `${k.key} PTTL ${k.pttl}`);
      }
    });

    it("shared store: every key is under gatehouse:{app}: and nothing else is written", async () => {
      const apps = subject.apps;
      assert.ok(subject.keys && apps, "a shared store's factory lists its keys and apps");
      await store.hit([
        hit("ns", count(2)),
        hit("ns", count(2)),
        hit("ns2", { kind: "all", labels: ["IE1", "CIE1"] }),
      ]);
      const keys = await subject.keys();
      assert.ok(keys.length > 0);
      for (const k of keys) {
        assert.ok(
          apps.some((app) => k.key.startsWith(`gatehouse:{${app}}:`)),
          k.key,
        );
        assert.ok(k.pttl > 0, `${k.key} has a TTL`);
      }
      const mine = keys.filter((k) => k.key.includes(id)).map((k) => k.key);
      assert.deepEqual(mine.sort(), [
        `gatehouse:{${apps[0]}}:h:${id}:ns`,
        `gatehouse:{${apps[0]}}:w:${id}:ns2`,
      ]);
    });
  });
}
