/**
 * A bounded map whose entries expire: at most `maxEntries`, each for `ttlMs` after it was set.
 *
 * Entries live in a Map for lookup; a FIFO of (key, entry) records insertion order, which is
 * expiry order because every entry gets the same TTL. Expired and over-bound entries are dropped
 * from the FIFO's head as new ones arrive: O(1) amortised, no timers, and no iteration over the
 * Map itself (V8 keeps deleted Map slots until it rehashes, so walking a Map from its head after
 * many deletions costs time proportional to everything deleted before).
 */
import type { Clock } from "./clock.ts";

interface Entry<V> {
  value: V;
  expires: number;
}

export class TtlMap<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  // The FIFO, as parallel arrays with a moving head; compacted when the head passes half.
  #keys: K[] = [];
  #slots: Entry<V>[] = [];
  #head = 0;
  #evicted = 0;

  constructor(options: { maxEntries: number; ttlMs: number; clock: Clock }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
  }

  set(key: K, value: V): void {
    const now = this.#clock.now();
    const entry = { value, expires: now + this.#ttlMs };
    this.#entries.set(key, entry);
    this.#keys.push(key);
    this.#slots.push(entry);
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
    const keys = this.#keys;
    const slots = this.#slots;
    // A key set again has a newer entry later in the FIFO; its old slot is stale and only dropped.
    // The FIFO may hold stale slots, but never more than as many again as the bound.
    while (this.#head < keys.length) {
      const slot = slots[this.#head]!;
      const key = keys[this.#head]!;
      const live = this.#entries.get(key) === slot;
      const overBound =
        this.#entries.size > this.#maxEntries || keys.length - this.#head > 2 * this.#maxEntries;
      if (!live) {
        // stale: drop it
      } else if (slot.expires <= now) {
        this.#entries.delete(key);
      } else if (overBound) {
        this.#entries.delete(key);
        this.#evicted++;
      } else {
        break;
      }
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > keys.length) {
      this.#keys = keys.slice(this.#head);
      this.#slots = slots.slice(this.#head);
      this.#head = 0;
    }
  }
}
