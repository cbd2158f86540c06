/**
 * Offline replay (`gatehouse simulate`, and the data-driven policy tests): events are sorted by
 * event time and run one by one through the same engine `serve` uses, over an in-memory store
 * whose clock is the event time, and every attack, decision, breach and notification comes out
 * as one JSON object (DESIGN section 7). Ids are sequential so the output is reproducible.
 * Incidents are grouped as in `serve` (an in-memory incident store on the same clock), so a
 * `notify` line shows the incident a message would carry: `kind: "breach"` once per breach
 * incident (a page), `kind: "digest"` for an attack that goes into the channel's next digest.
 */
import type { DetectionEvent, EventActor } from "../events/event.ts";
import { ManualClock } from "../store/clock.ts";
import { decisionToJson } from "../store/decision.ts";
import { incidentToJson } from "../store/incident.ts";
import { MemoryIncidentStore } from "../store/incident-store.ts";
import { MemoryStore } from "../store/memory-store.ts";
import { type AttackRecord, type BreachRecord, createEngine } from "./engine.ts";
import type { Policy } from "./policy.ts";
import type { Effect } from "./responses.ts";

export type SimulationRecord = Record<string, unknown> & { type: string };

export interface SimulationSummary {
  events: number;
  attacks: number;
  breaches: number;
  decisions: number;
}

export async function simulate(
  policy: Policy,
  events: readonly DetectionEvent[],
  write: (record: SimulationRecord) => void,
): Promise<SimulationSummary> {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const summary: SimulationSummary = { events: 0, attacks: 0, breaches: 0, decisions: 0 };
  const counters = { attack: 0, breach: 0, decision: 0, incident: 0 };
  const engine = createEngine({
    store,
    incidents: new MemoryIncidentStore({ clock }),
    policy: () => policy,
    newId: (kind) => `${kind}-${++counters[kind]}`,
    sink: {
      attack(attack) {
        summary.attacks++;
        write(attackRecord(attack));
      },
      breach(breach) {
        summary.breaches++;
        write(breachRecord(breach));
      },
      effect(effect, cause) {
        if (effect.kind === "decision") summary.decisions++;
        const record = effectRecord(effect, cause);
        if (record) write(record);
      },
      incident(report) {
        for (const n of report.notify) {
          write({
            type: "notify",
            channel: n.channel,
            kind: n.kind,
            mode: n.mode,
            incident: incidentToJson(report.incident),
          });
        }
      },
    },
  });
  // Stable sort: events with the same time keep their order in the file.
  const ordered = events
    .map((event, i) => ({ event, i }))
    .sort((a, b) => a.event.time - b.event.time || a.i - b.i);
  for (const { event } of ordered) {
    clock.set(event.time);
    summary.events++;
    await engine.process([event]);
  }
  await store.close();
  return summary;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The identities an actor has, without the absent ones. */
export function presentIdentities(actor: EventActor): Record<string, string> {
  const out: Record<string, string> = {};
  if (actor.ip !== null) out.ip = actor.ip;
  if (actor.session !== null) out.session = actor.session;
  if (actor.user !== null) out.user = actor.user;
  return out;
}

function attackRecord(a: AttackRecord): SimulationRecord {
  return {
    type: "attack",
    id: a.id,
    time: iso(a.time),
    ...(a.detectionPoint !== null ? { detectionPoint: a.detectionPoint } : { rule: a.rule }),
    actor: { scope: a.actor.scope, value: a.actor.value },
    count: a.nth,
    response: a.response.name,
    mode: a.mode,
    ...(a.allowlisted ? { allowlisted: true } : {}),
  };
}

function breachRecord(b: BreachRecord): SimulationRecord {
  return {
    type: "breach",
    id: b.id,
    time: iso(b.time),
    actor: presentIdentities(b.identities),
    detectionPoint: b.detectionPoint,
    evidence: b.evidence,
    mode: b.mode,
    ...(b.allowlisted ? { allowlisted: true } : {}),
  };
}

function effectRecord(effect: Effect, cause: AttackRecord | BreachRecord): SimulationRecord | null {
  switch (effect.kind) {
    case "decision":
      return { type: "decision", ...decisionToJson(effect.decision) };
    case "notify":
      return null; // written with its incident, once the incident store has it (above)
    case "skipped":
      return {
        type: "skipped",
        response: effect.response,
        causeId: cause.id,
        why: effect.why,
        mode: cause.mode,
      };
    case "log":
      return null;
  }
}
