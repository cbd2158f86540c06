/**
 * Decisions as the rest of Gatehouse handles them: the policy engine's (origin policy, breach)
 * and operators' (manual, through the admin API) go into one replicated map, keyed by id, that
 * every replica holds whole; enforcement indexes it (decision-index.ts). Shadow-mode decisions
 * never come here: they are logged as "would have" and enforced nowhere.
 *
 * Shared through Redis, a replica holds each decision without its reason (beyond its mode): a
 * million of them must fit in a few hundred megabytes. `complete` reads the whole decisions from
 * Redis for the admin API; while Redis is unreachable it answers with what is held here and says
 * the reasons are missing.
 */
import { randomUUID } from "node:crypto";
import type { Rate } from "../config/units.ts";
import type { Clock } from "../store/clock.ts";
import type {
  Decision,
  DecisionAction,
  DecisionOrigin,
  DecisionReason,
  DecisionScopeName,
} from "../store/decision.ts";
import type { ReplicatedMap } from "../store/replicated-map.ts";

/** A manual decision, already validated (src/admin/decision-input.ts). */
export interface DecisionInput {
  action: DecisionAction;
  scope: DecisionScopeName;
  /** Normalised: an address, a canonical CIDR, a session hash, a user name, or `*`. */
  value: string;
  routes: readonly string[] | null;
  /** Absolute expiry, ms since the epoch. */
  until: number;
  rate: Rate | null;
  status: number | null;
  delayMs: number | null;
  /** The operator's reason, free text. */
  reason: string | null;
}

export interface DecisionService {
  /** Live decisions, newest first. */
  list(): Decision[];
  /** As list(), lazily: a listing that stops early makes only what it reads. */
  newestFirst(): Iterable<Decision>;
  get(id: string): Decision | undefined;
  /** An operator's (or a feed's) decision; returns it as stored. */
  add(input: DecisionInput, origin: Extract<DecisionOrigin, "manual" | "feed">): Decision;
  /** A decision the policy engine made (enforce mode only). */
  apply(decision: Decision): void;
  remove(id: string): boolean;
  /**
   * The same decisions as stored in the shared store, reasons included (one MGET). `complete`
   * is false when the shared store could not answer: then they are as held here, where a
   * Redis-backed replica keeps no reason beyond its mode. A decision gone from the store
   * meanwhile is answered as held.
   */
  complete(decisions: readonly Decision[]): Promise<{ decisions: Decision[]; complete: boolean }>;
}

export interface DecisionServiceOptions {
  newId?: () => string;
  /** Each decision this replica adds (manual or policy), once: for side effects such as the logout callback. */
  onAdded?: (decision: Decision) => void;
  /** Live decisions newest first, made one by one (the index's rows); default: sort the map's entries. */
  newestFirst?: () => Iterable<Decision>;
}

export function createDecisionService(
  map: ReplicatedMap<Decision>,
  clock: Clock,
  options: DecisionServiceOptions = {},
): DecisionService {
  const newId = options.newId ?? randomUUID;
  const added = options.onAdded ?? (() => {});
  return {
    list() {
      if (options.newestFirst) return [...options.newestFirst()];
      const out: Decision[] = [];
      for (const { value } of map.entries()) out.push(value);
      return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    },
    newestFirst() {
      return options.newestFirst ? options.newestFirst() : this.list();
    },
    get: (id) => map.get(id),
    add(input, origin) {
      const reason: DecisionReason = { mode: "enforce", ...(input.reason ? { text: input.reason } : {}) };
      const decision: Decision = {
        id: newId(),
        action: input.action,
        scope: input.scope,
        value: input.value,
        routes: input.routes,
        until: input.until,
        createdAt: clock.now(),
        origin,
        reason,
        rate: input.rate,
        status: input.status,
        delayMs: input.delayMs,
      };
      map.set(decision.id, decision, decision.until);
      added(decision);
      return decision;
    },
    apply(decision) {
      if (decision.reason.mode === "shadow") return;
      map.set(decision.id, decision, decision.until);
      added(decision);
    },
    remove: (id) => map.delete(id),
    async complete(decisions) {
      if (!map.fetch) return { decisions: [...decisions], complete: true };
      const stored = await map.fetch(decisions.map((d) => d.id));
      if (stored === null) return { decisions: [...decisions], complete: false };
      return { decisions: decisions.map((d, i) => stored[i] ?? d), complete: true };
    },
  };
}

/**
 * The wire form stored in the shared map: JSON, with times as numbers. A decision is filed under
 * its id; one filed under another key is refused, and an accepted one shares the key's string.
 */
export const decisionCodec = {
  encode: (d: Decision): string => JSON.stringify(d),
  decode(text: string, key: string): Decision | null {
    try {
      const d = JSON.parse(text) as Decision;
      if (typeof d?.id !== "string" || d.id !== key) return null;
      if (typeof d.action !== "string" || typeof d.until !== "number") return null;
      d.id = key;
      return d;
    } catch {
      return null;
    }
  },
};
