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
import { OldestFirst } from "./oldest-first.ts";
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
  close(): Promise<void>;
}

interface Slot<V> {
  value: V;
  until: number;
}

/**
 * One process's map: expiry by the injected clock, swept as it is read and every `sweepMs`; at
 * most `maxEntries` (default: no bound), the oldest set forgotten first.
 */
export class MemoryReplicatedMap<V> implements ReplicatedMap<V> {
  readonly #slots = new Map<string, Slot<V>>();
  readonly #maxEntries: number;
  /** Insertion order, kept only when the map has a bound. */
  readonly #order: OldestFirst<string, Slot<V>> | null;
  readonly #listeners: ((change: MapChange<V>) => void)[] = [];
  readonly #clock: Clock;
  readonly #timer: NodeJS.Timeout | null;

  constructor(options: { clock: Clock; sweepMs?: number; maxEntries?: number }) {
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.#order = options.maxEntries === undefined ? null : new OldestFirst();
    const sweepMs = options.sweepMs ?? 10_000;
    this.#timer = sweepMs > 0 ? setInterval(() => this.sweep(), sweepMs) : null;
    this.#timer?.unref();
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.until <= this.#clock.now()) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot.value;
  }

  *entries(): IterableIterator<{ key: string; value: V; until: number }> {
    const now = this.#clock.now();
    for (const [key, slot] of this.#slots) {
      if (slot.until > now) yield { key, value: slot.value, until: slot.until };
    }
  }

  set(key: string, value: V, until: number): void {
    if (until <= this.#clock.now()) return;
    const slot = { value, until };
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    if (this.#order) {
      this.#order.push(key, slot);
      this.#order.trim(this.#slots, this.#maxEntries);
    }
    this.#emit({ kind: "set", key, value, until });
  }

  delete(key: string): boolean {
    const had = this.#slots.delete(key);
    if (had) this.#emit({ kind: "delete", key });
    return had;
  }

  /** Drop expired entries (readers already ignore them; this frees the memory). */
  sweep(): void {
    const now = this.#clock.now();
    for (const [key, slot] of this.#slots) if (slot.until <= now) this.#slots.delete(key);
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
