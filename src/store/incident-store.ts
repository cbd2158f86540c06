/**
 * Where incidents live (DESIGN section 6): one interface, a memory implementation for one
 * process, Redis for replicas (redis-incident-store.ts), and a failover in front of Redis that
 * keeps recording locally while Redis is away. One contract suite (test/contract/) holds them to
 * the same behaviour.
 *
 * `record` applies each update atomically: finding the actor's open incident, opening one (with
 * the actor's held events folded in) or holding the event, merging, and telling whether this
 * update turned the incident into a breach. Across replicas sharing Redis exactly one update
 * sees that transition, so exactly one replica pages and counts it.
 *
 * Memory is bounded (incidents, held actors and identity keys each by count, oldest written
 * forgotten first), and everything expires: an identity key and held events `windowMs` after the
 * actor was last seen, an incident `retentionMs` after it was last updated. Time is the injected
 * clock (simulate replays by event time).
 */
import type { Clock } from "./clock.ts";
import {
  addPending,
  applyUpdate,
  type Incident,
  type IncidentQuery,
  type IncidentResult,
  type IncidentUpdate,
  matchesQuery,
  openIncident,
  type Pending,
} from "./incident.ts";
import { OldestFirst } from "./oldest-first.ts";
import type { StoreLogger } from "./redis-connect.ts";
import { RedisIncidentStore } from "./redis-incident-store.ts";
import type { StoreStatus } from "./store.ts";

export interface IncidentStore {
  /** Apply updates in order; results in the same order. Never rejects for an outage when it can fall back. */
  record(updates: readonly IncidentUpdate[]): Promise<IncidentResult[]>;
  /** Incidents matching `query`, most recently active first. */
  list(query: IncidentQuery): Promise<Incident[]>;
  /**
   * True for one caller only per `name` until `ttlMs` pass, across every replica sharing the
   * store: which replica sends a channel's digest for one interval.
   */
  claim(name: string, ttlMs: number): Promise<boolean>;
  status(): StoreStatus;
  onStatusChange(listener: (status: StoreStatus) => void): void;
  close(): Promise<void>;
}

/** Most incidents listed (and kept in memory, and in Redis' index). */
export const MAX_INCIDENTS = 10_000;

export interface MemoryIncidentStoreOptions {
  clock: Clock;
  /** Incidents kept at most (default 10 000). */
  maxIncidents?: number;
  /** Actors with held events, and identity keys, kept at most each (default 100 000). */
  maxActors?: number;
}

interface Timed<T> {
  value: T;
  expires: number;
}

const STATUS: StoreStatus = Object.freeze({ kind: "memory", status: "up" });
const HELD: IncidentResult = Object.freeze({ incident: null, opened: false, breached: false });

export class MemoryIncidentStore implements IncidentStore {
  readonly #clock: Clock;
  readonly #maxIncidents: number;
  readonly #maxActors: number;
  // Maps in write order (every write deletes and re-inserts), so the last is the latest.
  readonly #incidents = new Map<string, Timed<Incident>>();
  readonly #index = new Map<string, Timed<string>>();
  readonly #held = new Map<string, Timed<Pending>>();
  readonly #claims = new Map<string, number>();
  readonly #incidentOrder = new OldestFirst<string, Timed<Incident>>();
  readonly #indexOrder = new OldestFirst<string, Timed<string>>();
  readonly #heldOrder = new OldestFirst<string, Timed<Pending>>();

  constructor(options: MemoryIncidentStoreOptions) {
    this.#clock = options.clock;
    this.#maxIncidents = options.maxIncidents ?? MAX_INCIDENTS;
    this.#maxActors = options.maxActors ?? 100_000;
  }

  record(updates: readonly IncidentUpdate[]): Promise<IncidentResult[]> {
    return Promise.resolve(updates.map((u) => this.recordNow(u)));
  }

  /** One update, synchronously (the failover store applies what Redis did not answer). */
  recordNow(u: IncidentUpdate): IncidentResult {
    const now = this.#clock.now();
    let found: Incident | null = null;
    for (const key of u.keys) {
      const id = live(this.#index.get(key), now);
      const incident = id === undefined ? undefined : live(this.#incidents.get(id), now);
      if (incident && !otherUser(incident, u)) {
        found = incident;
        break;
      }
    }
    if (found === null && !u.opens) {
      if (u.pending !== null) {
        const held = addPending(live(this.#held.get(u.pending), now) ?? null, u);
        set(this.#held, this.#heldOrder, u.pending, { value: held, expires: now + u.windowMs });
        this.#heldOrder.trim(this.#held, this.#maxActors);
      }
      return HELD;
    }
    let incident: Incident;
    if (found === null) {
      const held: Pending[] = [];
      for (const key of u.keys) {
        const p = live(this.#held.get(key), now);
        if (p) held.push(p);
        this.#held.delete(key);
      }
      incident = openIncident(u, held);
    } else {
      incident = applyUpdate(found, u);
    }
    const breached = incident.outcome === "success" && (found === null || found.outcome !== "success");
    set(this.#incidents, this.#incidentOrder, incident.id, {
      value: incident,
      expires: now + u.retentionMs,
    });
    this.#incidentOrder.trim(this.#incidents, this.#maxIncidents);
    for (const key of u.keys) {
      const current = live(this.#index.get(key), now);
      // An identity already leading to another open incident keeps leading there.
      if (current !== undefined && current !== incident.id && live(this.#incidents.get(current), now))
        continue;
      set(this.#index, this.#indexOrder, key, { value: incident.id, expires: now + u.windowMs });
    }
    this.#indexOrder.trim(this.#index, this.#maxActors);
    return { incident, opened: found === null, breached };
  }

  list(query: IncidentQuery): Promise<Incident[]> {
    return Promise.resolve(this.listNow(query));
  }

  listNow(query: IncidentQuery): Incident[] {
    const now = this.#clock.now();
    const out: Incident[] = [];
    const all = [...this.#incidents.values()];
    for (let i = all.length - 1; i >= 0 && out.length < query.limit; i--) {
      const incident = live(all[i], now);
      if (incident && matchesQuery(incident, query)) out.push(incident);
    }
    return out;
  }

  claim(name: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.claimNow(name, ttlMs));
  }

  claimNow(name: string, ttlMs: number): boolean {
    const now = this.#clock.now();
    for (const [key, expires] of this.#claims) if (expires <= now) this.#claims.delete(key);
    if (this.#claims.has(name)) return false;
    this.#claims.set(name, now + ttlMs);
    return true;
  }

  /** Incidents, held actors and identity keys currently kept (for the bound's tests). */
  get sizes(): { incidents: number; held: number; index: number } {
    return { incidents: this.#incidents.size, held: this.#held.size, index: this.#index.size };
  }

  status(): StoreStatus {
    return STATUS;
  }

  onStatusChange(_listener: (status: StoreStatus) => void): void {
    // Memory never changes status.
  }

  async close(): Promise<void> {}
}

function live<T>(entry: Timed<T> | undefined, now: number): T | undefined {
  return entry !== undefined && entry.expires > now ? entry.value : undefined;
}

function set<T>(
  map: Map<string, Timed<T>>,
  order: OldestFirst<string, Timed<T>>,
  key: string,
  value: Timed<T>,
) {
  map.delete(key);
  map.set(key, value);
  order.push(key, value);
}

/**
 * Redis while it answers, memory while it does not. Incidents recorded locally during an outage
 * stay local (they are not merged into Redis later): they are listed alongside the shared ones
 * until they expire, and a breach seen by two replicas during an outage may page twice
 * (docs/incidents.md).
 */
export class FailoverIncidentStore implements IncidentStore {
  readonly #redis: RedisIncidentStore;
  readonly #memory: MemoryIncidentStore;

  constructor(redis: RedisIncidentStore, memory: MemoryIncidentStore) {
    this.#redis = redis;
    this.#memory = memory;
  }

  async record(updates: readonly IncidentUpdate[]): Promise<IncidentResult[]> {
    if (updates.length === 0) return [];
    let answered: (IncidentResult | undefined)[] = [];
    if (this.#redis.status().status === "up") {
      try {
        return await this.#redis.record(updates);
      } catch (err) {
        answered = (err as { answered?: (IncidentResult | undefined)[] }).answered ?? [];
      }
    }
    return updates.map((u, i) => answered[i] ?? this.#memory.recordNow(u));
  }

  async list(query: IncidentQuery): Promise<Incident[]> {
    const local = this.#memory.listNow(query);
    let shared: Incident[] = [];
    if (this.#redis.status().status === "up") shared = await this.#redis.list(query).catch(() => []);
    if (local.length === 0) return shared;
    const seen = new Set(shared.map((i) => i.id));
    return [...shared, ...local.filter((i) => !seen.has(i.id))]
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .slice(0, query.limit);
  }

  async claim(name: string, ttlMs: number): Promise<boolean> {
    if (this.#redis.status().status === "up") {
      try {
        return await this.#redis.claim(name, ttlMs);
      } catch {
        // Below: this replica decides alone.
      }
    }
    return this.#memory.claimNow(name, ttlMs);
  }

  status(): StoreStatus {
    return this.#redis.status();
  }

  onStatusChange(listener: (status: StoreStatus) => void): void {
    this.#redis.onStatusChange(listener);
  }

  async close(): Promise<void> {
    await Promise.all([this.#redis.close(), this.#memory.close()]);
  }
}

export interface CreateIncidentStoreOptions {
  redis: string | null;
  app: string;
  clock: Clock;
  logger?: StoreLogger;
}

/** Memory without a `redis` setting; otherwise Redis with memory to fall back on. */
export function createIncidentStore(options: CreateIncidentStoreOptions): IncidentStore {
  const memory = new MemoryIncidentStore({ clock: options.clock });
  if (options.redis === null) return memory;
  const redis = new RedisIncidentStore({
    url: options.redis,
    app: options.app,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return new FailoverIncidentStore(redis, memory);
}

/**
 * Whether an open incident belongs to another user than the update's: then a shared address or
 * session (a NAT, a kiosk) must not fold one user's events, or breach, into another's incident.
 */
export function otherUser(incident: Incident, u: IncidentUpdate): boolean {
  const theirs = incident.actor.user;
  const mine = u.actor.user;
  return theirs !== undefined && theirs !== null && mine !== undefined && mine !== null && theirs !== mine;
}
