/**
 * Whom an event counts against. A threshold or rule names a scope (`per`); the event supplies
 * the identities it has. Identities the event lacks fall back to the next less specific one
 * (user → session → ip, DESIGN section 4), so an anonymous attacker is still counted by address
 * instead of slipping through a `per: user` threshold.
 */
import { rangeOf } from "../actor/cidr.ts";
import type { EventActor } from "../events/event.ts";
import type { PerScope, Prefix } from "./policy.ts";

export interface ActorKey {
  scope: PerScope;
  value: string;
}

/** Where `per` is not set: the most specific identity the event has. */
const FALLBACK: Record<PerScope | "none", readonly ("user" | "session" | "ip")[]> = {
  none: ["user", "session", "ip"],
  user: ["user", "session", "ip"],
  session: ["session", "ip"],
  ip: ["ip"],
  range: [],
  global: [],
};

/** The actor an event counts against for `per`, or null when the event has none of the identities. */
export function actorKey(per: PerScope | null, actor: EventActor, prefix: Prefix): ActorKey | null {
  if (per === "global") return { scope: "global", value: "*" };
  if (per === "range") {
    const range = actor.ip === null ? null : rangeOf(actor.ip, prefix.ipv4, prefix.ipv6);
    return range === null ? null : { scope: "range", value: range };
  }
  for (const scope of FALLBACK[per ?? "none"]) {
    const value = actor[scope];
    if (value !== null) return { scope, value };
  }
  return null;
}
