/**
 * What every ReplicatedMap promises (STYLE pattern 7), run against each implementation: memory
 * (one process) and Redis (one server, a Cluster), each against servers its test file starts.
 * The shared cases are what enforcement on many replicas relies on: changes reach the others at
 * once, a late replica loads the snapshot, a missed message heals, everything written expires,
 * and hostile stored values are skipped. Entries carry realistic expiries: the clock is a
 * ManualClock that starts at the real time, because Redis counts TTLs in real time.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ManualClock } from "../../src/store/clock.ts";
import type { MapChange, ReplicatedMap } from "../../src/store/replicated-map.ts";
import { waitFor, within } from "../helpers/wait.ts";

/** The value the suite stores: small, with a codec that refuses anything else. */
export interface Item {
  id: string;
  n: number;
}

export const itemCodec = {
  encode: (item: Item): string => JSON.stringify(item),
  decode(text: string): Item | null {
    try {
      const v = JSON.parse(text) as Item;
      return typeof v?.id === "string" && typeof v.n === "number" ? { id: v.id, n: v.n } : null;
    } catch {
      return null;
    }
  },
};

export interface MapSubject {
  map: ReplicatedMap<Item>;
  /** Another replica of the same map (shared subjects only). */
  replica?(): Promise<ReplicatedMap<Item>>;
  /** Every key on the server(s), with its PTTL. */
  keys?(): Promise<{ key: string; pttl: number }[]>;
  /** One Redis command on the server holding the app's keys, bypassing the map. */
  command?(...args: (string | number)[]): Promise<unknown>;
  cleanup(): Promise<void>;
}

/** `app` is fresh for each test, so tests sharing a server never see each other's entries. */
export type MapFactory = (clock: ManualClock, app: string) => Promise<MapSubject>;

const MINUTE = 60_000;

/** Resolves once the map has loaded a snapshot and is in step (memory: at once). */
export function whenReady(map: ReplicatedMap<unknown>, ms = 10_000): Promise<true> {
  return waitFor(() => map.loaded() && map.status().status === "up", "the map to load and be up", ms);
}

/** Every change the map announces, as it announces them. */
export function record<V>(map: ReplicatedMap<V>): MapChange<V>[] {
  const changes: MapChange<V>[] = [];
  map.onChange((c) => changes.push(c));
  return changes;
}

export function replicatedMapContract(name: string, factory: MapFactory, options: { shared?: boolean } = {}) {
  describe(`ReplicatedMap contract: ${name}`, () => {
    let clock: ManualClock;
    let subject: MapSubject;
    let map: ReplicatedMap<Item>;
    let app: string;
    const extra: ReplicatedMap<Item>[] = [];
    const item = (n: number): Item => ({ id: `i${n}`, n });

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      app = `c-${randomUUID().slice(0, 8)}`;
      subject = await factory(clock, app);
      map = subject.map;
      await whenReady(map);
    });

    afterEach(async () => {
      await Promise.all(extra.splice(0).map((m) => m.close()));
      await subject.cleanup();
    });

    async function replica(): Promise<ReplicatedMap<Item>> {
      const other = await subject.replica!();
      extra.push(other);
      await whenReady(other);
      return other;
    }

    it("set, get and delete", () => {
      const until = clock.now() + 10 * MINUTE;
      assert.equal(map.get("a"), undefined);
      map.set("a", item(1), until);
      map.set("b", item(2), until);
      assert.deepEqual(map.get("a"), item(1));
      assert.equal(map.size, 2);
      map.set("a", item(3), until);
      assert.deepEqual(map.get("a"), item(3), "a set replaces");
      assert.equal(map.delete("a"), true);
      assert.equal(map.delete("a"), false, "deleting twice");
      assert.equal(map.get("a"), undefined);
      assert.deepEqual(
        [...map.entries()].map((e) => [e.key, e.value, e.until]),
        [["b", item(2), until]],
      );
    });

    it("expires entries by the injected clock; entries() skips them", () => {
      const now = clock.now();
      map.set("short", item(1), now + MINUTE);
      map.set("long", item(2), now + 10 * MINUTE);
      map.set("past", item(3), now);
      assert.equal(map.get("past"), undefined, "an entry already expired is not stored");
      clock.advance(MINUTE - 1);
      assert.deepEqual(map.get("short"), item(1));
      clock.advance(1);
      assert.equal(map.get("short"), undefined, "gone at `until` exactly");
      assert.deepEqual(
        [...map.entries()].map((e) => e.key),
        ["long"],
      );
    });

    it("announces local changes at once, in order", () => {
      const changes = record(map);
      const until = clock.now() + MINUTE;
      map.set("a", item(1), until);
      map.delete("a");
      map.delete("never-there");
      assert.deepEqual(changes, [
        { kind: "set", key: "a", value: item(1), until },
        { kind: "delete", key: "a" },
      ]);
    });

    it("is loaded and up once ready", () => {
      assert.equal(map.loaded(), true);
      assert.equal(map.status().status, "up");
    });

    if (!options.shared) return;

    it("two replicas see each other's sets and deletes within 100 ms", async () => {
      const b = await replica();
      const seen = record(b);
      const until = clock.now() + 10 * MINUTE;
      let t = performance.now();
      map.set("k", item(1), until);
      let ms = await changeOn(b, "k");
      assert.ok(ms < 100, `the set took ${ms.toFixed(1)} ms`);
      assert.deepEqual(b.get("k"), item(1));
      assert.deepEqual(seen, [{ kind: "set", key: "k", value: item(1), until }]);

      const back = record(map);
      b.set("k", item(2), until);
      b.set("other", item(3), until);
      await waitFor(() => map.get("other"), "A to see B's sets", 1000);
      assert.deepEqual(map.get("k"), item(2));
      assert.deepEqual(
        back.map((c) => c.kind),
        ["set", "set"],
      );

      t = performance.now();
      map.delete("k");
      ms = await changeOn(b, "k");
      assert.ok(ms < 100, `the delete took ${ms.toFixed(1)} ms`);
      assert.equal(b.get("k"), undefined);
      assert.deepEqual(seen.at(-1), { kind: "delete", key: "k" });

      /** Milliseconds from `t` to the next change of `key` on `on`. */
      function changeOn(on: ReplicatedMap<Item>, key: string): Promise<number> {
        return within(
          new Promise((resolve) =>
            on.onChange((c) => c.kind !== "reset" && c.key === key && resolve(performance.now() - t)),
          ),
          1000,
          `a change of ${key}`,
        );
      }
    });

    it("a replica started later loads the snapshot and announces a reset", async () => {
      const until = clock.now() + 10 * MINUTE;
      for (let i = 0; i < 50; i++) map.set(`k${i}`, item(i), until + i);
      map.delete("k7");
      await waitFor(
        async () => Number(await subject.command!("ZCARD", `gatehouse:{${app}}:decisions:index`)) === 49,
        "the writes to reach Redis",
      );
      const late = await subject.replica!();
      extra.push(late);
      const changes = record(late);
      assert.equal(late.loaded(), false);
      await whenReady(late);
      assert.deepEqual(changes, [{ kind: "reset" }]);
      assert.equal(late.size, 49);
      assert.equal(late.get("k7"), undefined);
      assert.deepEqual(late.get("k3"), item(3));
      assert.equal([...late.entries()].find((e) => e.key === "k9")?.until, until + 9);
    });

    it("writes only keys under gatehouse:{app}:<name>:, each with a TTL", async () => {
      const until = clock.now() + 10 * MINUTE;
      map.set("a", item(1), until);
      map.set("b", item(2), clock.now() + 2 * MINUTE);
      map.delete("b");
      map.set("c", item(3), clock.now() + 20 * MINUTE);
      await waitFor(
        async () => Number(await subject.command!("GET", `gatehouse:{${app}}:decisions:version`)) === 4,
        "4 versions",
      );
      const keys = (await subject.keys!()).filter((k) => k.key.includes(app));
      assert.deepEqual(keys.map((k) => k.key).sort(), [
        `gatehouse:{${app}}:decisions:e:a`,
        `gatehouse:{${app}}:decisions:e:c`,
        `gatehouse:{${app}}:decisions:index`,
        `gatehouse:{${app}}:decisions:version`,
      ]);
      for (const k of keys) assert.ok(k.pttl > 0, `${k.key} has no TTL (${k.pttl})`);
      const ttl = (suffix: string) => keys.find((k) => k.key.endsWith(suffix))!.pttl;
      assert.ok(Math.abs(ttl(":e:a") - 10 * MINUTE) < 5000, "an entry lives until its `until`");
      assert.ok(Math.abs(ttl(":index") - 20 * MINUTE) < 5000, "the index until the latest `until`");
      assert.ok(ttl(":version") > 300 * 24 * 60 * MINUTE, "the version for a year");
    });

    it("heals a missed message with the version check, within about a second", async () => {
      const b = await replica();
      const seen = record(b);
      const until = clock.now() + 10 * MINUTE;
      // What a lost message looks like: the change is in Redis, nobody was told.
      await subject.command!(
        "SET",
        `gatehouse:{${app}}:decisions:e:silent`,
        itemCodec.encode(item(9)),
        "PX",
        600_000,
      );
      await subject.command!("ZADD", `gatehouse:{${app}}:decisions:index`, until, "silent");
      await subject.command!("INCR", `gatehouse:{${app}}:decisions:version`);
      const started = Date.now();
      await waitFor(() => b.get("silent"), "B to heal", 3000);
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      assert.deepEqual(seen, [{ kind: "reset" }]);
      assert.equal(b.status().status, "up", "a reload is not an outage");
    });

    it("catches up after its subscriber is disconnected", async () => {
      const b = await replica();
      const until = clock.now() + 10 * MINUTE;
      await subject.command!("CLIENT", "KILL", "TYPE", "pubsub");
      map.set("while-away", item(1), until);
      await waitFor(() => b.get("while-away"), "B to catch up", 3000);
      await whenReady(b);
      map.set("after", item(2), until);
      await waitFor(() => b.get("after"), "B to receive changes again", 1000);
    });

    it("concurrent writes of one key from two replicas end the same everywhere", async () => {
      const b = await replica();
      const until = clock.now() + 10 * MINUTE;
      for (let i = 0; i < 200; i++) {
        map.set("hot", item(i), until);
        b.set("hot", item(1000 + i), until);
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      const stored = async () =>
        itemCodec.decode(String(await subject.command!("GET", `gatehouse:{${app}}:decisions:e:hot`)));
      await waitFor(
        async () => {
          const s = await stored();
          return s !== null && map.get("hot")?.n === s.n && b.get("hot")?.n === s.n;
        },
        "both replicas to agree with Redis",
        3000,
      );
    });

    it("skips hostile stored values and messages instead of failing", async () => {
      const until = clock.now() + 10 * MINUTE;
      map.set("good", item(1), until);
      for (const [key, text] of [
        ["bad", "{not json"],
        ["wrong", JSON.stringify({ id: 5 })],
        ["huge", "x".repeat(100_000)],
      ] as const) {
        await subject.command!("SET", `gatehouse:{${app}}:decisions:e:${key}`, text, "PX", 600_000);
        await subject.command!("ZADD", `gatehouse:{${app}}:decisions:index`, until, key);
      }
      // An index member whose entry is gone, and one with a score that is no time.
      await subject.command!("ZADD", `gatehouse:{${app}}:decisions:index`, until, "gone");
      await waitFor(
        async () => (await subject.command!("GET", `gatehouse:{${app}}:decisions:e:good`)) !== null,
        "good",
      );
      const late = await replica();
      assert.deepEqual(
        [...late.entries()].map((e) => e.key),
        ["good"],
      );
      await waitFor(
        async () => (await subject.command!("ZSCORE", `gatehouse:{${app}}:decisions:index`, "gone")) === null,
        "the dangling member to be pruned",
      );
      const channel = `gatehouse:{${app}}:decisions:changes`;
      for (const junk of [
        "",
        "\n",
        "1\n[]\n",
        "x\ny\nz",
        '99\n["s","r",1,"k",1]\n{',
        `1\n${"[".repeat(5000)}\n`,
      ])
        await subject.command!("PUBLISH", channel, junk);
      map.set("still", item(2), until);
      await waitFor(() => late.get("still"), "changes to keep flowing", 3000);
      assert.equal(late.get("k"), undefined);
    });
  });
}
