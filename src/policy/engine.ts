/**
 * The analysis engine (AppSensor: attack identification → response selection). Detection events
 * go in, in batches from the event bus or from `simulate`; attacks, breaches and their effects
 * (decisions, notifications, audit lines) come out through a sink. The engine knows no HTTP and
 * no Redis: counting is the store's (one atomic `hit` per threshold or rule an event feeds), and
 * what to do about an attack is in the policy snapshot taken once per batch, so a reload never
 * splits a batch between two policies.
 *
 * Semantics (DESIGN section 4): a threshold counts events of one detection point per actor in a
 * sliding window and restarts it at each attack; a rule does the same across detection points
 * (`any`, `all`, `sequence`); the Nth attack of an actor on one threshold or rule within
 * `escalation.memory` gets the Nth rung of its ladder, the last repeating. An event with outcome
 * `success` is a breach: no threshold, `breach.responses` at once.
 *
 * With an incident store, each event then goes into its actor's incident (src/policy/incidents.ts),
 * after the batch's decisions went out (a block never waits on incident bookkeeping). The sink
 * hears of every incident an event touched, and whether this event made it a breach: the one
 * moment a breach pages (exactly once per incident, whichever replica wins it in the store).
 */
import { randomUUID } from "node:crypto";
import type { DetectionEvent, EventActor, EventOutcome } from "../events/event.ts";
import type { IncidentUpdate } from "../store/incident.ts";
import { type Evidence, type Incident, type IncidentResult, worstOutcome } from "../store/incident.ts";
import type { Store, WindowHit } from "../store/store.ts";
import { type ActorKey, actorKey } from "./actor-key.ts";
import { type EventFindings, stopsActor, updateFor } from "./incidents.ts";
import type { Mode, Policy, ResponseDef } from "./policy.ts";
import { type Cause, type Effect, effectOf } from "./responses.ts";

export interface AttackRecord {
  id: string;
  time: number;
  /** Set for a threshold's attack; `rule` for a rule's. */
  detectionPoint: string | null;
  rule: string | null;
  /** The actor it was counted against. */
  actor: ActorKey;
  /** Every identity the completing event had. */
  identities: EventActor;
  /** This is the actor's Nth attack on this threshold or rule within escalation memory. */
  nth: number;
  /** The ladder rung chosen. */
  response: ResponseDef;
  mode: Mode;
  allowlisted: boolean;
  /**
   * The completing event's outcome, raised to `blocked` when Gatehouse answers the attack by
   * stopping the actor (block, throttle, disable or logout, enforced). The store counts events,
   * not their outcomes; the incident, which folds in every event, takes the worst of them all.
   */
  outcome: EventOutcome;
  /** The event that completed it. */
  event: DetectionEvent;
}

export interface BreachRecord {
  id: string;
  time: number;
  detectionPoint: string;
  identities: EventActor;
  /** From the event's `metadata.evidence` (edge and response evidence), else `app` with its detail. */
  evidence: Evidence[];
  mode: Mode;
  allowlisted: boolean;
  event: DetectionEvent;
}

export interface EngineSink {
  attack(attack: AttackRecord): void;
  breach(breach: BreachRecord): void;
  /** One per response of an attack or breach, after it. */
  effect(effect: Effect, cause: AttackRecord | BreachRecord): void;
  /** An incident an event went into (only with an incident store), once the store applied it. */
  incident?(report: IncidentReport): void;
}

/** What the sink hears about an incident after one event went into it. */
export interface IncidentReport {
  incident: Incident;
  opened: boolean;
  /** This event turned the incident into a breach: page now (once per incident). */
  breached: boolean;
  /**
   * Notify responses of this event. A breach's are listed only when `breached` (the incident
   * pages once, whatever number of success events follow); an attack's go to the channel's digest.
   */
  notify: { channel: string; kind: "breach" | "digest"; mode: Mode }[];
  event: DetectionEvent;
}

/** What the engine needs of an incident store (src/store/incident-store.ts). */
export interface IncidentRecorder {
  record(updates: readonly IncidentUpdate[]): Promise<IncidentResult[]>;
}

export type IdKind = "attack" | "breach" | "decision" | "incident";

export interface EngineOptions {
  store: Store;
  /** The live policy; read once per batch. */
  policy: () => Policy;
  sink: EngineSink;
  /**
   * When the decisions an attack or breach makes start: the event's time when absent (simulate
   * replays history), the wall clock in serve, so an app's late or early timestamp can neither
   * expire a block at birth nor stretch it past its duration.
   */
  decisionsStart?: (eventTime: number) => number;
  /** Ids for attacks, breaches and decisions (sequential in `simulate`, so its output is reproducible). */
  newId?: (kind: IdKind) => string;
  /** Most events waiting for the store; past it new batches are dropped and counted (a stalled store must not grow memory without end). */
  maxPending?: number;
  onDrop?: (events: number) => void;
  onError?: (err: unknown) => void;
  /** Group events into incidents there; without it the engine keeps no incidents. */
  incidents?: IncidentRecorder;
}

export interface Engine {
  /** Analyse a batch in order; resolves when its attacks and effects have gone to the sink. */
  process(events: readonly DetectionEvent[]): Promise<void>;
  /** Events accepted and not yet finished. */
  pending(): number;
  /** Resolves once every batch accepted so far has finished (for a graceful stop). */
  idle(): Promise<void>;
}

interface Feed {
  event: number;
  detectionPoint: string | null;
  rule: string | null;
  actor: ActorKey;
  ladder: readonly ResponseDef[];
  mode: Mode;
}

export function createEngine(options: EngineOptions): Engine {
  const { store, sink } = options;
  const newId = options.newId ?? (() => randomUUID());
  const maxPending = options.maxPending ?? 200_000;
  const decisionsStart = options.decisionsStart ?? ((time: number) => time);
  let pending = 0;
  let waiters: (() => void)[] = [];

  async function process(events: readonly DetectionEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (pending + events.length > maxPending) {
      options.onDrop?.(events.length);
      return;
    }
    pending += events.length;
    try {
      const policy = options.policy();
      const feeds: Feed[] = [];
      const hits: WindowHit[] = [];
      for (let i = 0; i < events.length; i++) collect(policy, events[i]!, i, feeds, hits);
      const results = hits.length > 0 ? await store.hit(hits) : [];
      const findings: Finding[] = [];
      let f = 0;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const finding: Finding = { event, attacks: [], breach: null, responses: [], notify: [] };
        if (event.outcome === "success") breach(policy, event, finding);
        for (; f < feeds.length && feeds[f]!.event === i; f++) {
          const result = results[f];
          if (result?.attack) attack(policy, feeds[f]!, event, result.nth, finding);
        }
        findings.push(finding);
      }
      if (options.incidents) await group(policy, findings, options.incidents);
    } catch (err) {
      options.onError?.(err);
    } finally {
      pending -= events.length;
      if (pending === 0 && waiters.length > 0) {
        const done = waiters;
        waiters = [];
        for (const w of done) w();
      }
    }
  }

  /** The thresholds and rules `event` feeds, as store hits (in the same order as `feeds`). */
  function collect(
    policy: Policy,
    event: DetectionEvent,
    index: number,
    feeds: Feed[],
    hits: WindowHit[],
  ): void {
    // A success is a breach, answered at once; counting it too would answer it twice.
    if (event.outcome === "success") return;
    const memoryMs = policy.escalation.memoryMs;
    const dp = policy.detectionPoints.get(event.detectionPoint);
    if (dp) {
      const actor = actorKey(dp.per, event.actor, dp.prefix);
      if (actor) {
        const window = `t:${dp.id}:${actor.scope}:${actor.value}`;
        feeds.push({
          event: index,
          detectionPoint: dp.id,
          rule: null,
          actor,
          ladder: dp.responses,
          mode: dp.mode,
        });
        hits.push({
          window,
          history: `h:${window}`,
          label: event.detectionPoint,
          time: event.time,
          withinMs: dp.threshold.withinMs,
          match: { kind: "count", count: dp.threshold.count },
          memoryMs,
        });
      }
    }
    for (const rule of policy.rulesByLabel.get(event.detectionPoint) ?? []) {
      const actor = actorKey(rule.per, event.actor, rule.prefix);
      if (!actor) continue;
      const window = `r:${rule.name}:${actor.scope}:${actor.value}`;
      feeds.push({
        event: index,
        detectionPoint: null,
        rule: rule.name,
        actor,
        ladder: rule.responses,
        mode: rule.mode,
      });
      hits.push({
        window,
        history: `h:${window}`,
        label: event.detectionPoint,
        time: event.time,
        withinMs: rule.withinMs,
        match: rule.match.kind === "any" ? { kind: "count", count: rule.match.count } : rule.match,
        memoryMs,
      });
    }
  }

  /** The batch's events into their incidents, then the sink hears of each incident touched. */
  async function group(policy: Policy, findings: readonly Finding[], recorder: IncidentRecorder) {
    const updates: IncidentUpdate[] = [];
    const owners: Finding[] = [];
    for (const finding of findings) {
      const opens = finding.attacks.length > 0 || finding.breach !== null;
      // Ids only for updates that may open an incident, so simulate's stay sequential.
      const update = updateFor(finding, policy, opens ? newId("incident") : "");
      if (update === null) continue;
      updates.push(update);
      owners.push(finding);
    }
    if (updates.length === 0) return;
    const results = await recorder.record(updates);
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      const finding = owners[i]!;
      if (result.incident === null) continue;
      sink.incident?.({
        incident: result.incident,
        opened: result.opened,
        breached: result.breached,
        notify: finding.notify.filter((n) => n.kind === "digest" || result.breached),
        event: finding.event,
      });
    }
  }

  function attack(policy: Policy, feed: Feed, event: DetectionEvent, nth: number, finding: Finding): void {
    const response = feed.ladder[Math.min(nth, feed.ladder.length) - 1]!;
    const allowlisted = isAllowlisted(policy, event.actor);
    const stopped = stopsActor(response.action) && feed.mode === "enforce" && !allowlisted;
    const record: AttackRecord = {
      id: newId("attack"),
      time: event.time,
      detectionPoint: feed.detectionPoint,
      rule: feed.rule,
      actor: feed.actor,
      identities: event.actor,
      nth,
      response,
      mode: feed.mode,
      allowlisted,
      outcome: stopped ? worstOutcome(event.outcome, "blocked") : event.outcome,
      event,
    };
    sink.attack(record);
    finding.attacks.push({ outcome: record.outcome });
    respond([response], record, "policy", finding, "digest");
  }

  function breach(policy: Policy, event: DetectionEvent, finding: Finding): void {
    const record: BreachRecord = {
      id: newId("breach"),
      time: event.time,
      detectionPoint: event.detectionPoint,
      identities: event.actor,
      evidence: [evidenceOf(event)],
      mode: policy.breach.mode,
      allowlisted: isAllowlisted(policy, event.actor),
      event,
    };
    sink.breach(record);
    finding.breach = { evidence: record.evidence };
    respond(policy.breach.responses, record, "breach", finding, "breach");
  }

  function respond(
    responses: readonly ResponseDef[],
    record: AttackRecord | BreachRecord,
    origin: Cause["origin"],
    finding: Finding,
    notifyKind: "breach" | "digest",
  ): void {
    const cause: Cause = {
      id: record.id,
      time: decisionsStart(record.time),
      actor: record.identities,
      detectionPoint: record.detectionPoint,
      rule: "rule" in record ? record.rule : null,
      mode: record.mode,
      origin,
    };
    for (const response of responses) {
      // Allowlisted actors are never blocked, throttled or logged out (DESIGN section 4): no
      // decision aimed at their own address, range, session or name. A global decision is not
      // theirs to veto (enforcement exempts allowlisted clients from every decision), and the
      // audit line and notifications still go out.
      if (record.allowlisted && targetsActor(response)) {
        sink.effect({ kind: "skipped", response: response.name, why: "the actor is allowlisted" }, record);
        continue;
      }
      const effect = effectOf(response, cause, () => newId("decision"));
      if (effect.kind !== "skipped")
        finding.responses.push({ response: response.name, action: response.action, mode: record.mode });
      if (effect.kind === "notify")
        finding.notify.push({ channel: effect.channel, kind: notifyKind, mode: record.mode });
      sink.effect(effect, record);
    }
  }

  return {
    process,
    pending: () => pending,
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

/** An event's findings while its batch is analysed: what `group` turns into an incident update. */
interface Finding extends EventFindings {
  notify: IncidentReport["notify"];
}

/** Longest evidence kind and detail taken from an event's metadata. */
const EVIDENCE_KIND_MAX = 64;
const EVIDENCE_DETAIL_MAX = 1024;

/**
 * What shows a breach: `metadata.evidence` (`{kind, detail}`, set by edge detection and response
 * evidence) when the event has a well-formed one, else the app's own word.
 */
function evidenceOf(event: DetectionEvent): Evidence {
  const requestId = event.request?.id ?? null;
  const given = event.metadata?.evidence as { kind?: unknown; detail?: unknown } | null | undefined;
  if (given && typeof given === "object" && typeof given.kind === "string" && given.kind !== "") {
    return {
      kind: given.kind.slice(0, EVIDENCE_KIND_MAX),
      detail: typeof given.detail === "string" ? given.detail.slice(0, EVIDENCE_DETAIL_MAX) : "",
      requestId,
    };
  }
  return {
    kind: "app",
    detail: event.detail ?? `the app reported ${event.detectionPoint} with outcome success`,
    requestId,
  };
}

function targetsActor(response: ResponseDef): boolean {
  if (response.action === "log" || response.action === "notify") return false;
  return response.action === "logout" || response.scope !== "global";
}

function isAllowlisted(policy: Policy, actor: EventActor): boolean {
  const list = policy.allowlist;
  return (actor.user !== null && list.users.has(actor.user)) || (actor.ip !== null && list.ips(actor.ip));
}
