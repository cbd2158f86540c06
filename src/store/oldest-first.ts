/**
 * Forgetting the oldest entries of a Map that has a bound, in O(1) amortised. Not with
 * `map.keys().next()`: V8 keeps deleted Map slots until it rehashes, so after many deletions at
 * the head finding the first live key costs a walk over all of them, and a bounded map at its
 * bound deletes at the head on every insert. Instead a FIFO of (key, slot) with a moving head;
 * an entry set again is queued again, and its stale queue record is skipped.
 */
export class OldestFirst<K, S> {
  #keys: K[] = [];
  #slots: S[] = [];
  #head = 0;

  /** Queue records held, stale ones included: at most about twice the bound. */
  get queued(): number {
    return this.#keys.length - this.#head;
  }

  /** Record that `key` now holds `slot` (call after every set). */
  push(key: K, slot: S): void {
    this.#keys.push(key);
    this.#slots.push(slot);
  }

  /** Delete the oldest entries of `map` until it holds at most `max`. */
  trim(map: Map<K, S>, max: number): void {
    while (map.size > max && this.#head < this.#keys.length) {
      const key = this.#keys[this.#head]!;
      const slot = this.#slots[this.#head]!;
      this.#head++;
      // Only the record of the entry as it is now counts; older records of a key set again do not.
      if (map.get(key) === slot) map.delete(key);
    }
    if (this.#keys.length - this.#head > 2 * max + 1024) {
      // Mostly stale records (keys set again, entries expired): the map's own order is the truth,
      // since every set deletes and re-inserts, so rebuild from it.
      this.#keys = [];
      this.#slots = [];
      for (const [key, slot] of map) this.push(key, slot);
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#keys.length) {
      this.#keys = this.#keys.slice(this.#head);
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
  }
}
