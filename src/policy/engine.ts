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
 */
import { randomUUID } from "node:crypto";
import type { DetectionEvent, EventActor } from "../events/event.ts";
import type { Store, WindowHit } from "../store/store.ts";
import { type ActorKey, actorKey } from "./actor-key.ts";
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
  /** The event that completed it. */
  event: DetectionEvent;
}

export interface BreachRecord {
  id: string;
  time: number;
  detectionPoint: string;
  identities: EventActor;
  evidence: { kind: string; detail: string; requestId: string | null }[];
  mode: Mode;
  allowlisted: boolean;
  event: DetectionEvent;
}

export interface EngineSink {
  attack(attack: AttackRecord): void;
  breach(breach: BreachRecord): void;
  /** One per response of an attack or breach, after it. */
  effect(effect: Effect, cause: AttackRecord | BreachRecord): void;
}

export type IdKind = "attack" | "breach" | "decision";

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
      let f = 0;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (event.outcome === "success") breach(policy, event);
        for (; f < feeds.length && feeds[f]!.event === i; f++) {
          const result = results[f];
          if (result?.attack) attack(policy, feeds[f]!, event, result.nth);
        }
      }
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

  function attack(policy: Policy, feed: Feed, event: DetectionEvent, nth: number): void {
    const response = feed.ladder[Math.min(nth, feed.ladder.length) - 1]!;
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
      allowlisted: isAllowlisted(policy, event.actor),
      event,
    };
    sink.attack(record);
    respond([response], record, "policy");
  }

  function breach(policy: Policy, event: DetectionEvent): void {
    const record: BreachRecord = {
      id: newId("breach"),
      time: event.time,
      detectionPoint: event.detectionPoint,
      identities: event.actor,
      evidence: [
        {
          kind: "app",
          detail: event.detail ?? `the app reported ${event.detectionPoint} with outcome success`,
          requestId: event.request?.id ?? null,
        },
      ],
      mode: policy.breach.mode,
      allowlisted: isAllowlisted(policy, event.actor),
      event,
    };
    sink.breach(record);
    respond(policy.breach.responses, record, "breach");
  }

  function respond(
    responses: readonly ResponseDef[],
    record: AttackRecord | BreachRecord,
    origin: Cause["origin"],
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
      sink.effect(
        effectOf(response, cause, () => newId("decision")),
        record,
      );
    }
  }

  return {
    process,
    pending: () => pending,
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
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
