/**
 * A decision: the unit that enforcement reads and replicas share (DESIGN section 5). Policy
 * responses, breach responses and operators' manual calls all produce one. Times are ms since
 * the epoch here; `toJson` gives the contract's wire form with RFC 3339 times.
 */
import type { Rate } from "../config/units.ts";

export type DecisionAction = "block" | "throttle" | "disable" | "logout" | "tarpit" | "flag";
export type DecisionScopeName = "ip" | "range" | "session" | "user" | "global";
export type DecisionOrigin = "policy" | "breach" | "manual" | "feed";

export interface DecisionReason {
  /** The detection point whose attack (or breach) led to it. */
  detectionPoint?: string;
  /** The rule whose attack led to it. */
  rule?: string;
  attackId?: string;
  /** `shadow`: recorded as "would have", never enforced. */
  mode: "enforce" | "shadow";
  /** The response name from policy, or an operator's text for manual decisions. */
  response?: string;
  text?: string;
}

export interface Decision {
  id: string;
  action: DecisionAction;
  scope: DecisionScopeName;
  /** ip address, CIDR for range, session hash, user name, or `*` for global. */
  value: string;
  /** disable: `METHOD /path/glob` patterns; null elsewhere. */
  routes: readonly string[] | null;
  until: number;
  createdAt: number;
  origin: DecisionOrigin;
  reason: DecisionReason;
  /** throttle: the rate that holds across replicas. */
  rate: Rate | null;
  /** disable: the status answered. */
  status: number | null;
  /** tarpit: delay before forwarding, ms. */
  delayMs: number | null;
}

const RATE_UNIT: Record<number, string> = { 1000: "s", 60000: "m", 3600000: "h" };

/** The JSON of DESIGN section 5; fields that do not apply to the action are left out. */
export function decisionToJson(d: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: d.id,
    action: d.action,
    scope: d.scope,
    value: d.value,
    routes: d.routes,
    until: new Date(d.until).toISOString(),
    createdAt: new Date(d.createdAt).toISOString(),
    origin: d.origin,
    reason: d.reason,
  };
  if (d.rate) out.rate = `${d.rate.count}/${RATE_UNIT[d.rate.perMs] ?? `${d.rate.perMs}ms`}`;
  if (d.status !== null) out.status = d.status;
  if (d.delayMs !== null) out.delay = `${d.delayMs}ms`;
  return out;
}
