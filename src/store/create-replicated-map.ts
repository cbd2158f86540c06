/**
 * The one place the `redis` setting picks how a ReplicatedMap is shared: in this process only
 * when there is no Redis, otherwise through Redis (redis-replicated-map.ts), under
 * `gatehouse:{<app>}:<name>:`.
 */
import type { Clock } from "./clock.ts";
import type { LocalStore } from "./local-view.ts";
import type { StoreLogger } from "./redis-connect.ts";
import { type MapCodec, RedisReplicatedMap } from "./redis-replicated-map.ts";
import { MemoryReplicatedMap, type ReplicatedMap } from "./replicated-map.ts";

export interface CreateReplicatedMapOptions<V> {
  /** The `redis` setting; null keeps the map in this process. */
  redis: string | null;
  /** The `app` setting: the Redis key namespace. */
  app: string;
  /** The map's name within the app (`decisions`, `sessions`): part of its keys. */
  name: string;
  /** How values are stored in Redis; `decode` returns null for what it does not accept. */
  codec: MapCodec<V>;
  clock: Clock;
  logger?: StoreLogger;
  /** Entries held in this process at most (default: no bound); the oldest set go first. */
  maxEntries?: number;
  /** Where entries are kept in this process (default a LocalView); see LocalStore. */
  local?: LocalStore<V>;
}

export function createReplicatedMap<V>(options: CreateReplicatedMapOptions<V>): ReplicatedMap<V> {
  const bound = {
    ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    ...(options.local === undefined ? {} : { local: options.local }),
  };
  if (options.redis === null) return new MemoryReplicatedMap<V>({ clock: options.clock, ...bound });
  return new RedisReplicatedMap<V>({
    url: options.redis,
    app: options.app,
    name: options.name,
    codec: options.codec,
    clock: options.clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...bound,
  });
}
