/**
 * The in-process half of a ReplicatedMap, shared by both implementations: every live entry in a
 * Map, expiry judged by the injected clock as entries are read (and swept to free memory), and
 * an optional bound that forgets the oldest set first.
 */
import type { Clock } from "./clock.ts";
import { OldestFirst } from "./oldest-first.ts";

export interface LocalSlot<V> {
  value: V;
  until: number;
}

export class LocalView<V, S extends LocalSlot<V> = LocalSlot<V>> {
  /** The entries, expired ones included until swept; for implementations that walk them. */
  readonly slots = new Map<string, S>();
  readonly #clock: Clock;
  readonly #max: number;
  readonly #order: OldestFirst<string, S> | null;

  constructor(clock: Clock, maxEntries?: number) {
    this.#clock = clock;
    this.#max = maxEntries ?? Number.POSITIVE_INFINITY;
    this.#order = maxEntries === undefined ? null : new OldestFirst();
  }

  get size(): number {
    return this.slots.size;
  }

  /** The live value, or undefined when absent or expired (an expired entry is dropped). */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.until <= this.#clock.now()) {
      this.slots.delete(key);
      return undefined;
    }
    return slot.value;
  }

  *entries(): IterableIterator<{ key: string; value: V; until: number }> {
    const now = this.#clock.now();
    for (const [key, slot] of this.slots) {
      if (slot.until > now) yield { key, value: slot.value, until: slot.until };
    }
  }

  /** Keep `slot` for `key` as the newest entry; past the bound the oldest is forgotten. */
  hold(key: string, slot: S): void {
    if (this.#order === null) {
      this.slots.set(key, slot);
      return;
    }
    this.slots.delete(key);
    this.slots.set(key, slot);
    this.#order.push(key, slot);
    this.#order.trim(this.slots, this.#max);
  }

  delete(key: string): boolean {
    return this.slots.delete(key);
  }

  /** Drop expired entries (readers already ignore them; this frees the memory). */
  sweep(): void {
    const now = this.#clock.now();
    for (const [key, slot] of this.slots) if (slot.until <= now) this.slots.delete(key);
  }
}
