/**
 * Redis while it answers, this process' memory while it does not, and a merge in between.
 *
 * - Up: batches go to Redis. A batch that fails (connection lost, Redis not answering, a
 *   Redis error) is answered by the MemoryStore instead: the hits Redis did answer keep their
 *   answers, the others are counted locally, so no hit is lost and none is answered twice.
 *   Status turns `degraded` and the listeners hear of it.
 * - Degraded: every batch is counted locally, at memory speed.
 * - Back: when Redis is ready again (its `ready` event, or a probe when the connection never
 *   dropped), the local windows and histories are merged into Redis, the memory is cleared and
 *   status turns `up`. Batches arriving meanwhile wait for the merge, which is one pipeline: a
 *   hit counted locally after the snapshot and then cleared would be lost.
 *
 * During an outage each replica counts only its own events; attacks it decides stand, and are
 * not decided again when the counts are merged (docs/operations.md, "Shared store and Redis
 * outages").
 */
import type { MemoryStore, StoreState } from "./memory-store.ts";
import type { StoreLogger } from "./redis-connect.ts";
import type { HitResult, Store, StoreStatus, WindowHit } from "./store.ts";

/** What FailoverStore needs of the shared store: RedisStore, or a fake in tests. */
export interface SharedStore extends Store {
  merge(state: StoreState): Promise<void>;
}

export interface FailoverStoreOptions {
  logger?: StoreLogger;
  /** Probe interval when Redis answers errors on a live connection (doubling, capped at 30 s). */
  probeMs?: number;
}

export class FailoverStore implements Store {
  readonly #redis: SharedStore;
  readonly #memory: MemoryStore;
  readonly #logger: StoreLogger | undefined;
  readonly #listeners: ((status: StoreStatus) => void)[] = [];
  readonly #probeMs: number;
  #status: StoreStatus;
  #merging: Promise<void> | null = null;
  #probe: NodeJS.Timeout | undefined;
  #probeDelay: number;
  #closed = false;

  constructor(redis: SharedStore, memory: MemoryStore, options: FailoverStoreOptions = {}) {
    this.#redis = redis;
    this.#memory = memory;
    this.#logger = options.logger;
    this.#probeMs = options.probeMs ?? 1000;
    this.#probeDelay = this.#probeMs;
    const initial = redis.status();
    this.#status =
      initial.status === "up"
        ? { kind: "redis", status: "up" }
        : { kind: "redis", status: "degraded", detail: initial.detail ?? "Redis is not connected yet" };
    redis.onStatusChange((s) => {
      if (s.status === "up") void this.#reconcile();
      else this.#degrade(s.detail ?? "Redis is unreachable");
    });
  }

  async hit(hits: readonly WindowHit[]): Promise<HitResult[]> {
    while (this.#merging) await this.#merging;
    if (this.#status.status === "degraded") return this.#memory.hitNow(hits);
    let answered: (HitResult | undefined)[] = [];
    try {
      return await this.#redis.hit(hits);
    } catch (err) {
      answered = (err as { answered?: (HitResult | undefined)[] }).answered ?? [];
      this.#degrade(err instanceof Error ? err.message : String(err));
    }
    const rest = hits.filter((_, i) => answered[i] === undefined);
    // A merge may have started while Redis was failing us: the rest goes wherever `hit` sends it now.
    const local = this.#merging ? await this.hit(rest) : await this.#route(rest);
    let next = 0;
    return hits.map((_, i) => answered[i] ?? local[next++]!);
  }

  status(): StoreStatus {
    return this.#status;
  }

  onStatusChange(listener: (status: StoreStatus) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#probe);
    await this.#merging?.catch(() => {});
    await Promise.all([this.#redis.close(), this.#memory.close()]);
  }

  /** Synchronously to memory when degraded, so no await separates the check from the count. */
  #route(hits: readonly WindowHit[]): Promise<HitResult[]> {
    if (this.#status.status === "degraded" || this.#closed) return Promise.resolve(this.#memory.hitNow(hits));
    return this.hit(hits);
  }

  #degrade(detail: string): void {
    if (this.#closed) return;
    if (this.#status.status === "degraded") return;
    // Not logged here: listeners hear of it (the app logs status changes), and RedisStore logs
    // connection losses itself, once each.
    this.#set({ kind: "redis", status: "degraded", detail });
    // The connection may still be up (Redis answered with an error, or too slowly): then no
    // 'ready' event will come, so look again ourselves.
    if (this.#redis.status().status === "up") this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probe) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      void this.#reconcile();
    }, this.#probeDelay).unref();
    this.#probeDelay = Math.min(this.#probeDelay * 2, 30_000);
  }

  #reconcile(): Promise<void> {
    if (this.#closed || this.#status.status === "up") return Promise.resolve();
    if (this.#merging) return this.#merging;
    // Taken synchronously: every local count made before this line is in the snapshot, and
    // hits after it wait for `#merging`.
    const state = this.#memory.exportState();
    this.#merging = this.#redis
      .merge(state)
      .then(
        () => {
          this.#memory.clear();
          this.#probeDelay = this.#probeMs;
          this.#set({ kind: "redis", status: "up" });
          this.#logger?.info(
            { store: "redis", windows: state.windows.length, histories: state.histories.length },
            "shared store back: local counts merged",
          );
        },
        (err: unknown) => {
          this.#set({ ...this.#status, detail: err instanceof Error ? err.message : String(err) }, false);
          if (this.#redis.status().status === "up") this.#scheduleProbe();
        },
      )
      .finally(() => {
        this.#merging = null;
      });
    return this.#merging;
  }

  #set(status: StoreStatus, notify = true): void {
    this.#status = status;
    if (notify) for (const listener of this.#listeners) listener(status);
  }
}
