/**
 * The Store in one process: the engine's hot path when there is no Redis, and the fallback
 * while Redis is away (failover-store.ts), whose counts are handed back with `exportState()`.
 *
 * A hit costs a Map lookup and a few array operations: no object per event (a window is an
 * array of times, and one label for all of them until a second label arrives) and one Promise
 * per batch. Windows keep the same bounded set of events as the Lua script (redis-scripts.ts).
 *
 * Expiry needs no timer per key. A key expires TTL after it was last written, by the injected
 * clock (Redis' PEXPIRE rule). Keys sit in one list per TTL (withinMs or memoryMs), ordered by
 * when they were placed there; a hit only moves the key's expiry, not the key, so the hot path
 * touches no neighbour. Sweeping pops heads whose placement has expired: gone if not written
 * since, otherwise placed again at the tail (each key at most once per TTL). Past `maxKeys` the
 * same walk evicts the head least recently written (second chance, counted in `evicted`): an
 * attacker who invents keys costs a bounded amount of memory.
 */
import type { Clock } from "./clock.ts";
import type { HitResult, Store, StoreStatus, WindowHit } from "./store.ts";

/** Local windows and histories, for reconciling into Redis after an outage (RedisStore.merge). */
export interface StoreState {
  windows: { key: string; withinMs: number; events: { id: string; time: number; label: string }[] }[];
  histories: { key: string; memoryMs: number; attacks: { id: string; time: number }[] }[];
}

export interface MemoryStoreOptions {
  clock: Clock;
  /** Windows and histories kept at most; default 1 000 000. */
  maxKeys?: number;
  /** Sweep expired keys this often even when no hit comes (unref'd timer); 0: only on hits. */
  sweepIntervalMs?: number;
}

/** A window or a history: events sorted by time in `times[head..]`. */
interface Entry {
  key: string;
  history: boolean;
  list: List;
  /** The expiry this entry had when it was linked where it is; the list is ordered by it. */
  placed: number;
  /** The expiry by its last write (never before `placed`, unless the clock went back). */
  expires: number;
  prev: Entry | null;
  next: Entry | null;
  times: number[];
  head: number;
  /** Every event's label while `labels` is null (thresholds: always one detection point). */
  label: string;
  labels: string[] | null;
}

interface List {
  ttl: number;
  first: Entry | null;
  last: Entry | null;
}

const NO_ATTACK: HitResult = Object.freeze({ attack: false });
const STATUS: StoreStatus = Object.freeze({ kind: "memory", status: "up" });

export class MemoryStore implements Store {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  #windows = new Map<string, Entry>();
  #histories = new Map<string, Entry>();
  #lists = new Map<number, List>();
  #size = 0;
  #evicted = 0;
  // Ids in exports are stable for an unchanged state, so a retried merge adds nothing twice; a
  // new prefix after clear() keeps the next outage's ids apart from this one's.
  #idPrefix = newIdPrefix();
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions) {
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? 1_000_000;
    const every = options.sweepIntervalMs ?? 10_000;
    if (every > 0) this.#timer = setInterval(() => this.#sweep(this.#clock.now()), every).unref();
  }

  hit(hits: readonly WindowHit[]): Promise<HitResult[]> {
    return Promise.resolve(this.hitNow(hits));
  }

  /** `hit`, synchronously: FailoverStore counts with nothing running between its check and the count. */
  hitNow(hits: readonly WindowHit[]): HitResult[] {
    const now = this.#clock.now();
    this.#sweep(now);
    const results = new Array<HitResult>(hits.length);
    for (let i = 0; i < hits.length; i++) results[i] = this.#hitOne(hits[i]!, now);
    return results;
  }

  status(): StoreStatus {
    return STATUS;
  }

  onStatusChange(_listener: (status: StoreStatus) => void): void {
    // Memory never changes status.
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }

  /** Live keys (windows and histories). */
  get size(): number {
    return this.#size;
  }

  /** Keys dropped because `maxKeys` was reached before they expired. */
  get evicted(): number {
    return this.#evicted;
  }

  exportState(): StoreState {
    this.#sweep(this.#clock.now());
    const state: StoreState = { windows: [], histories: [] };
    for (const e of this.#windows.values()) {
      if (e.head === e.times.length) continue;
      const ids = this.#ids(e);
      const events = ids.map((id, n) => ({ id, time: e.times[e.head + n]!, label: labelAt(e, e.head + n) }));
      state.windows.push({ key: e.key, withinMs: e.list.ttl, events });
    }
    for (const e of this.#histories.values()) {
      const ids = this.#ids(e);
      state.histories.push({
        key: e.key,
        memoryMs: e.list.ttl,
        attacks: ids.map((id, n) => ({ id, time: e.times[e.head + n]! })),
      });
    }
    return state;
  }

  clear(): void {
    this.#windows = new Map();
    this.#histories = new Map();
    this.#lists = new Map();
    this.#size = 0;
    this.#idPrefix = newIdPrefix();
  }

  #hitOne(hit: WindowHit, now: number): HitResult {
    const match = hit.match;
    if (match.kind !== "count" && !match.labels.includes(hit.label)) return NO_ATTACK;
    const w = this.#entry(this.#windows, hit.window, false, hit.withinMs, now);
    prune(w, hit.time - hit.withinMs);
    let attack: boolean;
    if (match.kind === "count") {
      insert(w, hit.time, hit.label);
      attack = w.times.length - w.head >= match.count;
    } else if (match.kind === "all") {
      attack = addToAll(w, hit.time, hit.label, match.labels);
    } else {
      insert(w, hit.time, hit.label);
      attack = matchSequence(w, match.labels);
      if (!attack && w.times.length - w.head > SEQUENCE_CAP) reduceSequence(w, match.labels);
    }
    if (!attack) return NO_ATTACK;
    w.times.length = w.head = 0;
    w.labels = null;
    const h = this.#entry(this.#histories, hit.history, true, hit.memoryMs, now);
    prune(h, hit.time - hit.memoryMs);
    insert(h, hit.time, "");
    return { attack: true, nth: h.times.length - h.head };
  }

  /** The entry for `key`, created if needed, marked as written now. */
  #entry(map: Map<string, Entry>, key: string, history: boolean, ttl: number, now: number): Entry {
    const e = map.get(key);
    if (e !== undefined && e.list.ttl === ttl) {
      e.expires = now + ttl;
      return e;
    }
    if (e !== undefined) {
      // Its TTL changed (a policy reload): move it to the list of its new TTL.
      unlink(e);
      e.list = this.#list(ttl);
      e.placed = e.expires = now + ttl;
      append(e.list, e);
      return e;
    }
    const list = this.#list(ttl);
    const created: Entry = {
      key,
      history,
      list,
      placed: now + ttl,
      expires: now + ttl,
      prev: null,
      next: null,
      times: [],
      head: 0,
      label: "",
      labels: null,
    };
    if (this.#size >= this.#maxKeys) this.#evictOne();
    map.set(key, created);
    append(list, created);
    this.#size++;
    return created;
  }

  #list(ttl: number): List {
    let list = this.#lists.get(ttl);
    if (list === undefined) {
      list = { ttl, first: null, last: null };
      this.#lists.set(ttl, list);
    }
    return list;
  }

  #sweep(now: number): void {
    for (const list of this.#lists.values()) {
      for (let e = list.first; e !== null && e.placed <= now; e = list.first) {
        if (e.expires <= now) this.#drop(e);
        else replace(e);
      }
    }
  }

  /** The head placed longest ago, unless written since (then it gets a second chance). */
  #evictOne(): void {
    for (;;) {
      let oldest: Entry | null = null;
      for (const list of this.#lists.values()) {
        const first = list.first;
        if (
          first !== null &&
          (oldest === null || first.placed - list.ttl < oldest.placed - oldest.list.ttl)
        ) {
          oldest = first;
        }
      }
      if (oldest === null) return;
      if (oldest.expires > oldest.placed) {
        replace(oldest);
        continue;
      }
      this.#drop(oldest);
      this.#evicted++;
      return;
    }
  }

  #drop(e: Entry): void {
    unlink(e);
    (e.history ? this.#histories : this.#windows).delete(e.key);
    this.#size--;
  }

  /** `<prefix><time>:<n>`, n counting earlier events of the same time in this entry. */
  #ids(e: Entry): string[] {
    const ids: string[] = [];
    let same = 0;
    for (let i = e.head; i < e.times.length; i++) {
      same = i > e.head && e.times[i] === e.times[i - 1] ? same + 1 : 0;
      ids.push(`${this.#idPrefix}${e.times[i]}:${same}`);
    }
    return ids;
  }
}

function newIdPrefix(): string {
  return `m${Math.random().toString(36).slice(2, 10)}:`;
}

/** Link again at the tail, at the expiry it has now. */
function replace(e: Entry): void {
  const list = e.list;
  unlink(e);
  e.list = list;
  e.placed = e.expires;
  append(list, e);
}

function append(list: List, e: Entry): void {
  e.prev = list.last;
  e.next = null;
  if (list.last === null) list.first = e;
  else list.last.next = e;
  list.last = e;
}

function unlink(e: Entry): void {
  const list = e.list;
  if (e.prev === null) list.first = e.next;
  else e.prev.next = e.next;
  if (e.next === null) list.last = e.prev;
  else e.next.prev = e.prev;
  e.prev = e.next = null;
}

function labelAt(e: Entry, i: number): string {
  return e.labels === null ? e.label : e.labels[i]!;
}

/** Drop events with time <= cutoff; the arrays are compacted once the dead head is most of them. */
function prune(e: Entry, cutoff: number): void {
  const times = e.times;
  let head = e.head;
  while (head < times.length && times[head]! <= cutoff) head++;
  if (head === times.length) {
    times.length = e.head = 0;
    e.labels = null;
  } else if (head > 32 && head * 2 > times.length) {
    e.times = times.slice(head);
    if (e.labels !== null) e.labels = e.labels.slice(head);
    e.head = 0;
  } else {
    e.head = head;
  }
}

/** Insert keeping time order; equal times keep insertion order. Almost always an append. */
function insert(e: Entry, time: number, label: string): void {
  const times = e.times;
  if (e.labels === null && label !== e.label) {
    if (e.head === times.length) e.label = label;
    else e.labels = new Array<string>(times.length).fill(e.label);
  }
  let at = times.length;
  while (at > e.head && times[at - 1]! > time) at--;
  if (at === times.length) {
    times.push(time);
    e.labels?.push(label);
  } else {
    times.splice(at, 0, time);
    e.labels?.splice(at, 0, label);
  }
}

function removeAt(e: Entry, at: number): void {
  e.times.splice(at, 1);
  e.labels?.splice(at, 1);
}

/** `all`: keep the latest event of each label; matched when every label is there. */
function addToAll(e: Entry, time: number, label: string, labels: readonly string[]): boolean {
  let add = true;
  for (let i = e.times.length - 1; i >= e.head; i--) {
    if (labelAt(e, i) !== label) continue;
    if (e.times[i]! > time) add = false;
    else removeAt(e, i);
  }
  if (add) insert(e, time, label);
  for (const l of labels) {
    let found = false;
    for (let i = e.head; i < e.times.length && !found; i++) found = labelAt(e, i) === l;
    if (!found) return false;
  }
  return true;
}

/** A sequence window past this many events is reduced (see redis-scripts.ts, SEQUENCE_CAP). */
export const SEQUENCE_CAP = 32;

/** `sequence`: true when the labels appear in order (other events between them are fine). */
function matchSequence(e: Entry, labels: readonly string[]): boolean {
  let j = 0;
  for (let i = e.head; i < e.times.length; i++) {
    if (labelAt(e, i) === labels[j] && ++j === labels.length) return true;
  }
  return false;
}

/** Keep only the events of the latest-starting partial match of each prefix of the labels. */
function reduceSequence(e: Entry, labels: readonly string[]): void {
  const k = labels.length;
  const start: number[] = new Array(k).fill(-1);
  const chain: number[][] = new Array(k);
  for (let i = e.head; i < e.times.length; i++) {
    const l = labelAt(e, i);
    for (let j = k - 1; j >= 0; j--) {
      if (labels[j] !== l) continue;
      if (j === 0) {
        start[0] = i;
        chain[0] = [i];
      } else if (start[j - 1]! >= 0 && start[j - 1]! >= start[j]!) {
        start[j] = start[j - 1]!;
        chain[j] = [...chain[j - 1]!, i];
      }
    }
  }
  const keep = new Set<number>();
  for (let j = 0; j < k - 1; j++) for (const i of chain[j] ?? []) keep.add(i);
  for (let i = e.times.length - 1; i >= e.head; i--) if (!keep.has(i)) removeAt(e, i);
}
