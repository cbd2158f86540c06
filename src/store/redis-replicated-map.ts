/**
 * A ReplicatedMap shared through Redis (STYLE pattern 8): every replica holds the whole map in
 * memory, loads the full snapshot on start and on every reconnect, and applies the changes the
 * others publish. Reads never touch Redis; a change is one script, one round trip
 * (replicated-map-scripts.ts has the key layout, replicated-map-writer.ts the writing half).
 *
 * Ordering. Every change increments the map's version and publishes it in one atomic script, and
 * the subscriber connection receives messages in version order. So:
 * - a snapshot reads the version first; messages that arrive while it loads are held, and those
 *   newer than the version it read are applied after it, in order;
 * - a local change is applied at once and stays pending until Redis has ordered it (the writer
 *   says how); meanwhile other replicas' messages on that key are older than ours and ignored;
 * - a version that skips (a message lost: the subscriber reconnected, a Cluster node changed), or
 *   the periodic `GET version` finding more than arrived, means a reload: a missed message heals
 *   within about a second.
 *
 * Outages follow redis-store.ts and failover-store.ts: commands never queue in the client; while
 * Redis is unreachable the map works locally, status is `degraded` (logged once), and changes wait
 * in the writer's queue. When Redis is back the queue is written first, then the snapshot loaded,
 * so what was decided during the outage reaches the other replicas and survives the reload; then
 * status is `up`. If Redis came back without the map (its version went back), every replica
 * writes its entries again: decisions in force stay in force.
 */
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { Clock } from "./clock.ts";
import { type LocalStore, LocalView } from "./local-view.ts";
import { connectRedis, type RetryOptions, type StoreLogger, withTimeout } from "./redis-connect.ts";
import type { MapChange, ReplicatedMap } from "./replicated-map.ts";
import {
  type ChangeMessage,
  defineMapCommands,
  type MapClient,
  type MapKeys,
  mapKeys,
  parseChange,
} from "./replicated-map-scripts.ts";
import { pruneIndex, readEntries, readSnapshot, type SnapshotPage } from "./replicated-map-snapshot.ts";
import { MapWriter } from "./replicated-map-writer.ts";
import type { StoreStatus } from "./store.ts";

/**
 * How values are stored: `decode` returns null for anything it does not accept. It is given the
 * entry's key too, so a value that carries its key can share that string rather than hold a copy
 * (a million decisions hold a million ids).
 */
export interface MapCodec<V> {
  encode(value: V): string;
  decode(text: string, key: string): V | null;
}

export interface RedisReplicatedMapOptions<V> {
  /** The `redis` setting (redis-connect.ts lists the forms). */
  url: string;
  /** The `app` setting: the key namespace. */
  app: string;
  /** The map's name within the app, e.g. `decisions`. */
  name: string;
  codec: MapCodec<V>;
  clock: Clock;
  logger?: StoreLogger;
  /** How often the version in Redis is compared with what arrived (default 500 ms; 0: never). */
  versionCheckMs?: number;
  /** How often expired entries are dropped from memory (default 10 s; 0: never). */
  sweepMs?: number;
  /** Write-back queue bound, in keys (default 100 000). */
  maxQueued?: number;
  /** Entries held locally at most (default: no bound); past it the oldest set is forgotten here. */
  maxEntries?: number;
  /**
   * Where entries are kept in this process (default a LocalView, which `maxEntries` bounds). A
   * store that keeps less of a value than it is given is completed by `fetch` from Redis.
   */
  local?: LocalStore<V>;
  /** A command Redis has not answered after this long has failed (default 2000 ms). */
  timeoutMs?: number;
  retry?: RetryOptions;
}

/** Index members per ZSCAN page, and changes per write-back pipeline. */
const CHUNK = 2000;
/** Messages held while a snapshot loads; past this the load is done again rather than grow. */
const MAX_HELD = 200_000;

export class RedisReplicatedMap<V> implements ReplicatedMap<V> {
  /** Each entry carries the load that last confirmed it (or a change since): the others go at the load's end. */
  readonly #view: LocalStore<V>;
  readonly #listeners: ((change: MapChange<V>) => void)[] = [];
  readonly #statusListeners: ((status: StoreStatus) => void)[] = [];
  readonly #codec: MapCodec<V>;
  readonly #clock: Clock;
  readonly #logger: StoreLogger | undefined;
  readonly #keys: MapKeys;
  readonly #name: string;
  readonly #client: MapClient;
  readonly #sub: Redis | Cluster;
  readonly #writer: MapWriter;
  readonly #timeoutMs: number;
  readonly #timers: NodeJS.Timeout[] = [];
  /** This replica's id in messages, to recognise its own echoes. */
  readonly #replica = randomBytes(9).toString("base64url");

  #subscribed = false;
  /** A snapshot has been loaded since the connection was last lost. */
  #session = false;
  /** A (re)load is wanted: connection back, subscriber back, or a missed message. */
  #stale = true;
  #loadedOnce = false;
  /** While a snapshot loads: the messages that arrive meanwhile. */
  #held: ChangeMessage[] | null = null;
  /** Every version up to this one is reflected here. */
  #synced = 0;
  #gen = 0;
  #syncing: Promise<void> | null = null;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = 1000;
  #checking = false;
  #status: StoreStatus = { kind: "redis", status: "degraded", detail: "connecting" };
  #closed = false;

  constructor(options: RedisReplicatedMapOptions<V>) {
    this.#view = options.local ?? new LocalView<V>(options.clock, options.maxEntries);
    this.#codec = options.codec;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#name = options.name;
    this.#keys = mapKeys(options.app, options.name);
    this.#timeoutMs = options.timeoutMs ?? 2000;

    const client = defineMapCommands(connectRedis(options.url, options.retry));
    // Without 'error' listeners an EventEmitter throws: an outage must never crash the process.
    const onCommand = (detail: string) =>
      client.status === "ready" ? void this.#sync() : this.#lost(detail, true);
    client.on("error", (err: Error) => onCommand(err.message));
    client.on("node error", (err: Error) => onCommand(err.message));
    client.on("close", () => onCommand("connection closed"));
    client.on("end", () => onCommand("connection ended"));
    client.on("ready", () => onCommand("ready"));
    this.#client = client;

    this.#writer = new MapWriter({
      client,
      keys: this.#keys,
      replica: this.#replica,
      clock: this.#clock,
      maxQueued: options.maxQueued ?? 100_000,
      chunk: CHUNK,
      timeout: (p) => this.#withTimeout(p),
      onFailure: (err) => this.#writeFailed(err),
      name: this.#name,
      ...(this.#logger ? { logger: this.#logger } : {}),
    });

    // SUBSCRIBE needs a connection of its own, subscribed on every 'ready' (ioredis's own
    // resubscribe is off, see redis-connect.ts): that says when it is done, and the reload covers
    // the gap.
    const sub = connectRedis(options.url, options.retry);
    const onSub = (detail: string) => {
      if (sub.status === "ready") return;
      this.#subscribed = false;
      this.#lost(`subscriber: ${detail}`, false);
    };
    sub.on("error", (err: Error) => onSub(err.message));
    sub.on("node error", (err: Error) => onSub(err.message));
    sub.on("close", () => onSub("connection closed"));
    sub.on("end", () => onSub("connection ended"));
    sub.on("ready", () => {
      sub.subscribe(this.#keys.channel).then(
        () => {
          this.#subscribed = true;
          this.#stale = true;
          void this.#sync();
        },
        (err: Error) => onSub(err.message),
      );
    });
    sub.on("message", (channel: string, message: string) => {
      if (channel === this.#keys.channel) this.#onMessage(message);
    });
    this.#sub = sub;

    const sweepMs = options.sweepMs ?? 10_000;
    const checkMs = options.versionCheckMs ?? 500;
    if (sweepMs > 0) this.#timers.push(setInterval(() => this.sweep(), sweepMs));
    if (checkMs > 0) this.#timers.push(setInterval(() => void this.#checkVersion(), checkMs));
    for (const timer of this.#timers) timer.unref();
  }

  get size(): number {
    return this.#view.size;
  }

  /** Changes dropped from a full write-back queue since start (they never reached Redis). */
  get droppedWrites(): number {
    return this.#writer.dropped;
  }

  get(key: string): V | undefined {
    return this.#view.get(key);
  }

  entries(): IterableIterator<{ key: string; value: V; until: number }> {
    return this.#view.entries();
  }

  set(key: string, value: V, until: number): void {
    if (until <= this.#clock.now()) return;
    this.#view.hold(key, value, until, this.#gen);
    this.#emit({ kind: "set", key, value, until });
    this.#writer.set(key, this.#codec.encode(value), until);
  }

  /** Always sent on, even for a key this replica does not hold: another one may. */
  delete(key: string): boolean {
    const had = this.#view.delete(key);
    if (had) this.#emit({ kind: "delete", key });
    this.#writer.delete(key);
    return had;
  }

  /** Drop expired entries (readers already ignore them; this frees the memory). */
  sweep(): void {
    this.#view.sweep();
  }

  onChange(listener: (change: MapChange<V>) => void): void {
    this.#listeners.push(listener);
  }

  loaded(): boolean {
    return this.#loadedOnce;
  }

  status(): StoreStatus {
    return this.#status;
  }

  onStatusChange(listener: (status: StoreStatus) => void): void {
    this.#statusListeners.push(listener);
  }

  /**
   * The values as Redis holds them, one MGET (every key of a map is in one Cluster slot); null
   * while Redis is not up, or when it does not answer within the command timeout. Never on the
   * request path: the admin API completes what the local store left out.
   */
  async fetch(keys: readonly string[]): Promise<(V | null)[] | null> {
    if (keys.length === 0) return [];
    if (this.#closed || this.#status.status !== "up") return null;
    try {
      const out: (V | null)[] = [];
      for (let from = 0; from < keys.length; from += CHUNK) {
        const part = keys.slice(from, from + CHUNK);
        const texts = await this.#withTimeout(this.#client.mget(part.map((k) => this.#keys.entry + k)));
        part.forEach((key, i) => {
          const text = texts[i];
          out.push(typeof text === "string" ? this.#codec.decode(text, key) : null);
        });
      }
      return out;
    } catch {
      return null;
    }
  }

  /** Waits (at most the command timeout) for changes in flight; changes still queued are lost. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#retry);
    await this.#writer.flush();
    this.#writer.writable = false;
    if (this.#writer.queued > 0)
      this.#logger?.warn(
        { store: "redis", map: this.#name, queued: this.#writer.queued },
        "replicated map closed with changes never written to Redis",
      );
    await Promise.all(
      [this.#client, this.#sub].map(async (c) => {
        try {
          if (c.status === "ready") await this.#withTimeout(c.quit());
        } catch {
          // Closing anyway.
        }
        c.disconnect();
      }),
    );
  }

  // --- changes from the other replicas ---------------------------------------------------------

  #onMessage(message: string): void {
    const change = parseChange(message);
    if (change === null) return;
    if (this.#held === null) return this.#apply(change);
    this.#held.push(change);
    if (this.#held.length > MAX_HELD) {
      // Changes come faster than this load ends: drop them and load again after it.
      this.#held.length = 0;
      this.#stale = true;
    }
  }

  #apply(m: ChangeMessage): void {
    // Already reflected (a message the snapshot overtook). If instead the counter went back
    // (Redis lost its data), the version check finds it and reloads.
    if (m.version <= this.#synced) return;
    if (m.version > this.#synced + 1) this.#reload(`missed versions ${this.#synced + 1}..${m.version - 1}`);
    this.#synced = m.version;
    if (m.replica === this.#replica) return this.#writer.echoed(m.key, m.seq);
    if (this.#writer.isPending(m.key)) return;
    const value = m.op === "s" ? this.#codec.decode(m.value, m.key) : null;
    if (value === null || m.until <= this.#clock.now()) {
      if (this.#view.delete(m.key)) this.#emit({ kind: "delete", key: m.key });
      return;
    }
    this.#view.hold(m.key, value, m.until, this.#gen);
    this.#emit({ kind: "set", key: m.key, value, until: m.until });
  }

  // --- the snapshot ------------------------------------------------------------------------------

  /**
   * In place: entries are replaced as pages come and those the snapshot did not confirm go at the
   * end, so a reload never holds two copies of a large map. The local store is told the index's
   * size first (LocalStore.reserve), so columns are sized once rather than doubled as pages come.
   */
  async #load(): Promise<void> {
    const started = Date.now();
    const gen = ++this.#gen;
    this.#stale = false;
    this.#held = [];
    const timeout = <T>(p: Promise<T>) => this.#withTimeout(p);
    const counts = { skipped: 0 };
    const dangling: string[] = [];
    const passed = new Set<string>();
    try {
      const readVersion = async () => Number(await timeout(this.#client.get(this.#keys.version))) || 0;
      let version = await readVersion();
      if (this.#loadedOnce && version < this.#synced) {
        await this.#reseed(version);
        version = await readVersion();
      }
      const page = (p: SnapshotPage) => this.#takePage(p, gen, passed, dangling, counts);
      await readSnapshot(
        this.#client,
        this.#keys,
        { now: () => this.#clock.now(), count: CHUNK, timeout, size: (n) => this.#view.reserve(n) },
        page,
      );
      // Ours that Redis ordered before `version` are in the snapshot; those the scan passed over
      // while pending are read again: another replica may have written them after us.
      const again = this.#writer.settle(version).filter((key) => passed.has(key));
      for (const key of again) this.#view.confirm(key, -1); // confirmed below, or gone at the sweep
      for (let from = 0; from < again.length; from += CHUNK) {
        const part = again.slice(from, from + CHUNK);
        this.#takePage(await readEntries(this.#client, this.#keys, part, timeout), gen, passed, [], counts);
      }
      this.#view.dropUnconfirmed(gen, (key) => this.#writer.isPending(key));
      this.#synced = version;
      const held = this.#held;
      this.#held = null;
      for (const m of held) if (m.version > this.#synced) this.#apply(m);
      if (this.#client.status === "ready" && this.#subscribed) this.#session = true;
      this.#loadedOnce = true;
      this.#emit({ kind: "reset" });
      const log = { store: "redis", map: this.#name, entries: this.#view.size, version, ...counts };
      this.#logger?.info({ ...log, ms: Date.now() - started }, "replicated map loaded");
      if (counts.skipped > 0)
        this.#logger?.warn(log, "replicated map: stored values that do not decode were skipped");
      if (dangling.length > 0) void pruneIndex(this.#client, this.#keys, dangling);
    } catch (err) {
      this.#held = null;
      this.#stale = true;
      throw err;
    }
  }

  #takePage(
    p: SnapshotPage,
    gen: number,
    passed: Set<string>,
    dangling: string[],
    counts: { skipped: number },
  ) {
    const now = this.#clock.now();
    for (let i = 0; i < p.keys.length; i++) {
      const key = p.keys[i]!;
      if (this.#writer.isPending(key)) {
        // Our own change of it may be newer than what Redis held when we asked.
        this.#view.confirm(key, gen);
        passed.add(key);
        continue;
      }
      const text = p.texts[i];
      const until = p.untils[i]!;
      if (text === null || text === undefined || !(until > now)) {
        if (text === null) dangling.push(key);
        continue;
      }
      const value = this.#codec.decode(text, key);
      if (value === null) counts.skipped++;
      else this.#view.hold(key, value, until, gen);
    }
  }

  /** Redis lost the map (a restart without persistence, a flush): the entries here still stand. */
  async #reseed(version: number): Promise<void> {
    const live = [...this.entries()];
    this.#logger?.warn(
      { store: "redis", map: this.#name, version, previous: this.#synced, entries: live.length },
      "replicated map: Redis lost the map; writing this replica's entries back",
    );
    this.#synced = 0;
    await this.#writer.reseed(
      live.map((e) => ({ key: e.key, encoded: this.#codec.encode(e.value), until: e.until })),
    );
  }

  /** Compare the version in Redis with what arrived; a message still on its way gets 100 ms. */
  async #checkVersion(): Promise<void> {
    if (this.#checking || this.#syncing || this.#status.status !== "up") return;
    this.#checking = true;
    try {
      const gen = this.#gen;
      const version = Number(await this.#withTimeout(this.#client.get(this.#keys.version))) || 0;
      if (gen !== this.#gen || this.#held) return;
      if (version < this.#synced) this.#reload("the map's version went back");
      else if (version > this.#synced) {
        const timer = setTimeout(() => {
          if (gen === this.#gen && !this.#held && this.#synced < version)
            this.#reload(`version ${version} in Redis, ${this.#synced} received`);
        }, 100);
        timer.unref();
      }
    } catch {
      // An outage is reported by the connections' own events; the next check tries again.
    } finally {
      this.#checking = false;
    }
  }

  #reload(reason: string): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#logger?.info({ store: "redis", map: this.#name, reason }, "replicated map out of step: reloading");
    void this.#sync();
  }

  // --- connection and status ---------------------------------------------------------------------

  /** Write back, then load, for as long as either is wanted and Redis is there. */
  #sync(): Promise<void> {
    if (this.#syncing || this.#closed) return this.#syncing ?? Promise.resolve();
    // `finally` runs in a later microtask, so `#syncing` is set before it is cleared.
    const run = this.#syncLoop().finally(() => {
      if (this.#syncing === run) this.#syncing = null;
      this.#refresh();
    });
    this.#syncing = run;
    return run;
  }

  async #syncLoop(): Promise<void> {
    try {
      // Writing back needs only the command connection; loading needs the subscriber too.
      while (!this.#closed && this.#client.status === "ready") {
        if (!this.#writer.writable || this.#writer.queued > 0) {
          const written = await this.#writer.writeBack();
          if (written > 0)
            this.#logger?.info(
              { store: "redis", map: this.#name, written },
              "replicated map: changes written back",
            );
        } else if (this.#stale && this.#subscribed) await this.#load();
        else break;
      }
      clearTimeout(this.#retry);
      this.#retry = undefined;
      this.#retryMs = 1000;
    } catch (err) {
      if (!this.#closed) {
        this.#degrade((err as Error).message);
        if (this.#client.status === "ready") this.#scheduleRetry();
      }
    }
  }

  /** A change failed (it is queued): on a live connection no 'ready' will come, so retry here. */
  #writeFailed(err: Error): void {
    if (this.#closed) return;
    this.#degrade(`Redis failed a change: ${err.message}`);
    if (this.#client.status === "ready") this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#sync();
    }, this.#retryMs);
    this.#retry.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
  }

  /** `commands`: the command connection (changes queue from now on); otherwise the subscriber. */
  #lost(detail: string, commands: boolean): void {
    if (commands) this.#writer.writable = false;
    this.#session = false;
    this.#stale = true;
    this.#degrade(detail);
  }

  #refresh(): void {
    const up =
      !this.#closed &&
      this.#session &&
      this.#writer.writable &&
      this.#subscribed &&
      this.#client.status === "ready";
    if (!up || this.#status.status === "up") return;
    this.#status = { kind: "redis", status: "up" };
    this.#logger?.info({ store: "redis", map: this.#name }, "replicated map in step with Redis");
    for (const listener of this.#statusListeners) listener(this.#status);
  }

  #degrade(detail: string): void {
    if (this.#closed) return;
    // Logged once per outage (ioredis reports every failed reconnection); the first outage is
    // "not connected yet", which no listener needs to hear of.
    if (this.#status.status === "degraded") {
      if (this.#status.detail !== "connecting") return;
      this.#status = { kind: "redis", status: "degraded", detail };
      this.#logger?.warn({ store: "redis", map: this.#name, detail }, "replicated map: Redis unreachable");
      return;
    }
    this.#status = { kind: "redis", status: "degraded", detail };
    this.#logger?.warn({ store: "redis", map: this.#name, detail }, "replicated map: Redis unreachable");
    for (const listener of this.#statusListeners) listener(this.#status);
  }

  #emit(change: MapChange<V>): void {
    for (const listener of this.#listeners) listener(change);
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.#timeoutMs);
  }
}
