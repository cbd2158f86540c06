/**
 * Response execution, as data: a chosen response (a `responses:` entry) and the attack or breach
 * it answers become one effect — a decision for enforcement, a notification, or an audit line.
 * Pure; the engine hands the effects to its sink.
 */
import { rangeOf } from "../actor/cidr.ts";
import type { EventActor } from "../events/event.ts";
import type { Decision, DecisionAction, DecisionOrigin, DecisionScopeName } from "../store/decision.ts";
import type { Mode, ResponseDef } from "./policy.ts";

/** What a response is answering. */
export interface Cause {
  /** The attack's or breach's id. */
  id: string;
  /** Event time of the event that completed the attack, ms. */
  time: number;
  actor: EventActor;
  detectionPoint: string | null;
  rule: string | null;
  mode: Mode;
  origin: Extract<DecisionOrigin, "policy" | "breach">;
}

export type Effect =
  | { kind: "decision"; response: string; decision: Decision }
  | { kind: "notify"; response: string; channel: string }
  | { kind: "log"; response: string }
  /** The response needs an identity the event does not have (block a user, but no user is known). */
  | { kind: "skipped"; response: string; why: string };

const DEFAULT_LOGOUT_MS = 24 * 3_600_000;

export function effectOf(response: ResponseDef, cause: Cause, newId: () => string): Effect {
  const name = response.name;
  if (response.action === "log") return { kind: "log", response: name };
  if (response.action === "notify")
    return { kind: "notify", response: name, channel: response.channel ?? "" };
  const scope: DecisionScopeName = response.action === "logout" ? "session" : (response.scope ?? "global");
  const value = valueIn(scope, cause.actor, response);
  if (value === null) {
    return { kind: "skipped", response: name, why: `no ${scope} is known for this actor` };
  }
  const durationMs = response.durationMs ?? (response.action === "logout" ? DEFAULT_LOGOUT_MS : 0);
  const decision: Decision = {
    id: newId(),
    action: response.action as DecisionAction,
    scope,
    value,
    routes: response.action === "disable" ? response.routes : null,
    until: cause.time + durationMs,
    createdAt: cause.time,
    origin: cause.origin,
    reason: {
      ...(cause.detectionPoint !== null ? { detectionPoint: cause.detectionPoint } : {}),
      ...(cause.rule !== null ? { rule: cause.rule } : {}),
      attackId: cause.id,
      mode: cause.mode,
      response: name,
    },
    rate: response.action === "throttle" ? response.rate : null,
    status: response.action === "disable" ? response.status : null,
    delayMs: response.action === "tarpit" ? response.delayMs : null,
  };
  return { kind: "decision", response: name, decision };
}

function valueIn(scope: DecisionScopeName, actor: EventActor, response: ResponseDef): string | null {
  switch (scope) {
    case "global":
      return "*";
    case "ip":
      return actor.ip;
    case "range":
      return actor.ip === null ? null : rangeOf(actor.ip, response.prefix.ipv4, response.prefix.ipv6);
    case "session":
      return actor.session;
    case "user":
      return actor.user;
  }
}
