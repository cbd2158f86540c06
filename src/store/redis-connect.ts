/**
 * The `redis` setting, as a URL, to an ioredis client: one server, a Sentinel group or a Cluster.
 *
 *   redis://[[user]:password@]host[:port][/db]            rediss:// for TLS
 *   redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER[/db][?sentinelPassword=…]
 *   redis+cluster://[[user]:password@]host[:port][,host[:port]…]
 *
 * The client is tuned for a store that has somewhere else to go (failover-store.ts): commands
 * fail at once while disconnected instead of queueing (a queued hit is a request left waiting),
 * nothing is resent after a reconnect (a resent hit would be counted twice), and reconnection
 * backs off exponentially up to a cap, forever.
 */
import { createRequire } from "node:module";
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { parseRedisUrl } from "../config/redis-url.ts";

export { parseRedisUrl, type RedisNode, type RedisTarget } from "../config/redis-url.ts";

/** What the store logs through: pino's `Logger` fits. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RetryOptions {
  /** First reconnection delay; doubled at each failed attempt. */
  baseMs?: number;
  /** The cap: a replica retries at least this often for as long as Redis is gone. */
  maxMs?: number;
}

/** Capped exponential backoff with jitter, so replicas do not reconnect in lockstep. */
export function backoff(options: RetryOptions = {}): (attempt: number) => number {
  const base = options.baseMs ?? 50;
  const max = options.maxMs ?? 5000;
  return (attempt) => Math.min(max, base * 2 ** Math.min(attempt - 1, 30)) + Math.floor(Math.random() * base);
}

/**
 * ioredis, loaded on first use: a Gatehouse without `--redis` never pays its ~9 MB of memory.
 * (ioredis is CommonJS, so `require` loads it synchronously.)
 */
let ioredis: typeof import("ioredis") | null = null;
function client(): typeof import("ioredis") {
  ioredis ??= createRequire(import.meta.url)("ioredis") as typeof import("ioredis");
  return ioredis;
}

export function connectRedis(url: string, retry: RetryOptions = {}): Redis | Cluster {
  const { Cluster, Redis } = client();
  const target = parseRedisUrl(url);
  const retryStrategy = backoff(retry);
  const credentials = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
  };
  const connection = {
    ...credentials,
    ...(target.tls ? { tls: {} } : {}),
    connectionName: "gatehouse",
    connectTimeout: 5000,
    // A hit is never worth a resend: it may already have been applied.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  } satisfies RedisOptions;
  if (target.mode === "cluster") {
    return new Cluster(target.nodes, {
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      redisOptions: connection,
      // Bounded: a failover shorter than this is ridden out; a longer one falls back to memory.
      maxRedirections: 8,
      retryDelayOnFailover: 100,
    });
  }
  // The subscriber subscribes again on every 'ready' itself (redis-replicated-map.ts). ioredis's own
  // resubscribe leaves its promise without a handler, and a connection lost just after 'ready'
  // made that an unhandled rejection ("Stream isn't writeable"), which ends a Node process.
  const common: RedisOptions = {
    ...connection,
    db: target.db,
    enableOfflineQueue: false,
    autoResubscribe: false,
    retryStrategy,
  };
  if (target.mode === "sentinel") {
    return new Redis({
      ...common,
      sentinels: target.sentinels,
      name: target.name,
      ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword }),
      ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: retryStrategy,
    });
  }
  return new Redis({ ...common, host: target.node.host, port: target.node.port });
}

/**
 * `promise`, or a rejection with `makeError(ms)` once `ms` pass: a Redis that stops answering
 * must not hold a batch (or a request waiting on it) forever.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  makeError: (ms: number) => Error = (t) => new Error(`Redis did not answer within ${t} ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(makeError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Say goodbye to Redis if it is there to hear it, then drop the connection whatever happened. */
export async function closeRedis(client: {
  status: string;
  quit(): Promise<unknown>;
  disconnect(): void;
}): Promise<void> {
  try {
    if (client.status === "ready") await client.quit();
  } catch {
    // Closing anyway.
  }
  client.disconnect();
}
