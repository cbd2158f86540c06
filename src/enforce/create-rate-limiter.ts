/**
 * The one place the `redis` setting picks how throttle rates are counted: in this process when
 * there is none (exact), otherwise locally with a background sync through Redis so the rate
 * holds across replicas (src/store/rate-sync.ts). Either way `take` never does I/O.
 */
import type { Clock } from "../store/clock.ts";
import { RateSync } from "../store/rate-sync.ts";
import type { StoreLogger } from "../store/redis-connect.ts";
import { LocalRateLimiter, type RateLimiter } from "./rate-limiter.ts";

export interface CreateRateLimiterOptions {
  /** The `redis` setting; null counts in this process only. */
  redis: string | null;
  /** The `app` setting: the Redis key namespace. */
  app: string;
  clock: Clock;
  logger?: StoreLogger;
  /** How often local counts go to Redis and shares come back (default 100 ms). */
  syncIntervalMs?: number;
  /** Distinct keys held at most (default 100 000). */
  maxKeys?: number;
}

export function createRateLimiter(options: CreateRateLimiterOptions): RateLimiter {
  const local = new LocalRateLimiter(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys });
  if (options.redis === null) return local;
  const sync = new RateSync({
    url: options.redis,
    app: options.app,
    ledger: local,
    clock: options.clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.syncIntervalMs === undefined ? {} : { intervalMs: options.syncIntervalMs }),
  });
  return {
    take: (key, rate, now) => local.take(key, rate, now),
    sweep: (now) => local.sweep(now),
    async close() {
      await sync.close();
      await local.close();
    },
  };
}
