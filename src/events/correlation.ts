/**
 * Request correlation: every forwarded request gets an X-Request-Id and is remembered (ip,
 * session id, user, method, path, time) so that a detection the app reports later on the socket,
 * naming only that id, is attributed to the request (DESIGN 3.2).
 *
 * This runs on every request, so it allocates nothing per request beyond the id string: the ids
 * Gatehouse makes are `<process prefix>-<counter in base 36>`, and the counter picks a slot in a
 * ring of parallel arrays. Lookups parse the slot back out of the id. The oldest request is
 * overwritten when the ring is full, and an entry older than the TTL is not returned. Ids kept
 * from a trusted proxy cannot be parsed, so they map to their counter in a side Map, cleaned as
 * their slot is reused.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../store/clock.ts";

/** What Gatehouse remembers of a forwarded request, by its X-Request-Id. */
export interface RequestRecord {
  ip: string;
  /** Keyed hash of the session id, or null. */
  session: string | null;
  user: string | null;
  method: string;
  path: string;
  time: number;
}

/** Longest path kept per request: the ring holds every slot's path for its whole lifetime. */
const MAX_PATH = 512;

/**
 * The first MAX_PATH characters as a string of their own: a plain slice() may keep the whole
 * parent string alive, and a client could then pin 16 KB URLs in every slot of the ring.
 */
function boundedCopy(path: string): string {
  return Buffer.from(path.slice(0, MAX_PATH), "latin1").toString("latin1");
}

export class Correlation {
  readonly #capacity: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  /** Random per process, so ids from replicas and restarts never collide. */
  readonly #prefix = `${randomBytes(8).toString("hex")}-`;
  #counter = 0;
  readonly #counters: Float64Array;
  readonly #times: Float64Array;
  readonly #ips: (string | null)[];
  readonly #sessions: (string | null)[];
  readonly #users: (string | null)[];
  readonly #methods: (string | null)[];
  readonly #paths: (string | null)[];
  readonly #foreignIds: (string | null)[];
  readonly #foreign = new Map<string, number>();

  constructor(options: { capacity: number; ttlMs: number; clock: Clock }) {
    this.#capacity = options.capacity;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#counters = new Float64Array(options.capacity).fill(-1);
    this.#times = new Float64Array(options.capacity);
    const empty = () => new Array<string | null>(options.capacity).fill(null);
    this.#ips = empty();
    this.#sessions = empty();
    this.#users = empty();
    this.#methods = empty();
    this.#paths = empty();
    this.#foreignIds = empty();
  }

  /**
   * Remember a request; returns its id: `keepId` (from a trusted proxy) when given, else a new one.
   */
  record(
    keepId: string | null,
    ip: string,
    session: string | null,
    user: string | null,
    method: string,
    path: string,
  ): string {
    const counter = this.#counter++;
    const slot = counter % this.#capacity;
    const previousForeign = this.#foreignIds[slot];
    if (previousForeign != null && this.#foreign.get(previousForeign) === this.#counters[slot]) {
      this.#foreign.delete(previousForeign);
    }
    this.#counters[slot] = counter;
    this.#times[slot] = this.#clock.now();
    this.#ips[slot] = ip;
    this.#sessions[slot] = session;
    this.#users[slot] = user;
    this.#methods[slot] = method;
    this.#paths[slot] = path.length <= MAX_PATH ? path : boundedCopy(path);
    this.#foreignIds[slot] = keepId;
    if (keepId !== null) {
      this.#foreign.set(keepId, counter);
      return keepId;
    }
    return this.#prefix + counter.toString(36);
  }

  get(id: string): RequestRecord | undefined {
    const slot = this.#slotOf(id);
    if (slot === -1) return undefined;
    return {
      ip: this.#ips[slot]!,
      session: this.#sessions[slot]!,
      user: this.#users[slot]!,
      method: this.#methods[slot]!,
      path: this.#paths[slot]!,
      time: this.#times[slot]!,
    };
  }

  /** The app named the request's user (Gatehouse-User): later events for the id carry it. */
  setUser(id: string, user: string): void {
    const slot = this.#slotOf(id);
    if (slot !== -1) this.#users[slot] = user;
  }

  #slotOf(id: string): number {
    let counter: number | undefined;
    if (id.startsWith(this.#prefix)) {
      const rest = id.slice(this.#prefix.length);
      counter = /^[0-9a-z]{1,11}$/.test(rest) ? Number.parseInt(rest, 36) : undefined;
    } else {
      counter = this.#foreign.get(id);
    }
    if (counter === undefined || !Number.isSafeInteger(counter)) return -1;
    const slot = counter % this.#capacity;
    if (this.#counters[slot] !== counter) return -1;
    if (this.#times[slot]! + this.#ttlMs <= this.#clock.now()) return -1;
    return slot;
  }
}
