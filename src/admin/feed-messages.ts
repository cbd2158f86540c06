/**
 * What the live feed (live-feed.ts) says of each thing it reports: the fields the info log lines
 * carry (audit-sink.ts, app.ts), as JSON, times as RFC 3339. Sessions are redacted by the feed.
 */
import type { DetectionEvent } from "../events/event.ts";
import type { AttackRecord, BreachRecord } from "../policy/engine.ts";

export function eventToFeed(e: DetectionEvent): Record<string, unknown> {
  return {
    time: new Date(e.time).toISOString(),
    detectionPoint: e.detectionPoint,
    channel: e.channel,
    outcome: e.outcome,
    actor: e.actor,
    request: e.request ? { id: e.request.id, method: e.request.method, path: e.request.path } : null,
    detail: e.detail,
  };
}

export function attackToFeed(a: AttackRecord): Record<string, unknown> {
  return {
    time: new Date(a.time).toISOString(),
    attackId: a.id,
    detectionPoint: a.detectionPoint,
    rule: a.rule,
    actor: a.actor,
    count: a.nth,
    response: a.response.name,
    mode: a.mode,
    outcome: a.outcome,
    allowlisted: a.allowlisted,
    requestId: a.event.request?.id ?? null,
  };
}

export function breachToFeed(b: BreachRecord): Record<string, unknown> {
  return {
    time: new Date(b.time).toISOString(),
    breachId: b.id,
    detectionPoint: b.detectionPoint,
    actor: b.identities,
    evidence: b.evidence,
    mode: b.mode,
    allowlisted: b.allowlisted,
  };
}
