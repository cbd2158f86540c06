/**
 * The background half of a shared rate limit: every `intervalMs` one pipeline carries this
 * replica's claims to Redis and brings back what it was granted. The request path never waits
 * on this: the limiter (src/enforce/rate-limiter.ts) admits from what the last sync granted.
 *
 * A replica's *claim* on a (key, window) is what it has admitted there plus what it may still
 * admit. One Lua script per claim grants more only out of what no replica has claimed, so the
 * replicas together never admit more than the window's count, however stale each one's view.
 *
 * Keys: `gatehouse:{<app>}:rate:<perMs>:<window>:<key>`, a hash with `c:<replica>` (its claim),
 * `u:<replica>` (what it admitted), `#c` and `#u` (their sums). The braces keep one app on one
 * Cluster slot, so a pipeline goes to one node. Every write refreshes a TTL of the window plus
 * the claim horizon and a second of clock skew, so a key outlives its window only briefly.
 *
 * Outages follow failover-store.ts: commands fail at once while disconnected (connectRedis), a
 * pipeline Redis does not answer within `timeoutMs` is failed, and the limiter limits alone until
 * a sync succeeds again. Claims are absolute (what was admitted so far, not what was added), so a
 * claim resent after a failure, or applied late, counts nothing twice.
 */
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { Clock } from "./clock.ts";
import {
  backoff,
  closeRedis,
  connectRedis,
  type RetryOptions,
  type StoreLogger,
  withTimeout,
} from "./redis-connect.ts";

/** One replica's claim on one key in one window. */
export interface RateClaim {
  /** The key as the limiter stores it (bounded in length). */
  readonly key: string;
  readonly perMs: number;
  /** `floor(time / perMs)`: windows are aligned to the epoch. */
  readonly window: number;
  readonly count: number;
  /** Admitted by this replica in the window so far. */
  readonly used: number;
  /** Granted earlier and not yet used, that this replica keeps (the rest it gives back). */
  readonly hold: number;
  /** More it asks for. */
  readonly want: number;
}

/** What Redis answered for one claim. */
export interface RateGrant {
  /** Granted, out of `want`. */
  extra: number;
  /** Claimed by all replicas together, now. */
  claimed: number;
  /** Admitted by all replicas together, as they last said. */
  used: number;
}

/** What RateSync needs of the limiter: the local accounting. */
export interface RateLedger {
  /**
   * The claims to send now; windows starting within `horizonMs` are claimed ahead. `closing`:
   * the last sync before this replica goes away, which gives every claim back.
   */
  collect(now: number, horizonMs: number, closing?: boolean): readonly RateClaim[];
  /** Answers in the order collected; `null` where the claim did not reach Redis. */
  settle(claims: readonly RateClaim[], grants: readonly (RateGrant | null)[]): void;
  /** Whether syncs are succeeding: when not, the limiter limits alone. */
  setShared(shared: boolean): void;
}

export interface RateSyncOptions {
  url: string;
  app: string;
  ledger: RateLedger;
  clock: Clock;
  logger?: StoreLogger;
  /** Default 100 ms. */
  intervalMs?: number;
  /** A sync Redis has not answered after this long is failed (default 1000 ms). */
  timeoutMs?: number;
  retry?: RetryOptions;
}

/** KEYS: the window's hash. ARGV: replica id, used, hold, want, count, TTL ms. */
const CLAIM_LUA = `
local key, id = KEYS[1], ARGV[1]
local used, hold, want, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local was = redis.call('HMGET', key, 'c:' .. id, 'u:' .. id, '#c', '#u')
local claim0, used0 = tonumber(was[1]) or 0, tonumber(was[2]) or 0
local claimed, spent = (tonumber(was[3]) or 0) - claim0, (tonumber(was[4]) or 0) - used0
-- A claim applied late, after a newer one: what was admitted never goes back.
if used < used0 then used = used0 end
local claim = used + hold
local extra = math.max(0, math.min(want, count - claimed - claim))
claim = claim + extra
redis.call('HSET', key, 'c:' .. id, claim, 'u:' .. id, used, '#c', claimed + claim, '#u', spent + used)
redis.call('PEXPIRE', key, ARGV[6])
return {extra, claimed + claim, spent + used}
`;

type Client = (Redis | Cluster) & {
  gatehouseRateClaim(key: string, id: string, ...args: number[]): Promise<unknown>;
};
type Pipeline = Client & { exec(): Promise<[Error | null, unknown][] | null> };

/** Clock skew between replicas that a window key outlives. */
const SKEW_MS = 1000;

export class RateSync {
  readonly #client: Client;
  readonly #prefix: string;
  readonly #ledger: RateLedger;
  readonly #clock: Clock;
  readonly #logger: StoreLogger | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #retryDelay: (attempt: number) => number;
  // Unique across processes, so each replica has its own fields in every window hash.
  readonly #id = randomBytes(9).toString("base64url");
  #inFlight: Promise<void> | null = null;
  #shared = false;
  #outageLogged = false;
  #failures = 0;
  #retryAt = 0;
  #closed = false;

  constructor(options: RateSyncOptions) {
    this.#prefix = `gatehouse:{${options.app}}:rate:`;
    this.#ledger = options.ledger;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#intervalMs = Math.max(10, options.intervalMs ?? 100);
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#retryDelay = backoff(options.retry);
    const client = connectRedis(options.url, options.retry) as Client;
    client.defineCommand("gatehouseRateClaim", { numberOfKeys: 1, lua: CLAIM_LUA });
    // Without an 'error' listener an EventEmitter throws: an outage must never crash us.
    client.on("error", (err: Error) => this.#down(err.message));
    client.on("node error", () => {});
    this.#client = client;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stop syncing; one last sync gives this replica's claims back, then the connection closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    await this.#inFlight;
    this.#retryAt = 0;
    this.#tick(true);
    await this.#inFlight;
    this.#closed = true;
    this.#ledger.setShared(false);
    await closeRedis(this.#client);
  }

  #tick(closing = false): void {
    if (this.#closed || this.#inFlight) return;
    if (this.#client.status !== "ready") {
      // Quietly: the client's 'error' event says why, and is what gets logged.
      this.#ledger.setShared(false);
      this.#shared = false;
      return;
    }
    const now = this.#clock.now();
    if (now < this.#retryAt) return;
    // Two ticks ahead: at least one sync falls before the next window starts.
    const horizonMs = 2 * this.#intervalMs;
    const claims = this.#ledger.collect(now, horizonMs, closing);
    if (claims.length === 0 && (this.#shared || closing)) return;
    const pipeline = this.#client.pipeline() as unknown as Pipeline;
    // Nothing to claim while not shared: a PING says whether Redis answers again.
    if (claims.length === 0) pipeline.ping();
    for (const c of claims) {
      pipeline.gatehouseRateClaim(
        `${this.#prefix}${c.perMs}:${c.window}:${c.key}`,
        this.#id,
        c.used,
        c.hold,
        c.want,
        c.count,
        c.perMs + horizonMs + SKEW_MS,
      );
    }
    this.#inFlight = this.#exchange(pipeline, claims).finally(() => {
      this.#inFlight = null;
    });
  }

  async #exchange(pipeline: Pipeline, claims: readonly RateClaim[]): Promise<void> {
    let replies: [Error | null, unknown][] | null = null;
    let failure: string | undefined;
    try {
      replies = await this.#withTimeout(pipeline.exec());
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    const grants = claims.map((_, i) => {
      const [err, reply] = replies?.[i] ?? [new Error("no reply"), null];
      if (err) failure ??= err.message;
      return err ? null : grant(reply);
    });
    if (claims.length === 0 && !failure) {
      const [err] = replies?.[0] ?? [new Error("no reply")];
      if (err) failure = err.message;
    }
    this.#ledger.settle(claims, grants);
    if (failure) {
      this.#down(failure);
      this.#failures++;
      this.#retryAt = this.#clock.now() + this.#retryDelay(this.#failures);
      return;
    }
    this.#failures = 0;
    this.#retryAt = 0;
    this.#ledger.setShared(true);
    if (!this.#shared && this.#outageLogged)
      this.#logger?.info({ store: "redis", part: "rate-sync" }, "rate limits shared through Redis again");
    this.#shared = true;
    this.#outageLogged = false;
  }

  #down(detail: string): void {
    if (this.#closed) return;
    this.#ledger.setShared(false);
    this.#shared = false;
    // Once per outage, not once per reconnection attempt.
    if (this.#outageLogged) return;
    this.#outageLogged = true;
    this.#logger?.warn(
      { store: "redis", part: "rate-sync", detail },
      "rate limits: Redis unreachable, each replica limits alone",
    );
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.#timeoutMs);
  }
}

function grant(reply: unknown): RateGrant | null {
  if (!Array.isArray(reply) || reply.length < 3) return null;
  const [extra, claimed, used] = reply.map(Number) as [number, number, number];
  return { extra: Math.max(0, extra), claimed, used };
}
