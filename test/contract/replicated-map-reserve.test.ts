/**
 * A snapshot load tells the local store how many entries are coming (the index's ZCARD) before
 * the first one, so a store held in columns sizes them once (issue 5: columns doubling during a
 * million-decision load left their old copies to the garbage collector). Against a redis-server
 * this file starts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { ManualClock } from "../../src/store/clock.ts";
import { LocalView } from "../../src/store/local-view.ts";
import { RedisReplicatedMap } from "../../src/store/redis-replicated-map.ts";
import { mapKeys } from "../../src/store/replicated-map-scripts.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { type Item, itemCodec, whenReady } from "./replicated-map-contract.ts";

const T0 = 1_800_000_000_000;
const MINUTE = 60_000;

/** A LocalView that records what it was told: reserve() calls, and holds before the first. */
class RecordingView extends LocalView<Item> {
  readonly reserved: { entries: number; heldBefore: number }[] = [];
  held = 0;
  override reserve(entries: number): void {
    this.reserved.push({ entries, heldBefore: this.held });
  }
  override hold(key: string, value: Item, until: number, gen: number): void {
    this.held++;
    super.hold(key, value, until, gen);
  }
}

/** The map as a replica opens it, its local store the recording view. */
function openMap(app: string, clock: ManualClock, view: RecordingView): RedisReplicatedMap<Item> {
  return new RedisReplicatedMap<Item>({
    url: redis.url,
    app,
    name: "decisions",
    codec: itemCodec,
    clock,
    local: view,
    retry: { maxMs: 200 },
  });
}

let redis: RedisServer;
let admin: Redis;
before(async () => {
  redis = await startRedis();
  admin = new Redis({ port: redis.port, host: "127.0.0.1" });
});
after(async () => {
  admin?.disconnect();
  await redis?.close();
});

describe("RedisReplicatedMap snapshot: reserve", () => {
  it("tells the local store the index's size once per load, before any entry is held", async () => {
    const keys = mapKeys("reserve", "decisions");
    // Written as a replica would (entry + index member), plus one member whose entry is gone.
    const clock = new ManualClock(T0);
    const pipeline = admin.pipeline();
    for (let n = 0; n < 4500; n++) {
      pipeline.set(keys.entry + `i${n}`, JSON.stringify({ id: `i${n}`, n }), "PX", 10 * MINUTE);
      pipeline.zadd(keys.index, T0 + 10 * MINUTE, `i${n}`);
    }
    pipeline.zadd(keys.index, T0 + 10 * MINUTE, "dangling").incr(keys.version);
    await pipeline.exec();

    const view = new RecordingView(clock);
    const map = openMap("reserve", clock, view);
    try {
      await whenReady(map);
      assert.deepEqual(view.reserved, [{ entries: 4501, heldBefore: 0 }]);
      assert.equal(map.size, 4500);
      assert.deepEqual(map.get("i4499"), { id: "i4499", n: 4499 });
    } finally {
      await map.close();
    }
  });

  it("loads an empty map, telling the store 0", async () => {
    const clock = new ManualClock(T0);
    const view = new RecordingView(clock);
    const map = openMap("reserve-empty", clock, view);
    try {
      await whenReady(map);
      assert.deepEqual(view.reserved, [{ entries: 0, heldBefore: 0 }]);
      assert.equal(map.size, 0);
    } finally {
      await map.close();
    }
  });
});
