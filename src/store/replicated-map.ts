/**
 * A map every replica holds whole in memory and that replicas keep in step (STYLE pattern 8:
 * snapshot on start, deltas after, local reads per request). Decisions (keyed by id) and
 * session → user bindings (keyed by session hash) are two of them. Reads never do I/O: the
 * request path calls `get`, and enforcement rebuilds its index from `onChange`.
 *
 * Every entry has an expiry (`until`, ms since the epoch): it is gone for readers from then on,
 * and the shared copy carries it as a TTL. `set` and `delete` apply locally at once, then reach
 * the shared store and every other replica; while the shared store is unreachable they are kept
 * and written back when it returns. This file has the interface and the in-memory implementation
 * (one process); redis-replicated-map.ts shares one through Redis.
 */
import type { Clock } from "./clock.ts";
import { type LocalStore, LocalView } from "./local-view.ts";
import type { StoreStatus } from "./store.ts";

export type MapChange<V> =
  | { kind: "set"; key: string; value: V; until: number }
  | { kind: "delete"; key: string }
  /** The whole map was replaced (a snapshot loaded): re-read `entries()`. */
  | { kind: "reset" };

export interface ReplicatedMap<V> {
  /** The live value, or undefined when absent or expired. No I/O. */
  get(key: string): V | undefined;
  /** Every live entry. */
  entries(): IterableIterator<{ key: string; value: V; until: number }>;
  readonly size: number;
  set(key: string, value: V, until: number): void;
  delete(key: string): boolean;
  /** Local and remote changes alike; expiry is not announced (readers compare `until`). */
  onChange(listener: (change: MapChange<V>) => void): void;
  /** Whether the full shared state has been loaded at least once (always true in memory). */
  loaded(): boolean;
  status(): StoreStatus;
  onStatusChange(listener: (status: StoreStatus) => void): void;
  /**
   * The values as stored in the shared store, for maps whose local store keeps less of them
   * (null for a key absent there); null when the shared store cannot answer now. Absent on maps
   * with nothing shared: their local values are whole.
   */
  fetch?(keys: readonly string[]): Promise<(V | null)[] | null>;
  close(): Promise<void>;
}

/** One process's map: expiry by the injected clock, and an optional bound (LocalView). */
export class MemoryReplicatedMap<V> implements ReplicatedMap<V> {
  readonly #view: LocalStore<V>;
  readonly #listeners: ((change: MapChange<V>) => void)[] = [];
  readonly #clock: Clock;
  readonly #timer: NodeJS.Timeout | null;

  /** `local`: where entries are kept (default a LocalView; `maxEntries` bounds only that). */
  constructor(options: { clock: Clock; sweepMs?: number; maxEntries?: number; local?: LocalStore<V> }) {
    this.#clock = options.clock;
    this.#view = options.local ?? new LocalView<V>(options.clock, options.maxEntries);
    const sweepMs = options.sweepMs ?? 10_000;
    this.#timer = sweepMs > 0 ? setInterval(() => this.sweep(), sweepMs) : null;
    this.#timer?.unref();
  }

  get size(): number {
    return this.#view.size;
  }

  get(key: string): V | undefined {
    return this.#view.get(key);
  }

  entries(): IterableIterator<{ key: string; value: V; until: number }> {
    return this.#view.entries();
  }

  set(key: string, value: V, until: number): void {
    if (until <= this.#clock.now()) return;
    this.#view.hold(key, value, until, 0);
    this.#emit({ kind: "set", key, value, until });
  }

  delete(key: string): boolean {
    const had = this.#view.delete(key);
    if (had) this.#emit({ kind: "delete", key });
    return had;
  }

  sweep(): void {
    this.#view.sweep();
  }

  onChange(listener: (change: MapChange<V>) => void): void {
    this.#listeners.push(listener);
  }

  loaded(): boolean {
    return true;
  }

  status(): StoreStatus {
    return { kind: "memory", status: "up" };
  }

  onStatusChange(): void {
    // An in-memory map never changes status.
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
  }

  #emit(change: MapChange<V>): void {
    for (const listener of this.#listeners) listener(change);
  }
}
