/**
 * What a route's responses normally weigh, learned per replica, for CIE2 (Detect Abnormal
 * Quantity of Returned Records): a dump of a whole table through an injectable search is many
 * times the size of that search's usual answer. Per route, the sizes of the last SAMPLES
 * responses are kept in a small ring; the median of the ring is the route's normal.
 *
 * The rule (docs/response-evidence.md): a response to a flagged request is oversized when the
 * route has at least MIN_SAMPLES learned sizes and the response is more than FACTOR times their
 * median and more than FLOOR bytes. Only responses to unflagged requests are learned, so an
 * attacker cannot teach the route that dumps are normal.
 */

export const SAMPLES = 32;
export const MIN_SAMPLES = 20;
export const FACTOR = 10;
export const FLOOR = 64 * 1024;
/** Routes learned of each kind (declared, seen flagged); the oldest is forgotten past this. */
export const MAX_SEEN_ROUTES = 1024;

class Ring {
  readonly values = new Float64Array(SAMPLES);
  count = 0;
  next = 0;

  /** Cached until the next add: asked on every flagged response, learned far less often. */
  #median = -1;

  add(bytes: number): void {
    this.values[this.next] = bytes;
    this.next = (this.next + 1) % SAMPLES;
    if (this.count < SAMPLES) this.count++;
    this.#median = -1;
  }

  median(): number {
    if (this.#median < 0) {
      const sorted = this.values.slice(0, this.count).sort();
      this.#median = sorted[Math.floor(this.count / 2)]!;
    }
    return this.#median;
  }
}

export interface Normal {
  median: number;
  samples: number;
  /** Sizes above this are oversized. */
  limit: number;
}

export class RouteSizes {
  /** Declared routes (`edge.routes`), by pattern: kept while they are declared. */
  readonly #declared = new Map<string, Ring>();
  /** Routes seen flagged, by `METHOD /path`: insertion-ordered, so the oldest is dropped first. */
  readonly #seen = new Map<string, Ring>();

  /** Whether sizes of `key` are being learned. */
  has(key: string): boolean {
    return this.#declared.has(key) || this.#seen.has(key);
  }

  /** Start learning `key`, a route a flagged request went to. */
  watch(key: string, declared: boolean): void {
    if (this.has(key)) return;
    // Routes dropped from the policy by reloads are forgotten oldest first, like the others.
    const map = declared ? this.#declared : this.#seen;
    if (map.size >= MAX_SEEN_ROUTES) map.delete(map.keys().next().value!);
    map.set(key, new Ring());
  }

  learn(key: string, bytes: number): void {
    (this.#declared.get(key) ?? this.#seen.get(key))?.add(bytes);
  }

  /** The route's normal, or null while it has fewer than MIN_SAMPLES sizes. */
  normal(key: string): Normal | null {
    const ring = this.#declared.get(key) ?? this.#seen.get(key);
    if (!ring || ring.count < MIN_SAMPLES) return null;
    const median = ring.median();
    return { median, samples: ring.count, limit: Math.max(FLOOR, FACTOR * median) };
  }

  /** The number of routes learned, declared and seen flagged. */
  get size(): number {
    return this.#declared.size + this.#seen.size;
  }
}
