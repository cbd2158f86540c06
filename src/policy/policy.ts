/**
 * The compiled policy: what the loader (src/policy/load.ts) produces from one or more YAML files
 * and what the engine (src/policy/engine.ts) reads. Durations are milliseconds, CIDR lists are
 * compiled matchers, response names are resolved to their definitions, so nothing is parsed or
 * looked up by name while events are analysed (STYLE pattern 5). A Policy is frozen: a reload
 * builds a new one and swaps it whole.
 */
import type { Cidr, IpMatcher } from "../actor/cidr.ts";
import type { Rate } from "../config/units.ts";

export type Mode = "enforce" | "shadow";

/** Whom a threshold or rule counts per (DESIGN section 4). */
export const PER_SCOPES = ["ip", "range", "session", "user", "global"] as const;
export type PerScope = (typeof PER_SCOPES)[number];

/** What a decision applies to (DESIGN section 5). */
export const DECISION_SCOPES = ["ip", "range", "session", "user", "global"] as const;
export type DecisionScope = (typeof DECISION_SCOPES)[number];

export const ACTIONS = ["block", "throttle", "disable", "logout", "tarpit", "flag", "notify", "log"] as const;
export type Action = (typeof ACTIONS)[number];

/** Network sizes for `range` scope. */
export interface Prefix {
  ipv4: number;
  ipv6: number;
}

/** One named entry of `responses:`. Fields that do not apply to the action are null. */
export interface ResponseDef {
  name: string;
  action: Action;
  /** block, throttle, disable, tarpit, flag: whom it applies to; logout: always `session`; notify, log: null. */
  scope: DecisionScope | null;
  /** How long the decision lasts; null for notify and log. */
  durationMs: number | null;
  /** For `scope: range`: the network size (default ipv4 24, ipv6 64). */
  prefix: Prefix;
  /** throttle: the allowed rate. */
  rate: Rate | null;
  /** disable: `METHOD /path/glob` patterns as written (compiled by enforcement). */
  routes: readonly string[] | null;
  /** disable: the status answered (default 503). */
  status: number | null;
  /** tarpit: delay before forwarding. */
  delayMs: number | null;
  /** notify: the `notify:` channel name. */
  channel: string | null;
}

export interface Threshold {
  count: number;
  withinMs: number;
}

export interface DetectionPointPolicy {
  /** AppSensor id or custom label. */
  id: string;
  threshold: Threshold;
  /** null: the most specific identity the event has, user → session → ip. */
  per: PerScope | null;
  /** With `per: range`: the network counted as one actor. */
  prefix: Prefix;
  /** The escalation ladder: the Nth attack gets `responses[N-1]`, the last repeats. Never empty. */
  responses: readonly ResponseDef[];
  /** The entry's own `mode`, else its file's, else `enforce`. */
  mode: Mode;
  /** `file:line:col` of the entry, for logs and `check`. */
  source: string;
}

/**
 * How a rule's window is matched. `any` is `count` events (default 1) of any of the labels;
 * `all` is every label at least once, in any order; `sequence` is the labels in this order
 * (other events may come between).
 */
export type RuleMatch =
  | { kind: "any"; labels: readonly string[]; count: number }
  | { kind: "all"; labels: readonly string[] }
  | { kind: "sequence"; labels: readonly string[] };

export interface Rule {
  name: string;
  per: PerScope | null;
  prefix: Prefix;
  withinMs: number;
  match: RuleMatch;
  responses: readonly ResponseDef[];
  mode: Mode;
  source: string;
}

export interface NotifyChannel {
  name: string;
  webhook: string;
  format: "json" | "slack";
  /** How often attempts are summarised to this channel; null: `digest: off`, breaches only. */
  digestMs: number | null;
  /** Most messages sent per period; more wait in the queue (src/notify/webhook.ts). */
  rateLimit: Rate;
  /** One delivery attempt is given up after this long. */
  timeoutMs: number;
  /** Delivery attempts after the first one fails, with exponential backoff. */
  retries: number;
}

/** `incidents:` (DESIGN section 6): how events and attacks are grouped for operators. */
export interface IncidentsPolicy {
  /** An incident stays open while its actor is seen again within this long. */
  windowMs: number;
  /** How long an incident is kept (and listed) after it was last active. */
  retentionMs: number;
}

export interface Allowlist {
  ips: IpMatcher;
  /** The CIDRs behind `ips`, for display. */
  cidrs: readonly Cidr[];
  users: ReadonlySet<string>;
}

/** `edge:` as validated; acted on by edge detection (DESIGN 3.3). */
export interface EdgePolicy {
  detect: readonly string[];
  routes: readonly EdgeRoute[];
  honeyTraps: { routes: readonly string[]; tokens: readonly string[] };
  limits: { paramLength: number | null; bodyBytes: number | null; requestRate: Rate | null };
}

export interface EdgeRoute {
  /** `METHOD /path/glob` as written. */
  route: string;
  login: {
    failureStatus: readonly number[];
    /** A success after `failures` failed logins within `withinMs` is login-after-guessing evidence. */
    guessing: { failures: number; withinMs: number };
  } | null;
}

export interface Policy {
  /** The files it was loaded from, in order. */
  files: readonly string[];
  /** The first file's top-level `mode` (default enforce), or `--mode` when given. */
  mode: Mode;
  detectionPoints: ReadonlyMap<string, DetectionPointPolicy>;
  rules: readonly Rule[];
  /** The rules that list a label, so an event is matched only against rules that can use it. */
  rulesByLabel: ReadonlyMap<string, readonly Rule[]>;
  responses: ReadonlyMap<string, ResponseDef>;
  /** Applied all at once for an event with outcome `success`; empty when no `breach:` is given. */
  breach: { responses: readonly ResponseDef[]; mode: Mode };
  notify: ReadonlyMap<string, NotifyChannel>;
  allowlist: Allowlist;
  /** `identity.sessionCookies` from policy, when set, replaces the configured list. */
  identity: { sessionCookies: readonly string[] | null };
  escalation: { memoryMs: number };
  incidents: IncidentsPolicy;
  edge: EdgePolicy;
}

/** Defaults the loader applies (DESIGN section 4). */
export const POLICY_DEFAULTS = {
  escalationMemoryMs: 24 * 3_600_000,
  prefix: { ipv4: 24, ipv6: 64 },
  disableStatus: 503,
  /** Failed logins, and the window they fall in, that make the next success a breach. */
  loginGuessing: { failures: 10, withinMs: 10 * 60_000 },
  incidentWindowMs: 3_600_000,
  incidentRetentionMs: 7 * 86_400_000,
  notify: { digestMs: 3_600_000, rateLimit: { count: 30, perMs: 60_000 }, timeoutMs: 5000, retries: 5 },
} as const;
