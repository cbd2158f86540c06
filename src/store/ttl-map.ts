/**
 * A bounded map whose entries expire: at most `maxEntries`, each for `ttlMs` after it was set.
 * Insertion order is expiry order (every entry gets the same TTL, and `set` moves a key to the
 * end), so evicting the oldest and sweeping the expired both work from the head of a Map:
 * O(1) amortised, no timers per entry, memory bounded whatever the traffic.
 */
import type { Clock } from "./clock.ts";

export class TtlMap<K, V> {
  readonly #entries = new Map<K, { value: V; expires: number }>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  #evicted = 0;

  constructor(options: { maxEntries: number; ttlMs: number; clock: Clock }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
  }

  set(key: K, value: V): void {
    const now = this.#clock.now();
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires: now + this.#ttlMs });
    this.#sweep(now);
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Entries dropped because the map was full before they expired. */
  get evicted(): number {
    return this.#evicted;
  }

  #sweep(now: number): void {
    // Drop from the head: expired entries, then the oldest while over the bound.
    for (const [key, entry] of this.#entries) {
      if (entry.expires <= now) {
        this.#entries.delete(key);
      } else if (this.#entries.size > this.#maxEntries) {
        this.#entries.delete(key);
        this.#evicted++;
      } else {
        break;
      }
    }
  }
}
