/**
 * The `throttle` action's accounting: at most `rate.count` requests of one key in each fixed
 * window of `rate.perMs`, windows aligned to the epoch (a 10/m window is a clock minute).
 * `take` is synchronous and does no I/O: it is on the request path.
 *
 * Alone (no Redis, or Redis unreachable) the count is exact: the (count+1)th request of a
 * window is refused, and Retry-After is the seconds until the window ends, when it would pass.
 *
 * Shared (src/store/rate-sync.ts), a replica admits only what it has claimed through Redis: at
 * each sync it reports what it admitted, gives back what it will not need and asks for about
 * 1.5 times its demand of the last interval, granted out of what no replica has claimed. The next
 * window is claimed just before it starts. A refusal while the window has budget claimed
 * elsewhere says Retry-After: 1 (claims are given back or granted within a sync); a refusal
 * because the window is used up says when it ends.
 * docs/operations.md, "Throttling across replicas", has the reasoning and the bounds.
 */
import { createHash } from "node:crypto";
import type { Rate } from "../config/units.ts";
import type { RateClaim, RateGrant, RateLedger } from "../store/rate-sync.ts";

export interface RateLimiter {
  /** Count one request of `key` against `rate` at `now`; 0 when allowed, else the seconds until it would be (for Retry-After, ≥ 1). Synchronous, no I/O. */
  take(key: string, rate: Rate, now: number): number;
  /** Forget keys no request used for a while (called by its owner). */
  sweep(now: number): void;
  close(): Promise<void>;
}

export interface LocalRateLimiterOptions {
  /** Distinct keys held at most (default 100 000); past it the least recently active goes. */
  maxKeys?: number;
  /** How long a key keeps a claim of 1 after its last request, so the next one passes at once. */
  idleMs?: number;
}

interface Entry {
  key: string;
  perMs: number;
  count: number;
  window: number;
  /** Admitted here in this window. */
  used: number;
  /** Claimed through Redis and not used yet: what this replica may still admit (when shared). */
  allowance: number;
  /** Admitted by the other replicas in this window, as Redis last said. */
  othersUsed: number;
  /** `used` as last sent; -1 when Redis may not have it. */
  sentUsed: number;
  /** Requests (admitted or not) since the last sync: what the next claim is sized by. */
  demand: number;
  /** The window claimed ahead, and what was granted there. */
  nextWindow: number;
  nextAllowance: number;
  lastTake: number;
  /** Its latest slot in the eviction queue. */
  slot: number;
}

type Claim = RateClaim & { entry: Entry };

/** Keys up to this length are kept as they are; longer ones by their SHA-256. */
const MAX_KEY_LENGTH = 200;
/** Claims per sync; more wait for the next. */
const MAX_BATCH = 5000;
/**
 * What a replica admits of a window it has no claim on yet (a key it has not seen lately):
 * one request, so an actor is not refused before the first sync, and replicas that guess
 * cannot together overrun a window others have claimed by more than one request each.
 */
const FIRST = 1;

export class LocalRateLimiter implements RateLimiter, RateLedger {
  readonly #entries = new Map<string, Entry>();
  /** Entries a sync should look at: requested lately, or holding a claim to give back. */
  readonly #dirty = new Set<Entry>();
  readonly #maxKeys: number;
  readonly #idleMs: number;
  // Eviction order: an entry is queued when created and again when its window rolls over, so
  // the head is the least recently active. Parallel arrays with a moving head: walking a Map
  // from its head after many deletions is slow in V8 (it keeps deleted slots until it rehashes).
  #queueEntries: Entry[] = [];
  #queueSlots: number[] = [];
  #head = 0;
  #nextSlot = 0;
  #evicted = 0;
  #shared = false;

  constructor(options: LocalRateLimiterOptions = {}) {
    this.#maxKeys = Math.max(1, options.maxKeys ?? 100_000);
    this.#idleMs = options.idleMs ?? 1000;
  }

  take(key: string, rate: Rate, now: number): number {
    const count = Math.max(0, Math.floor(rate.count));
    const perMs = Math.max(1, Math.floor(rate.perMs));
    const e = this.#entry(boundedKey(key), perMs, Math.floor(now / perMs));
    e.count = count;
    e.lastTake = now;
    e.demand++;
    this.#dirty.add(e);
    const known = e.othersUsed + e.used;
    if (known < count && (!this.#shared || e.allowance >= 1)) {
      e.used++;
      e.allowance = Math.max(0, e.allowance - 1);
      return 0;
    }
    if (known < count) return 1;
    return Math.max(1, Math.ceil(((e.window + 1) * perMs - now) / 1000));
  }

  sweep(now: number): void {
    for (const [key, e] of this.#entries) {
      const current = Math.floor(now / e.perMs);
      if (e.window < current && e.nextWindow < current) this.#remove(key, e);
    }
    this.#compact(true);
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#dirty.clear();
    this.#queueEntries = [];
    this.#queueSlots = [];
    this.#head = 0;
  }

  /** Distinct keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Keys dropped because the limiter was full, since it started. */
  get evicted(): number {
    return this.#evicted;
  }

  collect(now: number, horizonMs: number, closing = false): readonly RateClaim[] {
    const out: Claim[] = [];
    for (const e of this.#dirty) {
      if (out.length >= MAX_BATCH) break;
      const current = Math.floor(now / e.perMs);
      // A window claimed ahead has started with no request yet: move to it, to give back in time.
      if (e.window < current && e.nextWindow === current) this.#roll(e, current);
      if (e.window !== current) {
        this.#dirty.delete(e);
        continue;
      }
      if (closing) {
        // Going away: give every claim back, so the others can admit it.
        out.push(this.#claim(e, e.window, e.used, 0, 0));
        if (e.nextWindow === e.window + 1) out.push(this.#claim(e, e.nextWindow, 0, 0, 0));
        continue;
      }
      const recent = now - e.lastTake < this.#idleMs;
      const target = e.demand > 0 ? Math.ceil(1.5 * e.demand) + 1 : recent ? 1 : 0;
      e.demand = 0;
      const spent = e.othersUsed + e.used >= e.count;
      const hold = Math.min(e.allowance, target);
      const want = spent ? 0 : target - hold;
      if (want > 0 || hold < e.allowance || e.sentUsed !== e.used) {
        e.allowance = hold;
        e.sentUsed = e.used;
        out.push(this.#claim(e, e.window, e.used, hold, want));
      } else if (!recent) {
        this.#dirty.delete(e);
      }
      const ahead = (e.window + 1) * e.perMs - now <= horizonMs;
      if (ahead && target > 0 && e.nextWindow !== e.window + 1) {
        e.nextWindow = e.window + 1;
        e.nextAllowance = 0;
        out.push(this.#claim(e, e.window + 1, 0, 0, target));
      }
    }
    return out;
  }

  settle(claims: readonly RateClaim[], grants: readonly (RateGrant | null)[]): void {
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i] as Claim;
      const e = c.entry;
      if (e.perMs !== c.perMs || this.#entries.get(e.key) !== e) continue;
      const g = grants[i];
      if (c.window === e.window) {
        if (!g) {
          e.sentUsed = -1;
          this.#dirty.add(e);
          continue;
        }
        e.allowance += g.extra;
        e.othersUsed = Math.max(0, g.used - c.used);
      } else if (c.window === e.nextWindow && c.window === e.window + 1) {
        if (g) e.nextAllowance += g.extra;
        else e.nextWindow = -1;
      }
      // Otherwise the answer is about a window this replica has left.
    }
  }

  setShared(shared: boolean): void {
    this.#shared = shared;
  }

  #claim(e: Entry, window: number, used: number, hold: number, want: number): Claim {
    return { key: e.key, perMs: e.perMs, window, count: e.count, used, hold, want, entry: e };
  }

  #entry(key: string, perMs: number, window: number): Entry {
    const e = this.#entries.get(key);
    // A request stamped before the key's window (clocks differ slightly) counts in that window.
    if (e && e.perMs === perMs && e.window >= window) return e;
    if (e) {
      if (e.perMs !== perMs) e.nextWindow = -1;
      e.perMs = perMs;
      this.#roll(e, window);
      return e;
    }
    while (this.#entries.size >= this.#maxKeys && this.#evictOne()) this.#evicted++;
    const fresh = { key, perMs, demand: 0, lastTake: 0, nextWindow: -1, nextAllowance: 0 } as Entry;
    this.#roll(fresh, window);
    this.#entries.set(key, fresh);
    return fresh;
  }

  /** A new window: nothing admitted yet, and what was claimed ahead for it, if anything. */
  #roll(e: Entry, window: number): void {
    e.window = window;
    e.used = 0;
    e.othersUsed = 0;
    e.sentUsed = 0;
    e.allowance = e.nextWindow === window ? e.nextAllowance : FIRST;
    e.nextWindow = -1;
    e.nextAllowance = 0;
    this.#enqueue(e);
  }

  #remove(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#dirty.delete(e);
  }

  #enqueue(e: Entry): void {
    e.slot = this.#nextSlot++;
    this.#queueEntries.push(e);
    this.#queueSlots.push(e.slot);
    this.#compact(false);
  }

  /** Drop the least recently active entry; false when the queue holds none. */
  #evictOne(): boolean {
    while (this.#head < this.#queueEntries.length) {
      const e = this.#queueEntries[this.#head]!;
      const slot = this.#queueSlots[this.#head]!;
      this.#head++;
      if (e.slot === slot && this.#entries.get(e.key) === e) {
        this.#remove(e.key, e);
        return true;
      }
    }
    return false;
  }

  /** Keep the queue within a constant factor of the live entries: stale slots are dropped. */
  #compact(force: boolean): void {
    const length = this.#queueEntries.length - this.#head;
    if (!force && length <= 2 * this.#entries.size + 1024) return;
    const entries: Entry[] = [];
    const slots: number[] = [];
    for (let i = this.#head; i < this.#queueEntries.length; i++) {
      const e = this.#queueEntries[i]!;
      if (e.slot === this.#queueSlots[i] && this.#entries.get(e.key) === e) {
        entries.push(e);
        slots.push(e.slot);
      }
    }
    this.#queueEntries = entries;
    this.#queueSlots = slots;
    this.#head = 0;
  }
}

/**
 * Bounded in memory and in Redis key length, whatever a hostile actor value looks like. A key
 * that starts with `#` is hashed too, so no key can pass for another's hash.
 */
function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH && !key.startsWith("#")) return key;
  return `#${createHash("sha256").update(key).digest("base64url")}`;
}
