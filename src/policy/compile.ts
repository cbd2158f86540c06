/**
 * Merged, problem-free policy files → the frozen Policy the engine reads (policy.ts): ladders
 * resolved to response definitions, durations in milliseconds, modes settled (entry, else its
 * file, else enforce; the process-wide `--mode` over all), the allowlist compiled to a matcher.
 * Runs only after validation and merging found nothing wrong, so every required value is here.
 */
import { type Cidr, compileMatcher } from "../actor/cidr.ts";
import type { Rate } from "../config/units.ts";
import { deepFreeze, FrozenMap, FrozenSet } from "./frozen.ts";
import type { FromFile, Merged } from "./merge.ts";
import {
  type Action,
  type DecisionScope,
  type DetectionPointPolicy,
  type EdgePolicy,
  type EdgeRoute,
  type Mode,
  type NotifyChannel,
  type PerScope,
  POLICY_DEFAULTS,
  type Policy,
  type Prefix,
  type ResponseDef,
  type Rule,
  type RuleMatch,
} from "./policy.ts";
import type { Checked, MapEntry } from "./validate.ts";

export function compile(files: readonly string[], merged: Merged, override: Mode | null): Policy {
  const responses = new Map<string, ResponseDef>();
  for (const entry of merged.responses.values()) responses.set(entry.name, responseDef(entry));
  const ladder = (names: unknown) => (names as string[]).map((n) => responses.get(n)!);
  const modeOf = (own: unknown, fileMode: Mode): Mode => override ?? (own as Mode | undefined) ?? fileMode;

  const detectionPoints = new Map<string, DetectionPointPolicy>();
  for (const { value: entry, fileMode } of merged.detectionPoints.values()) {
    const v = entry.value!;
    const threshold = v.threshold as Checked;
    detectionPoints.set(entry.name, {
      id: entry.name,
      threshold: { count: threshold.count as number, withinMs: threshold.within as number },
      per: (v.per as PerScope | undefined) ?? null,
      prefix: prefixOf(v),
      responses: ladder(v.responses),
      mode: modeOf(v.mode, fileMode),
      source: entry.where,
    });
  }

  const rules = merged.rules.map(
    ({ value: v, fileMode }: FromFile<Checked>): Rule => ({
      name: v.name as string,
      per: (v.per as PerScope | undefined) ?? null,
      prefix: prefixOf(v),
      withinMs: v.within as number,
      match: ruleMatch(v),
      responses: ladder(v.responses),
      mode: modeOf(v.mode, fileMode),
      source: v.$at,
    }),
  );
  const rulesByLabel = new Map<string, Rule[]>();
  for (const rule of rules) {
    for (const label of new Set(rule.match.labels)) {
      rulesByLabel.set(label, [...(rulesByLabel.get(label) ?? []), rule]);
    }
  }

  const policyMode = override ?? merged.mode;
  const breach = merged.breach
    ? {
        responses: ladder(merged.breach.value.responses),
        mode: modeOf(merged.breach.value.mode, merged.breach.fileMode),
      }
    : { responses: [], mode: policyMode };

  const notify = new Map<string, NotifyChannel>();
  for (const entry of merged.notify.values()) {
    const v = entry.value!;
    const defaults = POLICY_DEFAULTS.notify;
    notify.set(entry.name, {
      name: entry.name,
      webhook: v.webhook as string,
      format: v.format as "json" | "slack",
      // The format fills these defaults; the fallbacks keep a channel usable whatever it says.
      digestMs: v.digest === undefined ? defaults.digestMs : (v.digest as number | null),
      rateLimit: (v.rateLimit as Rate | undefined) ?? { ...defaults.rateLimit },
      timeoutMs: (v.timeout as number | undefined) ?? defaults.timeoutMs,
      retries: (v.retries as number | undefined) ?? defaults.retries,
    });
  }

  const cidrs = new Map<string, Cidr>();
  const users = new Set<string>();
  for (const list of merged.allowlists) {
    for (const group of (list.ips as Cidr[][] | undefined) ?? []) for (const c of group) cidrs.set(c.text, c);
    for (const user of (list.users as string[] | undefined) ?? []) users.add(user);
  }

  const sessionCookies = (merged.identity?.sessionCookies as string[] | undefined) ?? null;
  const memoryMs = (merged.escalation?.memory as number | undefined) ?? POLICY_DEFAULTS.escalationMemoryMs;
  const incidents = {
    windowMs: (merged.incidents?.window as number | undefined) ?? POLICY_DEFAULTS.incidentWindowMs,
    retentionMs: (merged.incidents?.retention as number | undefined) ?? POLICY_DEFAULTS.incidentRetentionMs,
  };

  return deepFreeze({
    files: [...files],
    mode: policyMode,
    detectionPoints: new FrozenMap(detectionPoints),
    rules,
    rulesByLabel: new FrozenMap(rulesByLabel),
    responses: new FrozenMap(responses),
    breach,
    notify: new FrozenMap(notify),
    allowlist: {
      ips: compileMatcher([...cidrs.values()]),
      cidrs: [...cidrs.values()],
      users: new FrozenSet(users),
    },
    identity: { sessionCookies },
    escalation: { memoryMs },
    incidents,
    edge: edgePolicy(merged.edges),
  });
}

/** An entry's `prefix`, or the defaults /24 and /64 (DESIGN section 2). */
function prefixOf(v: Checked): Prefix {
  const prefix = v.prefix as Checked | undefined;
  return prefix
    ? { ipv4: prefix.ipv4 as number, ipv6: prefix.ipv6 as number }
    : ({ ...POLICY_DEFAULTS.prefix } as Prefix);
}

function responseDef(entry: MapEntry): ResponseDef {
  const v = entry.value!;
  return {
    name: entry.name,
    action: v.action as Action,
    // Defaults (disable: global, logout: session and 24h, status 503) were filled from the format.
    scope: (v.scope as DecisionScope | undefined) ?? null,
    durationMs: (v.duration as number | undefined) ?? null,
    prefix: prefixOf(v),
    rate: (v.rate as Rate | undefined) ?? null,
    routes: (v.routes as string[] | undefined) ?? null,
    status: (v.status as number | undefined) ?? null,
    delayMs: (v.delay as number | undefined) ?? null,
    channel: (v.channel as string | undefined) ?? null,
  };
}

function ruleMatch(v: Checked): RuleMatch {
  if (v.sequence) return { kind: "sequence", labels: v.sequence as string[] };
  if (v.all) return { kind: "all", labels: v.all as string[] };
  return { kind: "any", labels: v.any as string[], count: v.count as number };
}

function edgePolicy(edges: readonly Checked[]): EdgePolicy {
  const detect = new Set<string>();
  const routes: EdgeRoute[] = [];
  const trapRoutes = new Set<string>();
  const tokens = new Set<string>();
  const limits: EdgePolicy["limits"] = { paramLength: null, bodyBytes: null, requestRate: null };
  for (const edge of edges) {
    for (const id of (edge.detect as string[] | undefined) ?? []) detect.add(id);
    for (const r of (edge.routes as Checked[] | undefined) ?? []) {
      const login = r.login as Checked | undefined;
      routes.push({
        route: r.route as string,
        login: login
          ? {
              failureStatus: login.failureStatus as number[],
              guessing: guessingOf(login.guessing as Checked | undefined),
            }
          : null,
      });
    }
    const traps = edge.honeyTraps as Checked | undefined;
    for (const r of (traps?.routes as string[] | undefined) ?? []) trapRoutes.add(r);
    for (const t of (traps?.tokens as string[] | undefined) ?? []) tokens.add(t);
    const l = edge.limits as Checked | undefined;
    if (l?.paramLength !== undefined) limits.paramLength = l.paramLength as number;
    if (l?.bodyBytes !== undefined) limits.bodyBytes = l.bodyBytes as number;
    if (l?.requestRate !== undefined) limits.requestRate = l.requestRate as Rate;
  }
  return {
    detect: [...detect],
    routes,
    honeyTraps: { routes: [...trapRoutes], tokens: [...tokens] },
    limits,
  };
}

function guessingOf(g: Checked | undefined): { failures: number; withinMs: number } {
  const d = POLICY_DEFAULTS.loginGuessing;
  return g ? { failures: g.failures as number, withinMs: g.within as number } : { ...d };
}
