/**
 * An incident as the store keeps it (DESIGN section 6): one actor's events and attacks within a
 * window, taking the worst outcome of them (attempt < blocked < success), and the update one
 * event makes to it. The functions here are the merge rules; the memory store runs them as they
 * are and the Redis script (incident-scripts.ts) mirrors them, and the contract suite
 * (test/contract/incident-store-contract.ts) holds both to the same results. What an update
 * holds is decided by the policy side (src/policy/incidents.ts); the store knows no policy.
 *
 * Bounds: at most 32 detection points, 16 pieces of evidence and 32 responses per incident; the
 * first ones are kept (the first evidence is the one that made it a breach).
 */
import type { EventOutcome } from "../events/event.ts";

export const OUTCOME_RANK: Readonly<Record<EventOutcome, number>> = { attempt: 0, blocked: 1, success: 2 };

export function worstOutcome(a: EventOutcome, b: EventOutcome): EventOutcome {
  return OUTCOME_RANK[b] > OUTCOME_RANK[a] ? b : a;
}

export const INCIDENT_BOUNDS = { detectionPoints: 32, evidence: 16, responses: 32 } as const;

export interface Evidence {
  kind: string;
  detail: string;
  requestId: string | null;
}

export interface IncidentResponse {
  response: string;
  /** The response's action (block, notify, …). */
  action: string;
  mode: "enforce" | "shadow";
}

/** The identities an incident's actor was seen with; absent ones are left out. */
export interface IncidentActor {
  ip?: string;
  range?: string;
  session?: string;
  user?: string;
}

export interface Incident {
  id: string;
  outcome: EventOutcome;
  actor: IncidentActor;
  /** ms since the epoch. */
  firstSeen: number;
  lastSeen: number;
  detectionPoints: string[];
  events: number;
  attacks: number;
  evidence: Evidence[];
  responses: IncidentResponse[];
}

/** What one event adds: itself, the attacks it completed, its breach evidence. */
export interface IncidentUpdate {
  /** The id a new incident gets, if this update opens one. */
  id: string;
  /** Identity keys (`user:…`, `session:…`, `ip:…`), most specific first; the first open incident wins. */
  keys: string[];
  /** Where the event is held while no incident is open for its actor; null: not held. */
  pending: string | null;
  /** An attack or a breach: opens an incident when none is open. */
  opens: boolean;
  time: number;
  windowMs: number;
  retentionMs: number;
  actor: IncidentActor;
  events: number;
  detectionPoints: string[];
  outcome: EventOutcome;
  attacks: number;
  evidence: Evidence[];
  responses: IncidentResponse[];
}

export interface IncidentResult {
  /** The incident after the update; null when the event was only held (no incident is open). */
  incident: Incident | null;
  opened: boolean;
  /** This update turned the incident's outcome into success: the one moment it pages. */
  breached: boolean;
}

/** Events of an actor before an incident opens for it. */
export interface Pending {
  firstSeen: number;
  lastSeen: number;
  events: number;
  detectionPoints: string[];
  outcome: EventOutcome;
}

export interface IncidentQuery {
  outcome: EventOutcome | null;
  /** Incidents last active at or after this time (ms). */
  since: number | null;
  ip: string | null;
  user: string | null;
  limit: number;
}

function addBounded<T>(list: T[], items: readonly T[], max: number, same: (a: T, b: T) => boolean): T[] {
  let out = list;
  for (const item of items) {
    if (out.length >= max) break;
    if (out.some((x) => same(x, item))) continue;
    if (out === list) out = [...list];
    out.push(item);
  }
  return out;
}

const sameString = (a: string, b: string) => a === b;
const sameEvidence = (a: Evidence, b: Evidence) =>
  a.kind === b.kind && a.detail === b.detail && a.requestId === b.requestId;
const sameResponse = (a: IncidentResponse, b: IncidentResponse) =>
  a.response === b.response && a.mode === b.mode;

/** Held events, with this one added. */
export function addPending(pending: Pending | null, u: IncidentUpdate): Pending {
  if (pending === null) {
    return {
      firstSeen: u.time,
      lastSeen: u.time,
      events: u.events,
      detectionPoints: u.detectionPoints.slice(0, INCIDENT_BOUNDS.detectionPoints),
      outcome: u.outcome,
    };
  }
  return {
    firstSeen: Math.min(pending.firstSeen, u.time),
    lastSeen: Math.max(pending.lastSeen, u.time),
    events: pending.events + u.events,
    detectionPoints: addBounded(
      pending.detectionPoints,
      u.detectionPoints,
      INCIDENT_BOUNDS.detectionPoints,
      sameString,
    ),
    outcome: worstOutcome(pending.outcome, u.outcome),
  };
}

/** A new incident for `u`, with the actor's held events folded in. */
export function openIncident(u: IncidentUpdate, held: readonly Pending[]): Incident {
  let incident: Incident = {
    id: u.id,
    outcome: "attempt",
    actor: {},
    firstSeen: u.time,
    lastSeen: u.time,
    detectionPoints: [],
    events: 0,
    attacks: 0,
    evidence: [],
    responses: [],
  };
  for (const p of held) {
    incident = {
      ...incident,
      firstSeen: Math.min(incident.firstSeen, p.firstSeen),
      lastSeen: Math.max(incident.lastSeen, p.lastSeen),
      events: incident.events + p.events,
      detectionPoints: addBounded(
        incident.detectionPoints,
        p.detectionPoints,
        INCIDENT_BOUNDS.detectionPoints,
        sameString,
      ),
      outcome: worstOutcome(incident.outcome, p.outcome),
    };
  }
  return applyUpdate(incident, u);
}

/** `incident` with `u` added: counts summed, lists bounded, worst outcome, identities filled in. */
export function applyUpdate(incident: Incident, u: IncidentUpdate): Incident {
  const actor = { ...incident.actor };
  for (const k of ["ip", "range", "session", "user"] as const) {
    if (actor[k] === undefined && u.actor[k] !== undefined) actor[k] = u.actor[k];
  }
  return {
    id: incident.id,
    outcome: worstOutcome(incident.outcome, u.outcome),
    actor,
    firstSeen: Math.min(incident.firstSeen, u.time),
    lastSeen: Math.max(incident.lastSeen, u.time),
    detectionPoints: addBounded(
      incident.detectionPoints,
      u.detectionPoints,
      INCIDENT_BOUNDS.detectionPoints,
      sameString,
    ),
    events: incident.events + u.events,
    attacks: incident.attacks + u.attacks,
    evidence: addBounded(incident.evidence, u.evidence, INCIDENT_BOUNDS.evidence, sameEvidence),
    responses: addBounded(incident.responses, u.responses, INCIDENT_BOUNDS.responses, sameResponse),
  };
}

export function matchesQuery(incident: Incident, q: IncidentQuery): boolean {
  return (
    (q.outcome === null || incident.outcome === q.outcome) &&
    (q.since === null || incident.lastSeen >= q.since) &&
    (q.ip === null || incident.actor.ip === q.ip) &&
    (q.user === null || incident.actor.user === q.user)
  );
}

/** The API's and the webhook's shape (DESIGN section 6): times as RFC 3339. */
export function incidentToJson(incident: Incident): Record<string, unknown> {
  return {
    id: incident.id,
    outcome: incident.outcome,
    actor: incident.actor,
    firstSeen: new Date(incident.firstSeen).toISOString(),
    lastSeen: new Date(incident.lastSeen).toISOString(),
    detectionPoints: incident.detectionPoints,
    events: incident.events,
    attacks: incident.attacks,
    evidence: incident.evidence,
    responses: incident.responses,
  };
}
