/**
 * Incidents shared by replicas, in Redis. One Lua script applies one IncidentUpdate (find the
 * actor's open incident, open or hold, merge, index), so two replicas updating the same incident
 * at once serialise on the server, and exactly one sees the attempt → success transition.
 *
 * Keys, all under `gatehouse:{<app>}:` (one Cluster slot, so the script may touch the incident
 * key it finds through an index, which is not known before it runs):
 *   inc:z           sorted set of incident ids by lastSeen (the listing), capped at MAX_INCIDENTS
 *   inc:i:<id>      the incident, JSON; TTL retention
 *   inc:x:<key>     identity key (`ip:…`, `user:…`, `session:…`) → open incident id; TTL window
 *   inc:p:<key>     events held before an incident opens, JSON; TTL window
 *   inc:d:<name>    a digest claim; TTL the interval
 * Every write sets a TTL in the same step.
 *
 * Like RedisStore, this store does not hide outages: calls fail at once when not connected and
 * after `timeoutMs` when Redis does not answer; FailoverIncidentStore records locally instead.
 */
import type { Cluster, Redis } from "ioredis";
import type { EventOutcome } from "../events/event.ts";
import type { Incident, IncidentQuery, IncidentResult, IncidentUpdate } from "./incident.ts";
import { INCIDENT_BOUNDS } from "./incident.ts";
import {
  closeRedis,
  connectRedis,
  type RetryOptions,
  type StoreLogger,
  withTimeout,
} from "./redis-connect.ts";
import type { StoreStatus } from "./store.ts";

const MAX_INCIDENTS = 10_000;

// cjson encodes an empty table as `{}`: arrays are normalised when read back (normalise below).
const MERGE = `
local rank = { attempt = 0, blocked = 1, success = 2 }
local function worst(a, b) if rank[b] > rank[a] then return b end return a end
local function add(list, items, max, same)
  for _, item in ipairs(items) do
    if #list >= max then break end
    local dup = false
    for _, x in ipairs(list) do if same(x, item) then dup = true break end end
    if not dup then list[#list + 1] = item end
  end
end
local function eqs(a, b) return a == b end
local function eqe(a, b) return a.kind == b.kind and a.detail == b.detail and a.requestId == b.requestId end
local function eqr(a, b) return a.response == b.response and a.mode == b.mode end
`;

/**
 * KEYS: the listing, then the update's index keys, then its held keys (same order as its keys).
 * ARGV: key prefix, the update as JSON, the listing's cap.
 * Returns "" when the event was only held, else JSON {incident, opened, breached}.
 */
export const RECORD_LUA = `${MERGE}
local u = cjson.decode(ARGV[2])
local prefix, cap = ARGV[1], tonumber(ARGV[3])
local n = #u.keys
local dpMax, evMax, rsMax = ${INCIDENT_BOUNDS.detectionPoints}, ${INCIDENT_BOUNDS.evidence}, ${INCIDENT_BOUNDS.responses}

local record, found = nil, false
for i = 1, n do
  local id = redis.call('GET', KEYS[1 + i])
  if id then
    local raw = redis.call('GET', prefix .. 'inc:i:' .. id)
    if raw then
      local candidate = cjson.decode(raw)
      -- Another user's incident (a shared address or session): not this update's.
      local theirs = candidate.actor and candidate.actor.user
      local mine = u.actor and u.actor.user
      local other = type(theirs) == 'string' and type(mine) == 'string' and theirs ~= mine
      if not other then record = candidate found = true break end
    end
  end
end

if not record and not u.opens then
  if type(u.pending) == 'string' then
    local hk
    for i = 1, n do if u.keys[i] == u.pending then hk = KEYS[1 + n + i] end end
    if hk then
      local raw = redis.call('GET', hk)
      local p
      if raw then
        p = cjson.decode(raw)
        p.firstSeen = math.min(p.firstSeen, u.time)
        p.lastSeen = math.max(p.lastSeen, u.time)
        p.events = p.events + u.events
        p.outcome = worst(p.outcome, u.outcome)
        if type(p.detectionPoints) ~= 'table' then p.detectionPoints = {} end
        add(p.detectionPoints, u.detectionPoints, dpMax, eqs)
      else
        p = { firstSeen = u.time, lastSeen = u.time, events = u.events, outcome = u.outcome, detectionPoints = {} }
        add(p.detectionPoints, u.detectionPoints, dpMax, eqs)
      end
      redis.call('SET', hk, cjson.encode(p), 'PX', u.windowMs)
    end
  end
  return ''
end

local before = nil
if not record then
  record = { id = u.id, outcome = 'attempt', actor = {}, firstSeen = u.time, lastSeen = u.time,
    detectionPoints = {}, events = 0, attacks = 0, evidence = {}, responses = {} }
  for i = 1, n do
    local raw = redis.call('GET', KEYS[1 + n + i])
    if raw then
      local p = cjson.decode(raw)
      record.firstSeen = math.min(record.firstSeen, p.firstSeen)
      record.lastSeen = math.max(record.lastSeen, p.lastSeen)
      record.events = record.events + p.events
      record.outcome = worst(record.outcome, p.outcome)
      if type(p.detectionPoints) == 'table' then add(record.detectionPoints, p.detectionPoints, dpMax, eqs) end
      redis.call('DEL', KEYS[1 + n + i])
    end
  end
else
  before = record.outcome
  for _, f in ipairs({ 'detectionPoints', 'evidence', 'responses' }) do
    if type(record[f]) ~= 'table' then record[f] = {} end
  end
end

for _, k in ipairs({ 'ip', 'range', 'session', 'user' }) do
  if record.actor[k] == nil and u.actor[k] ~= nil then record.actor[k] = u.actor[k] end
end
record.outcome = worst(record.outcome, u.outcome)
record.firstSeen = math.min(record.firstSeen, u.time)
record.lastSeen = math.max(record.lastSeen, u.time)
add(record.detectionPoints, u.detectionPoints, dpMax, eqs)
record.events = record.events + u.events
record.attacks = record.attacks + u.attacks
add(record.evidence, u.evidence, evMax, eqe)
add(record.responses, u.responses, rsMax, eqr)

local breached = record.outcome == 'success' and before ~= 'success'
local ikey = prefix .. 'inc:i:' .. record.id
redis.call('SET', ikey, cjson.encode(record), 'PX', u.retentionMs)
redis.call('ZADD', KEYS[1], record.lastSeen, record.id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', u.time - u.retentionMs))
local size = redis.call('ZCARD', KEYS[1])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - cap - 1) end
redis.call('PEXPIRE', KEYS[1], u.retentionMs)
for i = 1, n do
  local current = redis.call('GET', KEYS[1 + i])
  if not current or current == record.id or redis.call('EXISTS', prefix .. 'inc:i:' .. current) == 0 then
    redis.call('SET', KEYS[1 + i], record.id, 'PX', u.windowMs)
  end
end
return cjson.encode({ incident = record, opened = not found, breached = breached })
`;

/**
 * KEYS: the listing. ARGV: key prefix, since (a score or -inf), outcome, ip, user ('' for any), limit.
 * Returns the matching incidents' JSON, most recently active first.
 */
export const LIST_LUA = `
local prefix, limit = ARGV[1], tonumber(ARGV[6])
local outcome, ip, user = ARGV[3], ARGV[4], ARGV[5]
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('GET', prefix .. 'inc:i:' .. id)
  if raw then
    local r = cjson.decode(raw)
    if (outcome == '' or r.outcome == outcome) and (ip == '' or r.actor.ip == ip)
      and (user == '' or r.actor.user == user) then
      out[#out + 1] = raw
      if #out >= limit then break end
    end
  end
end
return out
`;

type Client = (Redis | Cluster) & {
  gatehouseIncident(...args: (string | number)[]): Promise<string>;
  gatehouseIncidents(...args: (string | number)[]): Promise<string[]>;
};

/** A batch that failed, wholly or partly; `answered[i]` is set for the updates Redis did apply. */
export class IncidentBatchError extends Error {
  readonly code = "STORE_UNAVAILABLE";
  readonly answered: (IncidentResult | undefined)[];
  constructor(message: string, answered: (IncidentResult | undefined)[] = []) {
    super(message);
    this.name = "IncidentBatchError";
    this.answered = answered;
  }
}

export interface RedisIncidentStoreOptions {
  url: string;
  app: string;
  logger?: StoreLogger;
  timeoutMs?: number;
  retry?: RetryOptions;
}

const HELD: IncidentResult = Object.freeze({ incident: null, opened: false, breached: false });

export class RedisIncidentStore {
  readonly #client: Client;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #listeners: ((status: StoreStatus) => void)[] = [];
  #status: StoreStatus = { kind: "redis", status: "degraded", detail: "connecting" };
  #closed = false;

  constructor(options: RedisIncidentStoreOptions) {
    this.#prefix = `gatehouse:{${options.app}}:`;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    const client = connectRedis(options.url, options.retry) as Client;
    client.defineCommand("gatehouseIncident", { lua: RECORD_LUA });
    client.defineCommand("gatehouseIncidents", { numberOfKeys: 1, lua: LIST_LUA });
    // The counting store logs connection changes; this one only follows them (and must listen
    // for 'error', or an outage would throw).
    const update = () => {
      const next: StoreStatus =
        client.status === "ready"
          ? { kind: "redis", status: "up" }
          : { kind: "redis", status: "degraded", detail: `Redis connection ${client.status}` };
      if (next.status === this.#status.status || this.#closed) return;
      this.#status = next;
      for (const listener of this.#listeners) listener(next);
    };
    for (const event of ["error", "node error", "close", "end", "ready"]) client.on(event, update);
    this.#client = client;
  }

  async record(updates: readonly IncidentUpdate[]): Promise<IncidentResult[]> {
    if (updates.length === 0) return [];
    if (this.#client.status !== "ready") throw new IncidentBatchError("Redis is not connected");
    const pipeline = this.#client.pipeline() as unknown as Client & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    const listing = `${this.#prefix}inc:z`;
    for (const u of updates) {
      const keys = [
        listing,
        ...u.keys.map((k) => `${this.#prefix}inc:x:${k}`),
        ...u.keys.map((k) => `${this.#prefix}inc:p:${k}`),
      ];
      // numberOfKeys is per call: the number of identities varies.
      pipeline.gatehouseIncident(keys.length, ...keys, this.#prefix, JSON.stringify(u), MAX_INCIDENTS);
    }
    const replies = await withTimeout(
      pipeline.exec(),
      this.#timeoutMs,
      (ms) => new IncidentBatchError(`Redis did not answer within ${ms} ms`),
    );
    const results = new Array<IncidentResult | undefined>(updates.length);
    let failure: Error | undefined;
    for (let i = 0; i < updates.length; i++) {
      const [err, reply] = replies?.[i] ?? [new Error("no reply"), null];
      if (err) failure ??= err;
      else if (reply === "" || reply === null) results[i] = HELD;
      else {
        const parsed = JSON.parse(String(reply)) as { incident: unknown; opened: boolean; breached: boolean };
        results[i] = {
          incident: normalise(parsed.incident),
          opened: parsed.opened === true,
          breached: parsed.breached === true,
        };
      }
    }
    if (failure) throw new IncidentBatchError(`Redis failed an incident update: ${failure.message}`, results);
    return results as IncidentResult[];
  }

  async list(query: IncidentQuery): Promise<Incident[]> {
    if (this.#client.status !== "ready") throw new IncidentBatchError("Redis is not connected");
    const raw = await withTimeout(
      this.#client.gatehouseIncidents(
        `${this.#prefix}inc:z`,
        this.#prefix,
        query.since === null ? "-inf" : String(query.since),
        query.outcome ?? "",
        query.ip ?? "",
        query.user ?? "",
        query.limit,
      ),
      this.#timeoutMs,
    );
    return raw.map((text) => normalise(JSON.parse(text)));
  }

  async claim(name: string, ttlMs: number): Promise<boolean> {
    if (this.#client.status !== "ready") throw new IncidentBatchError("Redis is not connected");
    const reply = await withTimeout(
      this.#client.set(`${this.#prefix}inc:d:${name}`, "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX"),
      this.#timeoutMs,
    );
    return reply === "OK";
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
}

const asList = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** An incident as Lua's cjson wrote it: empty lists come back as `{}`, null as absent. */
function normalise(value: unknown): Incident {
  const r = value as Record<string, unknown>;
  const actor = (r.actor && typeof r.actor === "object" ? r.actor : {}) as Incident["actor"];
  return {
    id: String(r.id),
    outcome: r.outcome as EventOutcome,
    actor: { ...actor },
    firstSeen: Number(r.firstSeen),
    lastSeen: Number(r.lastSeen),
    detectionPoints: asList<string>(r.detectionPoints),
    events: Number(r.events),
    attacks: Number(r.attacks),
    evidence: asList<Incident["evidence"][number]>(r.evidence).map((e) => ({
      kind: e.kind,
      detail: e.detail,
      requestId: e.requestId ?? null,
    })),
    responses: asList<Incident["responses"][number]>(r.responses),
  };
}
