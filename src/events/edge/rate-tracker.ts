/**
 * Per-actor counting for edge detection (UT2, AE3, failed logins before a success). Local to this
 * replica and bounded in memory: these feed detection events, and the events are what is counted
 * across replicas (by the policy engine, in the store). Nothing here does I/O.
 */

/** Actors one tracker holds at once; past it, new actors are not tracked until a window turns over. */
export const MAX_TRACKED = 50_000;

interface Slot {
  count: number;
  /** This window already raised its event. */
  fired: boolean;
}

/**
 * A sliding-window rate estimate per key, in the classic two-window form: the current fixed
 * window's count plus the previous window's, weighted by how much of it still overlaps the
 * sliding window. Two maps, swapped as windows turn over; O(1) per hit, no timers.
 */
export class SlidingCounter {
  readonly #windowMs: number;
  readonly #max: number;
  #index = Number.NEGATIVE_INFINITY;
  #current = new Map<string, Slot>();
  #previous = new Map<string, Slot>();

  constructor(windowMs: number, max = MAX_TRACKED) {
    this.#windowMs = windowMs;
    this.#max = max;
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /**
   * Count one hit for `key` at `now`. Returns the estimated hits in the sliding window ending now
   * (this one included), and whether this window already fired; 0 for an untracked key.
   */
  hit(key: string, now: number): { rate: number; slot: Slot | null } {
    const index = Math.floor(now / this.#windowMs);
    if (index !== this.#index) {
      this.#previous = index === this.#index + 1 ? this.#current : new Map();
      this.#current = new Map();
      this.#index = index;
    }
    let slot = this.#current.get(key);
    if (slot === undefined) {
      if (this.#current.size >= this.#max) return { rate: 0, slot: null };
      slot = { count: 0, fired: false };
      this.#current.set(key, slot);
    }
    slot.count++;
    const into = (now - index * this.#windowMs) / this.#windowMs;
    const before = this.#previous.get(key)?.count ?? 0;
    return { rate: slot.count + before * (1 - into), slot };
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}

/**
 * The times of each key's most recent failures (at most `keep` of them), least recently failed
 * key evicted first once `max` keys are held.
 */
export class FailureLog {
  readonly #keep: number;
  readonly #max: number;
  readonly #times = new Map<string, number[]>();

  constructor(keep: number, max = MAX_TRACKED) {
    this.#keep = keep;
    this.#max = max;
  }

  /** Failures kept per key. */
  get keep(): number {
    return this.#keep;
  }

  add(key: string, now: number): void {
    if (this.#keep === 0) return;
    let times = this.#times.get(key);
    if (times === undefined) {
      if (this.#times.size >= this.#max) this.#times.delete(this.#times.keys().next().value!);
      times = [];
    } else {
      // Re-inserted, so Map order stays least recently failed first.
      this.#times.delete(key);
    }
    times.push(now);
    if (times.length > this.#keep) times.shift();
    this.#times.set(key, times);
  }

  /** Failures of `key` within `windowMs` before `now`. */
  count(key: string, now: number, windowMs: number): number {
    const times = this.#times.get(key);
    if (times === undefined) return 0;
    let n = 0;
    for (const t of times) if (now - t <= windowMs) n++;
    return n;
  }

  clear(key: string): void {
    this.#times.delete(key);
  }

  get size(): number {
    return this.#times.size;
  }
}
