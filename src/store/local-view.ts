/**
 * The in-process half of a ReplicatedMap, shared by both implementations. `LocalStore` is what a
 * map needs of it; `LocalView` is the general one: every live entry in a Map, expiry judged by
 * the injected clock as entries are read (and swept to free memory), and an optional bound that
 * forgets the oldest set first. A map whose values have a known shape may bring a store of its
 * own instead: decisions are held in columns by the decision index (src/enforce/decision-index.ts),
 * so that a million of them fit in a few hundred megabytes.
 */
import type { Clock } from "./clock.ts";
import { OldestFirst } from "./oldest-first.ts";

/**
 * Where a map keeps its entries. `gen` is the snapshot load that last confirmed an entry (or a
 * change since); a reload drops what it did not confirm. A store may keep less of a value than
 * it was given (say so where it is made): `get` and `entries` return what it kept.
 */
export interface LocalStore<V> {
  /** Entries held, expired ones included until swept. */
  readonly size: number;
  /** The live value, or undefined when absent or expired. */
  get(key: string): V | undefined;
  /** Every live entry. */
  entries(): IterableIterator<{ key: string; value: V; until: number }>;
  /** Keep `value` for `key` until `until`, confirmed by load `gen`. */
  hold(key: string, value: V, until: number, gen: number): void;
  delete(key: string): boolean;
  /** Drop expired entries (readers already ignore them; this frees the memory). */
  sweep(): void;
  /** Set the generation of `key` if it is held. */
  confirm(key: string, gen: number): void;
  /** Drop every entry whose generation is not `gen`, except those `keep` says to keep. */
  dropUnconfirmed(gen: number, keep: (key: string) => boolean): void;
  /**
   * About `entries` are about to be held (a snapshot's size, read before its first page): a store
   * that grows in steps may make room once rather than step by step. A hint, never a bound.
   */
  reserve(entries: number): void;
}

interface Slot<V> {
  value: V;
  until: number;
  gen: number;
}

export class LocalView<V> implements LocalStore<V> {
  readonly #slots = new Map<string, Slot<V>>();
  readonly #clock: Clock;
  readonly #max: number;
  readonly #order: OldestFirst<string, Slot<V>> | null;

  constructor(clock: Clock, maxEntries?: number) {
    this.#clock = clock;
    this.#max = maxEntries ?? Number.POSITIVE_INFINITY;
    this.#order = maxEntries === undefined ? null : new OldestFirst();
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The live value, or undefined when absent or expired (an expired entry is dropped). */
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

  /** Keep `value` for `key` as the newest entry; past the bound the oldest is forgotten. */
  hold(key: string, value: V, until: number, gen: number): void {
    const slot = { value, until, gen };
    if (this.#order === null) {
      this.#slots.set(key, slot);
      return;
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    this.#order.push(key, slot);
    this.#order.trim(this.#slots, this.#max);
  }

  delete(key: string): boolean {
    return this.#slots.delete(key);
  }

  sweep(): void {
    const now = this.#clock.now();
    for (const [key, slot] of this.#slots) if (slot.until <= now) this.#slots.delete(key);
  }

  confirm(key: string, gen: number): void {
    const slot = this.#slots.get(key);
    if (slot) slot.gen = gen;
  }

  dropUnconfirmed(gen: number, keep: (key: string) => boolean): void {
    for (const [key, slot] of this.#slots) if (slot.gen !== gen && !keep(key)) this.#slots.delete(key);
  }

  reserve(_entries: number): void {
    // A Map cannot be sized ahead; it grows as it must.
  }
}
