/**
 * The local decision index: every live decision this replica holds, arranged so that one request
 * costs a few lookups however many decisions there are (DESIGN section 5: the request path never
 * waits on Redis). IP and range decisions live in one prefix trie per family (ip-trie.ts), an
 * `ip` decision being a /32 or /128; users and sessions in maps; global decisions in one list.
 * Everything is parsed and compiled in add() (STYLE pattern 5); match() parses the client address
 * into a reused buffer and allocates nothing for IPv4 or IPv6.
 *
 * When several decisions of one action apply to a request, the one enforced is chosen
 * deterministically: block, the one lasting longest; throttle, the lowest rate; tarpit, the
 * longest delay; disable, logout and flag, the first added. Ties go to the first added.
 * "Added" counts from the first add() of an id: replacing a decision keeps its place, as
 * re-setting a key keeps its place in a Map.
 *
 * Not held, so never matched: shadow decisions (recorded as "would have", never enforced),
 * decisions already expired, values that do not parse (an `ip` that is not an address, a `range`
 * that is not a CIDR), disables without a route pattern that compiles, unknown actions or
 * scopes. Adding one of these under the id of a held decision removes that decision.
 */
import { parseCidr, parseIp } from "../actor/cidr.ts";
import type { Clock } from "../store/clock.ts";
import type { Decision } from "../store/decision.ts";
import { PrefixTrie, parseAddress } from "./ip-trie.ts";
import { compileRoutes, type RouteMatcher } from "./route-matcher.ts";

export interface RequestFacts {
  /** Normalised client address, IPv4-mapped IPv6 already stripped (src/actor/client-ip.ts). */
  ip: string;
  user: string | null;
  /** The session hash. */
  session: string | null;
  method: string;
  /** The path only, no query. */
  path: string;
}

/** Per action, the decision that applies to a request, or null. */
export interface Matches {
  block: Decision | null;
  throttle: Decision | null;
  disable: Decision | null;
  logout: Decision | null;
  tarpit: Decision | null;
  flag: Decision | null;
}

export function emptyMatches(): Matches {
  return { block: null, throttle: null, disable: null, logout: null, tarpit: null, flag: null };
}

const BLOCK = 0;
const THROTTLE = 1;
const DISABLE = 2;
const LOGOUT = 3;
const TARPIT = 4;
const FLAG = 5;
const ACTIONS: Readonly<Record<string, number>> = {
  block: BLOCK,
  throttle: THROTTLE,
  disable: DISABLE,
  logout: LOGOUT,
  tarpit: TARPIT,
  flag: FLAG,
};

/**
 * A held decision, with what match() compares already worked out. Kept small: an index of a
 * million decisions pays for every field a million times (bench/RESULTS.md).
 */
interface Entry {
  readonly decision: Decision;
  readonly action: number;
  /** Add order: lower was added first. */
  readonly seq: number;
  /** disable, throttle and tarpit: what match() weighs; null for the other actions. */
  readonly terms: Terms | null;
  readonly bucket: Bucket;
  /** The next decision in the same bucket. */
  next: Entry | null;
}

interface Terms {
  /** disable: its compiled routes. */
  readonly routes: RouteMatcher | null;
  /** throttle: the rate as count per perMs; no usable rate counts as an infinite one. */
  readonly rateCount: number;
  readonly ratePerMs: number;
  /** tarpit: the delay, ms. */
  readonly delay: number;
}

const V4 = 0;
const V6 = 1;
const USER = 2;
const SESSION = 3;
const GLOBAL = 4;

/** The decisions that share one scope and value, and where they are filed. */
interface Bucket {
  readonly kind: number;
  /** user and session: the value. */
  readonly name: string;
  /**
   * v4 and v6: the network's words (w1-w3 are 0 for IPv4) and prefix length. Plain numbers, not
   * an Int32Array: a typed array costs ~200 bytes of its own, per decision.
   */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly prefix: number;
  /** A list, not an array: per request, two pointers fewer to chase (the array and its store). */
  head: Entry | null;
}

/** Time not read yet in this match() call. */
const NOT_READ = Number.NEGATIVE_INFINITY;

export class DecisionIndex {
  readonly #clock: Clock;
  readonly #byId = new Map<string, Entry>();
  readonly #v4 = new PrefixTrie<Bucket>(4);
  readonly #v6 = new PrefixTrie<Bucket>(6);
  readonly #users = new Map<string, Bucket>();
  readonly #sessions = new Map<string, Bucket>();
  readonly #global: Bucket = newBucket(GLOBAL, "*", null, 0);
  /** A network's words while it is parsed, filed or removed. */
  readonly #words = new Int32Array(4);
  #seq = 0;

  // Per-call scratch, reused so that match() allocates nothing.
  readonly #address = new Int32Array(4);
  readonly #found: Bucket[] = new Array<Bucket>(129).fill(this.#global);
  readonly #best: (Entry | null)[] = [null, null, null, null, null, null];
  #now = NOT_READ;

  constructor(options: { clock: Clock }) {
    this.#clock = options.clock;
  }

  /** Decisions held (see the header for what is not). */
  get size(): number {
    return this.#byId.size;
  }

  /** Index a decision, replacing the one with the same id. */
  add(decision: Decision): void {
    const old = this.#byId.get(decision.id);
    if (old) this.#drop(old);
    const action = ACTIONS[decision.action];
    if (action === undefined || decision.reason?.mode === "shadow") return;
    if (!(decision.until > this.#clock.now())) return;
    let terms: Terms | null = null;
    if (action === DISABLE) {
      const routes = compileRoutes(decision.routes);
      if (routes === null) return;
      terms = { routes, rateCount: 0, ratePerMs: 1, delay: 0 };
    } else if (action === THROTTLE) {
      const rate = decision.rate;
      const usable = rate != null && rate.count >= 0 && rate.perMs > 0 && Number.isFinite(rate.perMs);
      terms = {
        routes: null,
        rateCount: usable ? rate.count : Number.POSITIVE_INFINITY,
        ratePerMs: usable ? rate.perMs : 1,
        delay: 0,
      };
    } else if (action === TARPIT) {
      const delay = Number(decision.delayMs);
      terms = { routes: null, rateCount: 0, ratePerMs: 1, delay: delay > 0 ? delay : 0 };
    }
    const bucket = this.#bucketFor(decision);
    if (bucket === null) return;
    const entry: Entry = {
      decision,
      action,
      seq: old ? old.seq : this.#seq++,
      terms,
      bucket,
      next: bucket.head,
    };
    bucket.head = entry;
    this.#byId.set(decision.id, entry);
  }

  remove(id: string): void {
    const entry = this.#byId.get(id);
    if (entry) this.#drop(entry);
  }

  clear(): void {
    this.#byId.clear();
    this.#v4.clear();
    this.#v6.clear();
    this.#users.clear();
    this.#sessions.clear();
    this.#global.head = null;
    this.#found.fill(this.#global);
  }

  /**
   * Drop expired decisions (match already ignores them). O(size): ~2.5 ms to look over 100 000,
   * ~45 ms when all of them expire at once. Call it every few seconds, not per request.
   */
  sweep(): void {
    const now = this.#clock.now();
    for (const entry of this.#byId.values()) if (entry.decision.until <= now) this.#drop(entry);
  }

  /** Fills and returns `out` (reset first) with, per action, the decision that applies to this request, or null. */
  match(facts: RequestFacts, out: Matches): Matches {
    out.block = null;
    out.throttle = null;
    out.disable = null;
    out.logout = null;
    out.tarpit = null;
    out.flag = null;
    if (this.#byId.size === 0) return out;
    this.#now = NOT_READ;
    if (this.#v4.size !== 0 || this.#v6.size !== 0) {
      const family = parseAddress(facts.ip, this.#address);
      let found = 0;
      if (family === 4 && this.#v4.size !== 0) found = this.#v4.collect4(this.#address[0]!, this.#found);
      else if (family === 6 && this.#v6.size !== 0) found = this.#v6.collect6(this.#address, this.#found);
      for (let i = 0; i < found; i++) this.#visit(this.#found[i]!.head, facts);
    }
    if (this.#users.size !== 0 && typeof facts.user === "string") {
      const bucket = this.#users.get(facts.user);
      if (bucket) this.#visit(bucket.head, facts);
    }
    if (this.#sessions.size !== 0 && typeof facts.session === "string") {
      const bucket = this.#sessions.get(facts.session);
      if (bucket) this.#visit(bucket.head, facts);
    }
    if (this.#global.head !== null) this.#visit(this.#global.head, facts);
    const best = this.#best;
    out.block = best[BLOCK]?.decision ?? null;
    out.throttle = best[THROTTLE]?.decision ?? null;
    out.disable = best[DISABLE]?.decision ?? null;
    out.logout = best[LOGOUT]?.decision ?? null;
    out.tarpit = best[TARPIT]?.decision ?? null;
    out.flag = best[FLAG]?.decision ?? null;
    for (let a = 0; a < 6; a++) best[a] = null;
    return out;
  }

  /** Weigh one bucket's live decisions against the best found so far, per action. */
  #visit(head: Entry | null, facts: RequestFacts): void {
    if (this.#now === NOT_READ) this.#now = this.#clock.now();
    const now = this.#now;
    const best = this.#best;
    for (let e = head; e !== null; e = e.next) {
      if (e.decision.until <= now) continue;
      const current = best[e.action] as Entry | null;
      if (current !== null && !preferred(e, current)) continue;
      if (e.action === DISABLE && !e.terms!.routes!.matches(facts.method, facts.path)) continue;
      best[e.action] = e;
    }
  }

  /** The bucket a decision goes in, made if need be; null when its value does not parse. */
  #bucketFor(d: Decision): Bucket | null {
    switch (d.scope) {
      case "global":
        return this.#global;
      case "user":
      case "session": {
        if (typeof d.value !== "string") return null;
        const map = d.scope === "user" ? this.#users : this.#sessions;
        let bucket = map.get(d.value);
        if (!bucket) {
          bucket = newBucket(d.scope === "user" ? USER : SESSION, d.value, null, 0);
          map.set(d.value, bucket);
        }
        return bucket;
      }
      case "ip":
      case "range": {
        const words = this.#words;
        const network = parseNetwork(d.scope, d.value, words);
        if (network === null) return null;
        const [kind, prefix] = network;
        const trie = kind === V4 ? this.#v4 : this.#v6;
        let bucket = trie.get(words, prefix);
        if (!bucket) {
          bucket = newBucket(kind, "", words, prefix);
          trie.set(words, prefix, bucket);
        }
        return bucket;
      }
      default:
        return null;
    }
  }

  #drop(entry: Entry): void {
    this.#byId.delete(entry.decision.id);
    const bucket = entry.bucket;
    if (bucket.head === entry) bucket.head = entry.next;
    else {
      let e = bucket.head;
      while (e !== null && e.next !== entry) e = e.next;
      if (e !== null) e.next = entry.next;
    }
    if (bucket.head !== null) return;
    if (bucket.kind === V4 || bucket.kind === V6) {
      const words = this.#words;
      words[0] = bucket.w0;
      words[1] = bucket.w1;
      words[2] = bucket.w2;
      words[3] = bucket.w3;
      (bucket.kind === V4 ? this.#v4 : this.#v6).delete(words, bucket.prefix);
    } else if (bucket.kind === USER) this.#users.delete(bucket.name);
    else if (bucket.kind === SESSION) this.#sessions.delete(bucket.name);
  }
}

function newBucket(kind: number, name: string, words: Int32Array | null, prefix: number): Bucket {
  const v4 = kind === V4;
  return {
    kind,
    name,
    w0: words === null ? 0 : words[0]!,
    w1: words === null || v4 ? 0 : words[1]!,
    w2: words === null || v4 ? 0 : words[2]!,
    w3: words === null || v4 ? 0 : words[3]!,
    prefix,
    head: null,
  };
}

/** Whether `e` is enforced rather than `current`, of the same action, when both apply. */
function preferred(e: Entry, current: Entry): boolean {
  switch (e.action) {
    case BLOCK:
      if (e.decision.until !== current.decision.until) return e.decision.until > current.decision.until;
      break;
    case THROTTLE: {
      // count/perMs compared without dividing: both products are exact below 2^53.
      const mine = e.terms!.rateCount * current.terms!.ratePerMs;
      const theirs = current.terms!.rateCount * e.terms!.ratePerMs;
      if (mine !== theirs) return mine < theirs;
      break;
    }
    case TARPIT:
      if (e.terms!.delay !== current.terms!.delay) return e.terms!.delay > current.terms!.delay;
      break;
  }
  return e.seq < current.seq;
}

/**
 * An ip or range value as [family, prefix length], its network's words written to `words`
 * (most significant first); IPv4-mapped IPv6 is IPv4.
 */
function parseNetwork(scope: "ip" | "range", value: string, words: Int32Array): [number, number] | null {
  if (typeof value !== "string") return null;
  let bytes: number[];
  let prefix: number;
  if (scope === "ip") {
    if (value.includes("/") || value.length > 64) return null;
    const addr = parseIp(value);
    if (addr === null) return null;
    bytes = addr.toByteArray();
    prefix = bytes.length * 8;
  } else {
    const cidr = parseCidr(value);
    if (typeof cidr === "string") return null;
    bytes = cidr.bytes;
    prefix = cidr.prefix;
  }
  words.fill(0);
  for (let i = 0; i < bytes.length; i++) words[i >> 2] = words[i >> 2]! | (bytes[i]! << (24 - 8 * (i & 3)));
  return [bytes.length === 4 ? V4 : V6, prefix];
}
