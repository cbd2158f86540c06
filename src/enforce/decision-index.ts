/**
 * The local decision index: every live decision this replica holds, arranged so that one request
 * costs a few lookups however many decisions there are (DESIGN section 5: the request path never
 * waits on Redis). IP and range decisions live in one prefix trie per family (ip-trie.ts), an
 * `ip` decision being a /32 or /128; users and sessions in maps; global decisions in one list.
 * Everything is parsed and compiled when a decision comes (STYLE pattern 5); match() parses the
 * client address into a reused buffer, and a request that matches nothing allocates nothing.
 *
 * Decisions are held in columns, not as one object graph each (issue 5: a million decisions
 * loaded from Redis within 400 MB; on a 64-bit V8 without pointer compression a decoded decision
 * costs ~460 bytes as objects, ~150 here): one row number per decision, typed arrays for times
 * and kinds, the trie holding the head row of each network's list, and side maps for what few
 * decisions have (rates, routes, statuses, delays). Ids are bytes too, found through a hash table
 * of rows (id-table.ts): as strings in a Map they were most of what a loaded decision kept on the
 * V8 heap. The same rows are the decisions map's local store (`store`, a LocalStore): the
 * replicated map and the index share them, and `reserve` sizes every column once for a snapshot.
 * The store's `entries()` come in row order, not the order the ids were first set.
 *
 * With `keep: "columns"` (the Redis-backed map) a decision's reason is not held beyond its mode:
 * the admin API reads whole decisions from Redis (decision-service.ts). An ip or range value is
 * re-created from the trie's network when that gives back the text that came (the canonical
 * form the admin API and the policy engine write); any other text is kept as it came. A decision
 * the columns cannot represent exactly (an action, scope or origin this version does not know,
 * a field of an unexpected type) is kept whole. With `keep: "whole"` (the in-memory map, and the
 * default) every decision is also kept as it came, and match() hands out that very object.
 *
 * When several decisions of one action apply to a request, the one enforced is chosen
 * deterministically: block, the one lasting longest; throttle, the lowest rate; tarpit, the
 * longest delay; disable, logout and flag, the first added. Ties go to the first added.
 * "Added" counts from the first add of an id: replacing a decision keeps its place, as
 * re-setting a key keeps its place in a Map.
 *
 * Not matched (and, through add(), not held at all): shadow decisions (recorded as "would have",
 * never enforced), decisions already expired, values that do not parse (an `ip` that is not an
 * address, a `range` that is not a CIDR), disables without a route pattern that compiles, unknown
 * actions or scopes. Adding one of these under the id of a held decision removes that decision.
 * The map's store holds them all the same (the admin API lists what the map holds).
 */
import ipaddr from "ipaddr.js";
import { dottedQuad, parseCidr, parseIp } from "../actor/cidr.ts";
import type { Rate } from "../config/units.ts";
import type { Clock } from "../store/clock.ts";
import type { Decision, DecisionAction, DecisionOrigin, DecisionScopeName } from "../store/decision.ts";
import type { LocalStore } from "../store/local-view.ts";
import { IdTable } from "./id-table.ts";
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
const TARPIT = 4;
/** An action this version does not know: held (whole), never matched. */
const OTHER = 6;
const ACTION_NAMES: readonly DecisionAction[] = ["block", "throttle", "disable", "logout", "tarpit", "flag"];
const SCOPE_NAMES: readonly DecisionScopeName[] = ["ip", "range", "session", "user", "global"];
const ORIGIN_NAMES: readonly DecisionOrigin[] = ["policy", "breach", "manual", "feed"];

/** Where a row is filed (its bucket kind). */
const V4 = 0;
const V6 = 1;
const USER = 2;
const SESSION = 3;
const GLOBAL = 4;
const UNFILED = 7;

/** Where a decision is filed: bucket kind, prefix length, and whether its value is the canonical text of the network. */
type Filing = [kind: number, prefix: number, canonical: boolean];

/** Flags per row. */
const USED = 1;
const SHADOW = 2;

/** Time not read yet in this match() call. */
const NOT_READ = Number.NEGATIVE_INFINITY;
/** Matched decisions materialised from columns, kept for the next request that matches them. */
const MAX_CACHED = 4096;
/**
 * Rows reserve() makes room for at most (~4 million, ~400 MB of columns): a hint from Redis never
 * takes more than this at once; past it rows grow by doubling as decisions come.
 */
const MAX_RESERVED = 1 << 22;

export interface DecisionIndexOptions {
  clock: Clock;
  /** `whole`: keep each decision as given (default); `columns`: keep no reason beyond its mode. */
  keep?: "whole" | "columns";
}

export class DecisionIndex {
  readonly #clock: Clock;
  readonly #whole: boolean;
  /** id ↔ row, the ids held as bytes (id-table.ts). */
  readonly #ids = new IdTable();
  /**
   * Value texts by row: users, sessions, decisions not filed, and ip or range text that the
   * network does not give back. Sparse: most decisions are an address or range in canonical form,
   * and a slot per row was 10 MB of heap for a million of them (issue 5).
   */
  readonly #names = new Map<number, string>();
  #until = new Float64Array(0);
  #created = new Float64Array(0);
  /** Add order: lower was added first (a double: it never wraps). */
  #seq = new Float64Array(0);
  #action = new Uint8Array(0);
  #scope = new Uint8Array(0);
  #origin = new Uint8Array(0);
  #kind = new Uint8Array(0);
  #flags = new Uint8Array(0);
  /** The map's snapshot generation (LocalStore). */
  #gen = new Int32Array(0);
  /** The next row in the same bucket, or in the free list; -1 ends both. */
  #next = new Int32Array(0);
  /** v4 and v6 rows: their trie node. */
  #node = new Int32Array(0);
  /** Rows in use or freed (rows past it were never used). */
  #high = 0;
  #free = -1;
  #seqNext = 0;
  /** Rows filed in a bucket: what match() can find. */
  #filed = 0;

  // Sparse: what few decisions have.
  readonly #routes = new Map<number, readonly string[]>();
  readonly #matchers = new Map<number, RouteMatcher>();
  readonly #rates = new Map<number, Rate>();
  readonly #statuses = new Map<number, number>();
  readonly #delays = new Map<number, number>();
  /** Decisions kept as they came: every one with keep "whole", the odd ones otherwise. */
  readonly #kept = new Map<number, Decision>();
  readonly #cache = new Map<number, Decision>();

  readonly #v4 = new PrefixTrie(4);
  readonly #v6 = new PrefixTrie(6);
  readonly #users = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  #globalHead = -1;
  /** A network's words while it is parsed and filed; and, apart, while one is read back. */
  readonly #words = new Int32Array(4);
  readonly #readBack = new Int32Array(4);

  // Per-call scratch, reused so that match() allocates nothing.
  readonly #address = new Int32Array(4);
  readonly #found: number[] = new Array<number>(129).fill(-1);
  readonly #best = new Int32Array(6).fill(-1);
  #now = NOT_READ;

  /** The rows as the decisions map's local store (see the header for what `columns` keeps). */
  readonly store: LocalStore<Decision>;

  constructor(options: DecisionIndexOptions) {
    this.#clock = options.clock;
    this.#whole = (options.keep ?? "whole") === "whole";
    this.store = this.#asStore();
  }

  /** Decisions match() can find, expired ones included until swept. */
  get size(): number {
    return this.#filed;
  }

  /** Index a decision, replacing the one with the same id; one that cannot apply is not held. */
  add(decision: Decision): void {
    if (this.#put(decision.id, decision, decision.until, 0, true) === -1) this.remove(decision.id);
  }

  remove(id: string): void {
    const row = this.#ids.get(id);
    if (row !== -1) this.#release(row);
  }

  clear(): void {
    for (let row = 0; row < this.#high; row++) if ((this.#flags[row]! & USED) !== 0) this.#release(row);
  }

  /** Drop expired decisions (match already ignores them). O(rows), a pass over one typed array. */
  sweep(): void {
    const now = this.#clock.now();
    const until = this.#until;
    const flags = this.#flags;
    for (let row = 0; row < this.#high; row++)
      if ((flags[row]! & USED) !== 0 && !(until[row]! > now)) this.#release(row);
  }

  /** Fills and returns `out` (reset first) with, per action, the decision that applies to this request, or null. */
  match(facts: RequestFacts, out: Matches): Matches {
    out.block = null;
    out.throttle = null;
    out.disable = null;
    out.logout = null;
    out.tarpit = null;
    out.flag = null;
    if (this.#filed === 0) return out;
    this.#now = NOT_READ;
    if (this.#v4.size !== 0 || this.#v6.size !== 0) {
      const family = parseAddress(facts.ip, this.#address);
      let found = 0;
      if (family === 4 && this.#v4.size !== 0) found = this.#v4.collect4(this.#address[0]!, this.#found);
      else if (family === 6 && this.#v6.size !== 0) found = this.#v6.collect6(this.#address, this.#found);
      for (let i = 0; i < found; i++) this.#visit(this.#found[i]!, facts);
    }
    if (this.#users.size !== 0 && typeof facts.user === "string") {
      const head = this.#users.get(facts.user);
      if (head !== undefined) this.#visit(head, facts);
    }
    if (this.#sessions.size !== 0 && typeof facts.session === "string") {
      const head = this.#sessions.get(facts.session);
      if (head !== undefined) this.#visit(head, facts);
    }
    if (this.#globalHead !== -1) this.#visit(this.#globalHead, facts);
    const best = this.#best;
    if (best[0] !== -1) out.block = this.#matched(best[0]!);
    if (best[1] !== -1) out.throttle = this.#matched(best[1]!);
    if (best[2] !== -1) out.disable = this.#matched(best[2]!);
    if (best[3] !== -1) out.logout = this.#matched(best[3]!);
    if (best[4] !== -1) out.tarpit = this.#matched(best[4]!);
    if (best[5] !== -1) out.flag = this.#matched(best[5]!);
    best.fill(-1);
    return out;
  }

  /** Live decisions held (matchable or not) per action and scope, for the active-decisions gauge. */
  countLive(): Map<string, { action: string; scope: string; count: number }> {
    const now = this.#clock.now();
    const out = new Map<string, { action: string; scope: string; count: number }>();
    for (let row = 0; row < this.#high; row++) {
      if ((this.#flags[row]! & USED) === 0 || !(this.#until[row]! > now)) continue;
      const d = this.#kept.get(row);
      const action = d ? String(d.action) : ACTION_NAMES[this.#action[row]!]!;
      const scope = d ? String(d.scope) : SCOPE_NAMES[this.#scope[row]!]!;
      const key = `${action}\u0000${scope}`;
      const slot = out.get(key);
      if (slot) slot.count++;
      else out.set(key, { action, scope, count: 1 });
    }
    return out;
  }

  /** Live decisions held, newest first (ties by id), each made only when it is reached. */
  *newestFirst(): IterableIterator<Decision> {
    const now = this.#clock.now();
    const rows: number[] = [];
    for (let row = 0; row < this.#high; row++)
      if ((this.#flags[row]! & USED) !== 0 && this.#until[row]! > now) rows.push(row);
    const created = this.#created;
    const ids = this.#ids;
    rows.sort((a, b) => created[b]! - created[a]! || ids.compare(a, b));
    for (const row of rows) if ((this.#flags[row]! & USED) !== 0) yield this.#decisionAt(row);
  }

  /** Weigh one bucket's live decisions against the best found so far, per action. */
  #visit(head: number, facts: RequestFacts): void {
    if (this.#now === NOT_READ) this.#now = this.#clock.now();
    const now = this.#now;
    const best = this.#best;
    const until = this.#until;
    const actions = this.#action;
    const next = this.#next;
    for (let r = head; r !== -1; r = next[r]!) {
      if (until[r]! <= now) continue;
      const action = actions[r]!;
      const current = best[action]!;
      if (current !== -1 && !this.#preferred(r, current, action)) continue;
      if (action === DISABLE && !this.#matchers.get(r)!.matches(facts.method, facts.path)) continue;
      best[action] = r;
    }
  }

  /** Whether row `a` is enforced rather than row `b`, of the same action, when both apply. */
  #preferred(a: number, b: number, action: number): boolean {
    if (action === BLOCK) {
      const ua = this.#until[a]!;
      const ub = this.#until[b]!;
      if (ua !== ub) return ua > ub;
    } else if (action === THROTTLE) {
      // count/perMs compared without dividing: both products are exact below 2^53.
      const ra = this.#rates.get(a);
      const rb = this.#rates.get(b);
      const mine = rateCount(ra) * ratePerMs(rb);
      const theirs = rateCount(rb) * ratePerMs(ra);
      if (mine !== theirs) return mine < theirs;
    } else if (action === TARPIT) {
      const da = tarpitDelay(this.#delays.get(a));
      const db = tarpitDelay(this.#delays.get(b));
      if (da !== db) return da > db;
    }
    return this.#seq[a]! < this.#seq[b]!;
  }

  /** The decision of a matched row: made once and cached, so a repeated hit allocates nothing. */
  #matched(row: number): Decision {
    const kept = this.#kept.get(row) ?? this.#cache.get(row);
    if (kept !== undefined) return kept;
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    const d = this.#decisionAt(row);
    this.#cache.set(row, d);
    return d;
  }

  /** A row as a decision (DESIGN section 5 shape; the reason as the header says); `id` if known. */
  #decisionAt(row: number, id?: string): Decision {
    const kept = this.#kept.get(row);
    if (kept !== undefined) return kept;
    return {
      id: id ?? this.#ids.idAt(row),
      action: ACTION_NAMES[this.#action[row]!]!,
      scope: SCOPE_NAMES[this.#scope[row]!]!,
      value: this.#names.get(row) ?? this.#networkText(row),
      routes: this.#routes.get(row) ?? null,
      until: this.#until[row]!,
      createdAt: this.#created[row]!,
      origin: ORIGIN_NAMES[this.#origin[row]!]!,
      reason: { mode: (this.#flags[row]! & SHADOW) !== 0 ? "shadow" : "enforce" },
      rate: this.#rates.get(row) ?? null,
      status: this.#statuses.get(row) ?? null,
      delayMs: this.#delays.get(row) ?? null,
    };
  }

  /** The ip or range text of a row filed in a trie, from its node (the network as filed: masked). */
  #networkText(row: number): string {
    const kind = this.#kind[row]!;
    const words = this.#readBack;
    const prefix = (kind === V4 ? this.#v4 : this.#v6).keyAt(this.#node[row]!, words);
    return networkText(kind, words, prefix, this.#scope[row] === 1);
  }

  /**
   * Hold `decision` for `id` until `until` in one row (replacing keeps the row and its place in
   * add order) and file it where match() finds it. `onlyMatchable`: hold nothing, returning -1,
   * for a decision that cannot apply.
   */
  #put(id: string, d: Decision, until: number, gen: number, onlyMatchable: boolean): number {
    const action = typeof d.action === "string" ? ACTION_NAMES.indexOf(d.action) : -1;
    const shadow = d.reason?.mode === "shadow";
    let matcher: RouteMatcher | null = null;
    if (action === DISABLE) matcher = compileRoutes(d.routes);
    const matchable =
      action !== -1 && !shadow && d.until > this.#clock.now() && (action !== DISABLE || matcher !== null);
    const network = matchable ? this.#parseFiling(d) : null;
    if (onlyMatchable && network === null) return -1;

    let row = this.#ids.get(id);
    if (row === -1) {
      row = this.#allocate();
      this.#ids.set(id, row);
      this.#seq[row] = this.#seqNext++;
    } else this.#clearRow(row);
    this.#kind[row] = UNFILED;
    const scope = typeof d.scope === "string" ? SCOPE_NAMES.indexOf(d.scope) : -1;
    const origin = typeof d.origin === "string" ? ORIGIN_NAMES.indexOf(d.origin) : -1;
    this.#until[row] = until;
    this.#created[row] = typeof d.createdAt === "number" ? d.createdAt : Number.NaN;
    this.#action[row] = action === -1 ? OTHER : action;
    this.#scope[row] = scope === -1 ? 0 : scope;
    this.#origin[row] = origin === -1 ? 0 : origin;
    this.#flags[row] = USED | (shadow ? SHADOW : 0);
    this.#gen[row] = gen;
    if (d.routes != null) this.#routes.set(row, d.routes);
    if (matcher !== null) this.#matchers.set(row, matcher);
    if (d.rate != null) this.#rates.set(row, d.rate);
    if (d.status != null) this.#statuses.set(row, d.status);
    if (d.delayMs != null) this.#delays.set(row, d.delayMs);
    if (network !== null) this.#file(row, network[0], network[1], d.value);
    if (typeof d.value === "string" && !this.#givesBack(row, network, d.value)) this.#names.set(row, d.value);
    if (this.#whole || !representable(d, action, scope, origin, until)) this.#kept.set(row, d);
    return row;
  }

  /** Where a matchable decision goes: [bucket kind, prefix], the network in #words; null when its value does not parse. */
  #parseFiling(d: Decision): Filing | null {
    switch (d.scope) {
      case "global":
        return [GLOBAL, 0, false];
      case "user":
      case "session":
        return typeof d.value === "string" ? [d.scope === "user" ? USER : SESSION, 0, false] : null;
      case "ip":
      case "range":
        return parseNetwork(d.scope, d.value, this.#words);
      default:
        return null;
    }
  }

  /**
   * Whether a filed row's network gives its value text back (most decisions come canonical), so
   * that #names need not hold it. `network` is what #parseFiling returned.
   */
  #givesBack(row: number, network: Filing | null, value: string): boolean {
    if (network === null || (network[0] !== V4 && network[0] !== V6)) return false;
    return network[2] || this.#networkText(row) === value;
  }

  /** Put a row at the head of its bucket (the network, if any, is in #words). */
  #file(row: number, kind: number, prefix: number, value: string): void {
    const next = this.#next;
    this.#kind[row] = kind;
    this.#filed++;
    if (kind === V4 || kind === V6) {
      const trie = kind === V4 ? this.#v4 : this.#v6;
      // The row goes at the head of the network's bucket: the row it replaces there comes next.
      this.#node[row] = trie.put(this.#words, prefix, row);
      next[row] = trie.replaced;
    } else if (kind === GLOBAL) {
      next[row] = this.#globalHead;
      this.#globalHead = row;
    } else {
      const map = kind === USER ? this.#users : this.#sessions;
      next[row] = map.get(value) ?? -1;
      map.set(value, row);
    }
  }

  /** Take a row out of its bucket; an emptied bucket leaves the trie or map. */
  #unfile(row: number): void {
    const kind = this.#kind[row]!;
    if (kind === UNFILED) return;
    const next = this.#next;
    this.#filed--;
    this.#kind[row] = UNFILED;
    let head: number;
    const trie = kind === V4 ? this.#v4 : kind === V6 ? this.#v6 : null;
    // Before the bucket may go: a trie row's value text is re-created from its node.
    if (trie !== null && !this.#names.has(row)) this.#names.set(row, this.#networkText(row));
    const name = kind === USER || kind === SESSION ? this.#names.get(row)! : "";
    const map = kind === USER ? this.#users : this.#sessions;
    if (trie !== null) head = trie.valueAt(this.#node[row]!)!;
    else if (kind === GLOBAL) head = this.#globalHead;
    else head = map.get(name)!;
    if (head !== row) {
      let r = head;
      while (r !== -1 && next[r] !== row) r = next[r]!;
      if (r !== -1) next[r] = next[row]!;
      return;
    }
    const rest = next[row]!;
    if (trie !== null) {
      const node = this.#node[row]!;
      if (rest !== -1) trie.setValueAt(node, rest);
      else trie.delete(this.#readBack, trie.keyAt(node, this.#readBack));
    } else if (kind === GLOBAL) this.#globalHead = rest;
    else if (rest !== -1) map.set(name, rest);
    else map.delete(name);
  }

  /** Forget what a row holds beyond its id and add order. */
  #clearRow(row: number): void {
    this.#unfile(row);
    this.#routes.delete(row);
    this.#matchers.delete(row);
    this.#rates.delete(row);
    this.#statuses.delete(row);
    this.#delays.delete(row);
    this.#kept.delete(row);
    this.#cache.delete(row);
    this.#names.delete(row);
  }

  #release(row: number): void {
    this.#clearRow(row);
    this.#ids.delete(row);
    this.#flags[row] = 0;
    this.#next[row] = this.#free;
    this.#free = row;
  }

  #allocate(): number {
    if (this.#free !== -1) {
      const row = this.#free;
      this.#free = this.#next[row]!;
      return row;
    }
    if (this.#high === this.#until.length) this.#grow(Math.max(64, this.#high * 2));
    return this.#high++;
  }

  #grow(capacity: number): void {
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(capacity);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(capacity);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(capacity);
      b.set(a);
      return b;
    };
    this.#until = f64(this.#until);
    this.#created = f64(this.#created);
    this.#seq = f64(this.#seq);
    this.#action = u8(this.#action);
    this.#scope = u8(this.#scope);
    this.#origin = u8(this.#origin);
    this.#kind = u8(this.#kind);
    this.#flags = u8(this.#flags);
    this.#gen = i32(this.#gen);
    this.#next = i32(this.#next);
    this.#node = i32(this.#node);
  }

  #asStore(): LocalStore<Decision> {
    const index = this;
    const ids = this.#ids;
    const live = (row: number) => this.#until[row]! > this.#clock.now();
    return {
      get size() {
        return ids.size;
      },
      get(key) {
        const row = ids.get(key);
        if (row === -1) return undefined;
        if (!live(row)) {
          index.#release(row);
          return undefined;
        }
        return index.#decisionAt(row, key);
      },
      *entries() {
        // In row order; `index.#high` is read each step, as rows may be added meanwhile.
        const now = index.#clock.now();
        for (let row = 0; row < index.#high; row++) {
          if ((index.#flags[row]! & USED) === 0 || !(index.#until[row]! > now)) continue;
          const key = ids.idAt(row);
          yield { key, value: index.#decisionAt(row, key), until: index.#until[row]! };
        }
      },
      hold(key, value, until, gen) {
        index.#put(key, value, until, gen, false);
      },
      delete(key) {
        const row = ids.get(key);
        if (row === -1) return false;
        index.#release(row);
        return true;
      },
      sweep: () => this.sweep(),
      confirm(key, gen) {
        const row = ids.get(key);
        if (row !== -1) index.#gen[row] = gen;
      },
      dropUnconfirmed(gen, keep) {
        for (let row = 0; row < index.#high; row++)
          if ((index.#flags[row]! & USED) !== 0 && index.#gen[row] !== gen && !keep(ids.idAt(row)))
            index.#release(row);
      },
      reserve(entries) {
        const rows = Math.min(Math.max(0, Math.floor(entries)) || 0, MAX_RESERVED);
        // Columns sized once for the whole snapshot: doubling would leave each old copy to the GC.
        if (rows > index.#until.length) index.#grow(rows);
        ids.reserve(rows);
      },
    };
  }
}

/**
 * Whether the columns give back `d` exactly, reason aside (which `columns` does not keep beyond
 * its mode): known names, fields of the types section 5 gives them, and the map's expiry its own.
 */
function representable(d: Decision, action: number, scope: number, origin: number, until: number): boolean {
  const mode = d.reason?.mode;
  return (
    action !== -1 &&
    scope !== -1 &&
    origin !== -1 &&
    (mode === "enforce" || mode === "shadow") &&
    typeof d.value === "string" &&
    d.until === until &&
    typeof d.createdAt === "number" &&
    (d.routes === null || (Array.isArray(d.routes) && d.routes.every((r) => typeof r === "string"))) &&
    (d.rate === null || (typeof d.rate?.count === "number" && typeof d.rate.perMs === "number")) &&
    (d.status === null || typeof d.status === "number") &&
    (d.delayMs === null || typeof d.delayMs === "number")
  );
}

/** A throttle's rate as count per perMs; no usable rate counts as an infinite one. */
function usableRate(rate: Rate | undefined): boolean {
  return rate != null && rate.count >= 0 && rate.perMs > 0 && Number.isFinite(rate.perMs);
}

function rateCount(rate: Rate | undefined): number {
  return usableRate(rate) ? rate!.count : Number.POSITIVE_INFINITY;
}

function ratePerMs(rate: Rate | undefined): number {
  return usableRate(rate) ? rate!.perMs : 1;
}

function tarpitDelay(delayMs: number | undefined): number {
  const delay = Number(delayMs ?? null);
  return delay > 0 ? delay : 0;
}

/** The canonical text of a network: an address for `ip`, CIDR for `range` (as parseCidr writes it). */
function networkText(kind: number, words: Int32Array, prefix: number, range: boolean): string {
  let address: string;
  if (kind === V4) {
    const w = words[0]!;
    address = `${(w >>> 24) & 255}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  } else {
    const bytes: number[] = [];
    for (let i = 0; i < 16; i++) bytes.push((words[i >> 2]! >>> (24 - 8 * (i & 3))) & 255);
    address = ipaddr.fromByteArray(bytes).toString();
  }
  return range ? `${address}/${prefix}` : address;
}

/**
 * An ip or range value as [family, prefix length], its network's words written to `words`
 * (most significant first); IPv4-mapped IPv6 is IPv4.
 */
function parseNetwork(scope: "ip" | "range", value: string, words: Int32Array): Filing | null {
  if (typeof value !== "string") return null;
  const v4 = plainIpv4(scope, value, words);
  if (v4 !== -1) return [V4, v4 & 63, v4 < 64];
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
  return [bytes.length === 4 ? V4 : V6, prefix, false];
}

/**
 * The common case of parseNetwork without allocating (a snapshot of a million decisions parses a
 * million of them): an IPv4 address, or a range, in canonical dotted-quad form, no leading zeros
 * (ipaddr.js reads `010` as octal) and a prefix of one or two digits. Writes the network, masked,
 * to `words` and returns its prefix length, plus 64 when the value has host bits set (it is not the
 * network's canonical text); -1 hands anything else to ipaddr.js. Exported for its tests.
 */
export function plainIpv4(scope: "ip" | "range", value: string, words: Int32Array): number {
  const end = scope === "range" ? value.indexOf("/") : value.length;
  if (end === -1 || end > 15 || value.length > 18) return -1;
  const address = dottedQuad(value, 0, end, true);
  if (address === -1) return -1;
  let prefix = 32;
  if (scope === "range") {
    const digits = value.length - end - 1;
    if (digits < 1 || digits > 2) return -1;
    prefix = 0;
    for (let i = end + 1; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57 || (c === 48 && digits === 2 && i === end + 1)) return -1;
      prefix = prefix * 10 + (c - 48);
    }
    if (prefix > 32) return -1;
  }
  words.fill(0);
  const network = prefix === 0 ? 0 : address & (-1 << (32 - prefix));
  words[0] = network;
  // Host bits set (`10.1.2.3/24`): the network is right, its text is not the value.
  return (network | 0) === (address | 0) ? prefix : prefix + 64;
}
