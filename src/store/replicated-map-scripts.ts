/**
 * The Redis side of RedisReplicatedMap: where one map lives, the scripts that change it and the
 * change messages replicas exchange.
 *
 * Keys, all under `gatehouse:{<app>}:<name>:` (the braces are a Cluster hash tag: one map, one slot,
 * so a script's keys and a snapshot's MGET land on one node):
 *
 *   …:e:<key>   a string, the encoded value; PX = until - now
 *   …:index     a sorted set of keys scored by `until`; its PEXPIRE follows the latest until
 *   …:version   a counter, INCR on every change; PEXPIRE 366 days (or longer), refreshed each time
 *   …:changes   the pub/sub channel (not a key): one message per change
 *
 * A change is one script: write the entry, the index, INCR the version and PUBLISH, atomically, so
 * versions and messages come in one order and a replica that sees version n has seen every change
 * up to n or knows it missed one. A message is `<version>\n<header>\n<encoded value>`, the header
 * the JSON array `[op, replica, seq, key, until]` (JSON.stringify leaves no newline in it).
 */

import type { Cluster, Redis } from "ioredis";

/** Every key Gatehouse writes has a TTL: the version counter outlives any quiet year. */
export const META_TTL_MS = 366 * 24 * 3_600_000;

export interface MapKeys {
  /** Prefix of the entry keys: `gatehouse:{app}:name:e:` + key. */
  entry: string;
  index: string;
  version: string;
  channel: string;
}

export function mapKeys(app: string, name: string): MapKeys {
  const base = `gatehouse:{${app}}:${name}:`;
  return { entry: `${base}e:`, index: `${base}index`, version: `${base}version`, channel: `${base}changes` };
}

/**
 * KEYS: entry, index, version. ARGV: encoded value, until, entry TTL ms, now, version TTL ms,
 * message header, channel, index member (the key). Returns the new version.
 * Members that expired are pruned from the index here, so it never outgrows the live entries.
 */
export const SET_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
local v = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[7], v .. '\\n' .. ARGV[6] .. '\\n' .. ARGV[1])
return v
`;

/**
 * KEYS: entry, index, version. ARGV: version TTL ms, message header, channel, index member.
 * Announced even when the key is absent: the deleting replica waits for its own echo (see
 * RedisReplicatedMap's pending writes), and every version has its message.
 */
export const DELETE_LUA = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[4])
local v = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[3], v .. '\\n' .. ARGV[2] .. '\\n')
return v
`;

/**
 * Drop index members whose entry is gone (evicted under maxmemory, or deleted by hand), but only
 * if it is still gone: a replica may have set it again since the snapshot looked.
 * KEYS: index, then the entries. ARGV: the members, in the same order. Returns how many went.
 */
export const PRUNE_LUA = `
local n = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then n = n + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return n
`;

/** A client with the scripts defined (defineMapCommands). */
export type MapClient = (Redis | Cluster) & {
  ghMapSet(entry: string, index: string, version: string, ...args: (string | number)[]): Promise<number>;
  ghMapDelete(entry: string, index: string, version: string, ...args: (string | number)[]): Promise<number>;
  /** Dynamic keys: the key count first. */
  ghMapPrune(...args: string[]): Promise<number>;
};

export function defineMapCommands(client: Redis | Cluster): MapClient {
  client.defineCommand("ghMapSet", { numberOfKeys: 3, lua: SET_LUA });
  client.defineCommand("ghMapDelete", { numberOfKeys: 3, lua: DELETE_LUA });
  client.defineCommand("ghMapPrune", { lua: PRUNE_LUA });
  return client as MapClient;
}

export interface ChangeMessage {
  version: number;
  op: "s" | "d";
  /** The publishing replica's random id: a replica ignores its own echoes. */
  replica: string;
  /** That replica's write sequence number. */
  seq: number;
  key: string;
  until: number;
  /** The encoded value ("" for a delete). */
  value: string;
}

export function changeHeader(
  op: "s" | "d",
  replica: string,
  seq: number,
  key: string,
  until: number,
): string {
  return JSON.stringify([op, replica, seq, key, until]);
}

/** A message from the channel, or null when it is not one of ours (anyone may PUBLISH). */
export function parseChange(message: string): ChangeMessage | null {
  const a = message.indexOf("\n");
  const b = a < 0 ? -1 : message.indexOf("\n", a + 1);
  if (b < 0) return null;
  const version = Number(message.slice(0, a));
  let header: unknown;
  try {
    header = JSON.parse(message.slice(a + 1, b));
  } catch {
    return null;
  }
  if (!Array.isArray(header) || header.length !== 5 || !Number.isSafeInteger(version)) return null;
  const [op, replica, seq, key, until] = header as unknown[];
  if ((op !== "s" && op !== "d") || typeof replica !== "string" || typeof key !== "string") return null;
  if (typeof seq !== "number" || typeof until !== "number") return null;
  return { version, op, replica, seq, key, until, value: message.slice(b + 1) };
}
