/**
 * Grouping into incidents (DESIGN section 6): what one event adds to its actor's incident. The
 * engine calls `updateFor` once per event, after its attacks and breach are decided; the
 * incident store (src/store/incident-store.ts) applies the updates atomically, across replicas,
 * with the merge rules of src/store/incident.ts (worst outcome wins, bounded lists).
 *
 * Choices DESIGN leaves open (docs/incidents.md):
 * - Noise. An incident *opens* only on an attack or a breach. Events before it are held per
 *   actor for the window and folded in when it opens, so the incident shows the probing that led
 *   up to it; an actor whose events never add up to an attack (a benign user's one 404) never
 *   becomes an incident that someone has to read.
 * - Who the actor is. An update names every identity its event has, most specific first (user,
 *   session, ip); the open incident of the first of them that has one is the one updated. So an
 *   address that guesses passwords and then logs in as the victim stays one incident (found by
 *   its address), and a logged-in attacker who changes address stays one too (found by user).
 *   An identity already pointing at another open incident keeps pointing there.
 * - Window. An incident stays open while its actor is seen again within `incidents.window`
 *   (default 1h); after that the actor's next attack opens a new one. It is listed for
 *   `incidents.retention` (default 7d) after it was last active.
 */
import { rangeOf } from "../actor/cidr.ts";
import type { DetectionEvent, EventActor, EventOutcome } from "../events/event.ts";
import {
  type Evidence,
  type IncidentActor,
  type IncidentResponse,
  type IncidentUpdate,
  worstOutcome,
} from "../store/incident.ts";
import type { Action, Policy } from "./policy.ts";

/** An actor's identity keys, most specific first. */
export function identityKeys(actor: EventActor): string[] {
  const keys: string[] = [];
  if (actor.user !== null) keys.push(`user:${actor.user}`);
  if (actor.session !== null) keys.push(`session:${actor.session}`);
  if (actor.ip !== null) keys.push(`ip:${actor.ip}`);
  return keys;
}

/**
 * Held events go under the address when there is one: the probing before an attack is mostly
 * anonymous, and the address is what the later attack or login shares with it.
 */
function pendingKey(actor: EventActor): string | null {
  if (actor.ip !== null) return `ip:${actor.ip}`;
  if (actor.session !== null) return `session:${actor.session}`;
  if (actor.user !== null) return `user:${actor.user}`;
  return null;
}

export function incidentActor(actor: EventActor): IncidentActor {
  const out: IncidentActor = {};
  if (actor.ip !== null) {
    out.ip = actor.ip;
    const range = rangeOf(actor.ip, 24, 64);
    if (range !== null) out.range = range;
  }
  if (actor.session !== null) out.session = actor.session;
  if (actor.user !== null) out.user = actor.user;
  return out;
}

/** What the engine knows about one event once its attacks and breach are decided. */
export interface EventFindings {
  event: DetectionEvent;
  /** The outcome of each attack the event completed. */
  attacks: { outcome: EventOutcome }[];
  /** Set when the event is a breach. */
  breach: { evidence: Evidence[] } | null;
  /** The responses applied to its attacks and breach (skipped ones left out). */
  responses: IncidentResponse[];
}

/** The update for one event; null for an event with no identity that opens nothing. */
export function updateFor(findings: EventFindings, policy: Policy, id: string): IncidentUpdate | null {
  const { event, attacks, breach } = findings;
  const opens = attacks.length > 0 || breach !== null;
  let keys = identityKeys(event.actor);
  if (keys.length === 0) {
    // No identity to group by: an attack or breach is an incident of its own (it still pages);
    // anything else has nothing to be grouped with.
    if (!opens) return null;
    keys = [`incident:${id}`];
  }
  let outcome = event.outcome;
  for (const a of attacks) outcome = worstOutcome(outcome, a.outcome);
  if (breach) outcome = "success";
  return {
    id,
    keys,
    pending: pendingKey(event.actor),
    opens,
    time: event.time,
    windowMs: policy.incidents.windowMs,
    retentionMs: policy.incidents.retentionMs,
    actor: incidentActor(event.actor),
    events: 1,
    detectionPoints: [event.detectionPoint],
    outcome,
    attacks: attacks.length,
    evidence: breach?.evidence ?? [],
    responses: findings.responses,
  };
}

/** Actions with which Gatehouse itself stops the actor: an attack answered with one is `blocked`. */
export function stopsActor(action: Action): boolean {
  return action === "block" || action === "throttle" || action === "disable" || action === "logout";
}
