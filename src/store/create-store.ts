/**
 * The one place the `redis` setting picks a store: memory when there is none, otherwise Redis
 * with a MemoryStore to fall back on while Redis is away (failover-store.ts).
 */
import type { Clock } from "./clock.ts";
import { FailoverStore } from "./failover-store.ts";
import { MemoryStore } from "./memory-store.ts";
import type { StoreLogger } from "./redis-connect.ts";
import { RedisStore } from "./redis-store.ts";
import type { Store } from "./store.ts";

export interface CreateStoreOptions {
  /** The `redis` setting; null keeps all state in this process. */
  redis: string | null;
  /** The `app` setting: the Redis key namespace. */
  app: string;
  clock: Clock;
  logger?: StoreLogger;
  /** MemoryStore bound (also the fallback's); default 1 000 000 keys. */
  maxKeys?: number;
}

export function createStore(options: CreateStoreOptions): Store {
  const memory = new MemoryStore({
    clock: options.clock,
    ...(options.maxKeys ? { maxKeys: options.maxKeys } : {}),
  });
  if (options.redis === null) return memory;
  const logger = options.logger ? { logger: options.logger } : {};
  const redis = new RedisStore({ url: options.redis, app: options.app, ...logger });
  return new FailoverStore(redis, memory, logger);
}
