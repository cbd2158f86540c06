/**
 * The writing half of RedisReplicatedMap: local changes on their way to Redis, and what keeps
 * them in order with everyone else's.
 *
 * - Straight to Redis (one script each) while the connection is up and nothing is queued;
 *   otherwise into the write-back queue: latest change per key, bounded, the oldest dropped (and
 *   counted) when full. A change that fails goes back into the queue unless a newer change of
 *   the same key is already there or on its way, and from then on changes queue until the map
 *   has written the queue back, so an old value is never written over a newer one.
 * - Every change is *pending* until Redis has ordered it: until its own echo arrives on the
 *   subscriber, or until a snapshot taken after Redis answered it. While a key is pending, the
 *   map ignores other replicas' messages and snapshot values for it: they were ordered before
 *   ours, and ours is the value that stands.
 */
import type { Clock } from "./clock.ts";
import type { StoreLogger } from "./redis-connect.ts";
import { changeHeader, type MapClient, type MapKeys, META_TTL_MS } from "./replicated-map-scripts.ts";

export interface Write {
  op: "s" | "d";
  key: string;
  /** This replica's sequence number, echoed in the change's message. */
  seq: number;
  /** The encoded value; "" for a delete. */
  encoded: string;
  until: number;
}

interface Pending {
  seq: number;
  /** The version Redis gave it, once it answered (0 before). */
  version: number;
}

export interface MapWriterOptions {
  client: MapClient;
  keys: MapKeys;
  /** This replica's id in messages. */
  replica: string;
  clock: Clock;
  maxQueued: number;
  /** Changes per write-back pipeline. */
  chunk: number;
  timeout: <T>(promise: Promise<T>) => Promise<T>;
  /** A change failed: the map degrades and retries (the changes are queued already). */
  onFailure: (err: Error) => void;
  logger?: StoreLogger;
  name: string;
}

export class MapWriter {
  /** Changes go straight to Redis; set by the map (false on an outage), and by `writeBack`. */
  writable = false;
  readonly #o: MapWriterOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #queue = new Map<string, Write>();
  readonly #inflight = new Set<Promise<unknown>>();
  #seq = 0;
  #dropped = 0;
  #dropLogged = false;

  constructor(options: MapWriterOptions) {
    this.#o = options;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /** Changes dropped from a full queue since start: they never reached Redis. */
  get dropped(): number {
    return this.#dropped;
  }

  set(key: string, encoded: string, until: number): void {
    this.#write({ op: "s", key, seq: ++this.#seq, encoded, until });
  }

  delete(key: string): void {
    this.#write({ op: "d", key, seq: ++this.#seq, encoded: "", until: 0 });
  }

  isPending(key: string): boolean {
    // None pending is the usual case while a snapshot loads: no hashing of a million fresh keys.
    return this.#pending.size !== 0 && this.#pending.has(key);
  }

  /** Our own message came back: Redis ordered that change, later messages are newer. */
  echoed(key: string, seq: number): void {
    if (this.#pending.get(key)?.seq === seq) this.#pending.delete(key);
  }

  /**
   * A snapshot was read at `version`: our changes Redis ordered at or before it are in it and no
   * longer pending (their echoes may never come: the subscriber may have been away). Returns
   * their keys.
   */
  settle(version: number): string[] {
    const settled: string[] = [];
    for (const [key, p] of this.#pending) {
      if (p.version === 0 || p.version > version) continue;
      this.#pending.delete(key);
      settled.push(key);
    }
    return settled;
  }

  /** Every change in flight answered (or timed out). */
  async flush(): Promise<void> {
    await this.#o.timeout(Promise.allSettled([...this.#inflight])).catch(() => {});
  }

  /** The queue, in pipelines; changes made meanwhile join it, so it ends empty and writable. */
  async writeBack(): Promise<number> {
    let written = 0;
    while (this.#queue.size > 0) {
      if (this.#o.client.status !== "ready") throw new Error("Redis is not connected");
      const batch: Write[] = [];
      for (const w of this.#queue.values()) {
        batch.push(w);
        if (batch.length === this.#o.chunk) break;
      }
      for (const w of batch) this.#queue.delete(w.key);
      const replies = await this.#pipeline(batch).catch((err: Error) => {
        this.#failed(batch, err);
        throw err;
      });
      const failed = batch.filter((w, i) => {
        const [err, version] = replies?.[i] ?? [new Error("no reply"), null];
        if (!err) this.#acknowledged(w, Number(version));
        return err !== null;
      });
      if (failed.length > 0) {
        const err = replies?.[batch.indexOf(failed[0]!)]?.[0] ?? new Error("no reply");
        this.#failed(failed, err);
        throw err;
      }
      written += batch.length;
    }
    this.writable = true;
    this.#dropLogged = false;
    return written;
  }

  /**
   * Redis lost the map: write these entries again, straight away (not through the bounded
   * queue: they are the replica's whole state). Keys with a change on its way are left to it.
   */
  async reseed(entries: Iterable<{ key: string; encoded: string; until: number }>): Promise<void> {
    let batch: Write[] = [];
    const send = async () => {
      const replies = await this.#pipeline(batch);
      batch = [];
      const failed = replies === null ? new Error("no reply") : replies.find(([err]) => err)?.[0];
      if (failed) throw failed;
    };
    for (const e of entries) {
      if (this.#pending.has(e.key)) continue;
      batch.push({ op: "s", key: e.key, seq: ++this.#seq, encoded: e.encoded, until: e.until });
      if (batch.length === this.#o.chunk) await send();
    }
    if (batch.length > 0) await send();
  }

  #write(w: Write): void {
    this.#pending.set(w.key, { seq: w.seq, version: 0 });
    if (!this.writable) {
      this.#enqueue(w);
      return;
    }
    const sent = this.#o.timeout(this.#send(this.#o.client, w)).then(
      (version) => this.#acknowledged(w, Number(version)),
      (err: Error) => this.#failed([w], err),
    );
    this.#inflight.add(sent);
    void sent.finally(() => this.#inflight.delete(sent));
  }

  #pipeline(batch: Write[]): Promise<[Error | null, unknown][] | null> {
    const pipeline = this.#o.client.pipeline() as unknown as MapClient & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const w of batch) void this.#send(pipeline, w);
    return this.#o.timeout(pipeline.exec());
  }

  /** One script call, on the client or on a pipeline. */
  #send(target: MapClient, w: Write): Promise<number> {
    const k = this.#o.keys;
    const header = changeHeader(w.op, this.#o.replica, w.seq, w.key, w.until);
    if (w.op === "d")
      return target.ghMapDelete(k.entry + w.key, k.index, k.version, META_TTL_MS, header, k.channel, w.key);
    const now = this.#o.clock.now();
    const ttl = Math.max(1, Math.ceil(w.until - now));
    const args = [w.encoded, w.until, ttl, now, Math.max(META_TTL_MS, ttl), header, k.channel, w.key];
    return target.ghMapSet(k.entry + w.key, k.index, k.version, ...args);
  }

  #acknowledged(w: Write, version: number): void {
    const pending = this.#pending.get(w.key);
    if (pending?.seq === w.seq) pending.version = version;
  }

  #failed(writes: Write[], err: Error): void {
    for (const w of writes)
      if (this.#pending.get(w.key)?.seq === w.seq && !this.#queue.has(w.key)) this.#enqueue(w);
    this.writable = false;
    this.#o.onFailure(err);
  }

  #enqueue(w: Write): void {
    if (!this.#queue.has(w.key) && this.#queue.size >= this.#o.maxQueued) {
      const [oldest] = this.#queue.values();
      if (oldest) {
        this.#queue.delete(oldest.key);
        if (this.#pending.get(oldest.key)?.seq === oldest.seq) this.#pending.delete(oldest.key);
        this.#dropped++;
        if (!this.#dropLogged) {
          this.#dropLogged = true;
          this.#o.logger?.warn(
            { store: "redis", map: this.#o.name, maxQueued: this.#o.maxQueued },
            "replicated map write-back queue full: dropping the oldest changes",
          );
        }
      }
    }
    this.#queue.set(w.key, w);
  }
}
