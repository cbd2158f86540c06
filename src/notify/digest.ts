/**
 * The summary a digest carries: the attempted and blocked incidents active in one interval,
 * counted by outcome and by detection point, the actors with the most of them, and their ids
 * (at most 100; `truncated` says when there were more). Pure.
 */
import type { Incident } from "../store/incident.ts";
import type { DigestSummary } from "./format.ts";

const MAX_IDS = 100;
const TOP_ACTORS = 10;

export function summarise(incidents: readonly Incident[], from: number, to: number): DigestSummary | null {
  const attempts = incidents.filter((i) => i.outcome !== "success");
  if (attempts.length === 0) return null;
  const outcomes = { attempt: 0, blocked: 0 };
  const points = new Map<string, { detectionPoint: string; attempt: number; blocked: number }>();
  const actors = new Map<string, DigestSummary["topActors"][number]>();
  for (const incident of attempts) {
    const outcome = incident.outcome === "blocked" ? "blocked" : "attempt";
    outcomes[outcome]++;
    for (const dp of incident.detectionPoints) {
      const row = points.get(dp) ?? { detectionPoint: dp, attempt: 0, blocked: 0 };
      row[outcome]++;
      points.set(dp, row);
    }
    const key = JSON.stringify([incident.actor.ip, incident.actor.user, incident.actor.session]);
    const actor = actors.get(key) ?? { actor: incident.actor, incidents: 0, events: 0, attacks: 0 };
    actor.incidents++;
    actor.events += incident.events;
    actor.attacks += incident.attacks;
    actors.set(key, actor);
  }
  const total = (r: { attempt: number; blocked: number }) => r.attempt + r.blocked;
  return {
    from,
    to,
    incidents: attempts.length,
    outcomes,
    detectionPoints: [...points.values()].sort(
      (a, b) => total(b) - total(a) || a.detectionPoint.localeCompare(b.detectionPoint),
    ),
    topActors: [...actors.values()]
      .sort((a, b) => b.incidents - a.incidents || b.events - a.events)
      .slice(0, TOP_ACTORS),
    incidentIds: attempts.slice(0, MAX_IDS).map((i) => i.id),
    truncated: attempts.length > MAX_IDS,
  };
}
