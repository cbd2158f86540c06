/**
 * The Store shared by replicas: windows and histories in Redis, one Lua script per hit
 * (redis-scripts.ts), a batch of hits in one pipeline, so one round trip carries the batch.
 *
 * Keys are `gatehouse:{<app>}:` + the window or history key: the braces are a Cluster hash tag,
 * so all of one app's keys live in one slot, the script's two keys hash together, and a batch's
 * pipeline goes to one node.
 *
 * This store does not hide outages: `hit` rejects at once when the connection is not ready
 * (with a StoreBatchError saying which hits were answered), and after `timeoutMs` when Redis does
 * not answer. failover-store.ts is what turns that into counting locally.
 */
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { StoreState } from "./memory-store.ts";
import {
  closeRedis,
  connectRedis,
  type RetryOptions,
  type StoreLogger,
  withTimeout,
} from "./redis-connect.ts";
import { HIT_LUA, MERGE_LUA } from "./redis-scripts.ts";
import type { HitResult, Store, StoreStatus, WindowHit } from "./store.ts";

export interface RedisStoreOptions {
  /** The `redis` setting (redis-connect.ts lists the forms). */
  url: string;
  /** The `app` setting: the key namespace. */
  app: string;
  logger?: StoreLogger;
  /** A batch Redis has not answered after this long is failed (default 2000 ms). */
  timeoutMs?: number;
  retry?: RetryOptions;
}

/** A batch that failed, wholly or partly; `answered[i]` is set for the hits Redis did answer. */
export class StoreBatchError extends Error {
  readonly code = "STORE_UNAVAILABLE";
  readonly answered: (HitResult | undefined)[];
  constructor(message: string, answered: (HitResult | undefined)[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreBatchError";
    this.answered = answered;
  }
}

type Client = (Redis | Cluster) & {
  gatehouseHit(window: string, history: string, ...args: (string | number)[]): Promise<number>;
  gatehouseMerge(key: string, ...args: (string | number)[]): Promise<number>;
};

const NO_ATTACK: HitResult = Object.freeze({ attack: false });
const MERGE_CHUNK = 1000;

export class RedisStore implements Store {
  readonly #client: Client;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #logger: StoreLogger | undefined;
  readonly #listeners: ((status: StoreStatus) => void)[] = [];
  // Member ids: unique across processes (random prefix), ordered within one (fixed-width counter).
  readonly #memberPrefix = randomBytes(6).toString("base64url");
  #counter = 0;
  #status: StoreStatus = { kind: "redis", status: "degraded", detail: "connecting" };
  #closed = false;

  constructor(options: RedisStoreOptions) {
    this.#prefix = `gatehouse:{${options.app}}:`;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#logger = options.logger;
    const client = connectRedis(options.url, options.retry) as Client;
    client.defineCommand("gatehouseHit", { numberOfKeys: 2, lua: HIT_LUA });
    client.defineCommand("gatehouseMerge", { numberOfKeys: 1, lua: MERGE_LUA });
    // Without an 'error' listener an EventEmitter throws: a Redis outage must never crash us.
    // An error on a connection that stays ready (one Cluster node) is not an outage; the
    // client's own status says which it is.
    const update = (detail: string) => (client.status === "ready" ? this.#setUp() : this.#setDown(detail));
    client.on("error", (err: Error) => update(err.message));
    client.on("node error", (err: Error) => update(err.message));
    client.on("close", () => update("connection closed"));
    client.on("end", () => update("connection ended"));
    client.on("ready", () => update("ready"));
    this.#client = client;
  }

  async hit(hits: readonly WindowHit[]): Promise<HitResult[]> {
    if (hits.length === 0) return [];
    // Checked here because a Cluster without slots would wait for them, whatever the options.
    if (this.#client.status !== "ready")
      throw new StoreBatchError(`Redis is not connected (${this.#status.detail})`);
    const pipeline = this.#client.pipeline() as unknown as Client & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const h of hits) {
      const member = `${this.#memberPrefix}${(this.#counter++).toString(36).padStart(10, "0")}|${h.label}`;
      const m = h.match;
      const tail = m.kind === "count" ? [m.count] : m.labels;
      pipeline.gatehouseHit(
        this.#prefix + h.window,
        this.#prefix + h.history,
        h.time,
        h.time - h.withinMs,
        ttl(h.withinMs),
        h.time - h.memoryMs,
        ttl(h.memoryMs),
        member,
        h.label,
        m.kind,
        ...tail,
      );
    }
    const replies = await this.#withTimeout(pipeline.exec());
    const results = new Array<HitResult | undefined>(hits.length);
    let failure: Error | undefined;
    for (let i = 0; i < hits.length; i++) {
      const [err, nth] = replies?.[i] ?? [new Error("no reply"), null];
      if (err) failure ??= err;
      else results[i] = nth === 0 ? NO_ATTACK : { attack: true, nth: Number(nth) };
    }
    if (failure)
      throw new StoreBatchError(`Redis failed a hit: ${failure.message}`, results, { cause: failure });
    return results as HitResult[];
  }

  /**
   * Add windows and histories counted elsewhere (a MemoryStore during an outage) without
   * evaluating matches: attacks decided locally stay decided. Ids are the events' own, so a
   * merge retried after a partial failure adds nothing twice.
   */
  async merge(state: StoreState): Promise<void> {
    const keys: [string, (string | number)[]][] = [];
    for (const w of state.windows) {
      const args: (string | number)[] = [ttl(w.withinMs)];
      for (const e of w.events) args.push(e.time, `${e.id}|${e.label}`);
      keys.push([this.#prefix + w.key, args]);
    }
    for (const h of state.histories) {
      const args: (string | number)[] = [ttl(h.memoryMs)];
      for (const a of h.attacks) args.push(a.time, a.id);
      keys.push([this.#prefix + h.key, args]);
    }
    // In pipelines of bounded size: after a long outage a replica may hold a million keys.
    for (let from = 0; from < keys.length; from += MERGE_CHUNK) {
      if (this.#client.status !== "ready") throw new StoreBatchError("Redis is not connected");
      const pipeline = this.#client.pipeline() as unknown as Client & {
        exec(): Promise<[Error | null, unknown][] | null>;
      };
      for (const [key, args] of keys.slice(from, from + MERGE_CHUNK)) pipeline.gatehouseMerge(key, ...args);
      const replies = await this.#withTimeout(pipeline.exec());
      const failed = replies === null ? new Error("no reply") : replies.find(([err]) => err)?.[0];
      if (failed) throw new StoreBatchError(`Redis failed a merge: ${failed.message}`, [], { cause: failed });
    }
  }

  status(): StoreStatus {
    return this.#status;
  }

  onStatusChange(listener: (status: StoreStatus) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await closeRedis(this.#client);
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(
      promise,
      this.#timeoutMs,
      (ms) => new StoreBatchError(`Redis did not answer within ${ms} ms`),
    );
  }

  #setUp(): void {
    if (this.#status.status === "up") return;
    this.#status = { kind: "redis", status: "up" };
    this.#logger?.info({ store: "redis" }, "shared store connected");
    for (const listener of this.#listeners) listener(this.#status);
  }

  #setDown(detail: string): void {
    if (this.#closed) return;
    // ioredis reports every failed reconnection: keep the first reason, log once per outage
    // (the first outage being "not connected yet", which has no listener to tell).
    if (this.#status.status === "degraded") {
      if (this.#status.detail !== "connecting") return;
      this.#status = { kind: "redis", status: "degraded", detail };
      this.#logger?.warn({ store: "redis", detail }, "shared store unreachable");
      return;
    }
    this.#status = { kind: "redis", status: "degraded", detail };
    this.#logger?.warn({ store: "redis", detail }, "shared store unreachable");
    for (const listener of this.#listeners) listener(this.#status);
  }
}

/** PEXPIRE takes a positive integer. */
function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
