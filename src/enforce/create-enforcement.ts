/**
 * Enforcement, assembled: the replicated decisions (and session → user bindings), the local
 * index kept in step with them, the cross-replica rate limiter, the logout callback, and the two
 * stages the request path runs (before forwarding, and at the app's response). app.ts builds one
 * and hands its parts to the proxy, the engine's sink and the admin API.
 */
import { Gauge, type Registry } from "prom-client";
import type { Config } from "../config/settings.ts";
import type { Logger } from "../observability/logger.ts";
import type { Allowlist } from "../policy/policy.ts";
import type { Clock } from "../store/clock.ts";
import { createReplicatedMap } from "../store/create-replicated-map.ts";
import type { Decision } from "../store/decision.ts";
import { type SessionBindings, sessionBindings, userCodec } from "../store/session-bindings.ts";
import type { StoreStatus } from "../store/store.ts";
import { createRateLimiter } from "./create-rate-limiter.ts";
import { DecisionIndex } from "./decision-index.ts";
import { createDecisionService, type DecisionService, decisionCodec } from "./decision-service.ts";
import { createEnforceAtResponse } from "./enforce-at-response.ts";
import { createEnforceDecisions } from "./enforce-decisions.ts";
import { createLogoutCallback } from "./logout-callback.ts";

const SESSION_BINDING_TTL = 24 * 3_600_000;
/**
 * Session → user bindings held per replica at most: one per login of the last day, so a busy
 * app could otherwise grow this without end. Past it the oldest binding is forgotten locally (a
 * later request on that session is attributed once the app names its user again).
 */
const SESSION_BINDINGS = 200_000;
const SWEEP_MS = 1_000;

export interface Enforcement {
  decisions: DecisionService;
  sessionUsers: SessionBindings;
  enforceDecisions: ReturnType<typeof createEnforceDecisions>;
  enforceAtResponse: ReturnType<typeof createEnforceAtResponse>;
  /** Decisions and bindings: up, or degraded while the shared store is unreachable. */
  status(): { status: StoreStatus["status"]; decisions: number; loaded: boolean; detail?: string };
  onStatusChange(listener: () => void): void;
  close(): Promise<void>;
}

export function createEnforcement(
  config: Config,
  deps: {
    clock: Clock;
    logger: Logger;
    registry: Registry;
    allowlist: () => Allowlist;
    hashSession: (raw: string) => string;
    sessionCookies: () => readonly string[];
    /** Told each decision this replica makes (policy, breach or manual), after it is held. */
    onDecision?: (decision: Decision) => void;
  },
): Enforcement {
  const { clock, logger } = deps;
  const shared = { redis: config.redis, app: config.app, clock, logger };
  // The index is the decisions map's local store: one set of rows for both. Shared through
  // Redis, it keeps columns and no reason beyond its mode (the admin API reads the rest from
  // Redis); in this process alone, it keeps every decision whole.
  const index = new DecisionIndex({ clock, keep: config.redis === null ? "whole" : "columns" });
  const decisionMap = createReplicatedMap<Decision>({
    ...shared,
    name: "decisions",
    codec: decisionCodec,
    local: index.store,
  });
  const bindingMap = createReplicatedMap<string>({
    ...shared,
    name: "sessions",
    codec: userCodec,
    maxEntries: SESSION_BINDINGS,
  });
  const sessionUsers = sessionBindings(bindingMap, clock, SESSION_BINDING_TTL);

  const limiter = createRateLimiter({ ...shared });
  const sweeper = setInterval(() => {
    index.sweep();
    limiter.sweep(clock.now());
  }, SWEEP_MS);
  sweeper.unref();

  const callback = config.logout.callback ? createLogoutCallback(config.logout.callback, logger) : null;
  const decisions = createDecisionService(decisionMap, clock, {
    newestFirst: () => index.newestFirst(),
    onAdded(decision) {
      callback?.notify(decision, sessionUsers.get(decision.value) ?? null);
      deps.onDecision?.(decision);
    },
  });

  new Gauge({
    name: "gatehouse_decisions_active",
    help: "Live decisions this replica enforces, by action and scope",
    labelNames: ["action", "scope"],
    registers: [deps.registry],
    collect() {
      this.reset();
      for (const { action, scope, count } of index.countLive().values())
        this.labels(action, scope).inc(count);
    },
  });

  return {
    decisions,
    sessionUsers,
    enforceDecisions: createEnforceDecisions({
      index,
      hashSession: deps.hashSession,
      sessionCookies: deps.sessionCookies,
      limiter,
      allowlist: deps.allowlist,
      decisionsKnown: () => decisionMap.loaded(),
      failMode: config.store.failMode,
      clock,
    }),
    enforceAtResponse: createEnforceAtResponse(index, deps.allowlist),
    status() {
      const a = decisionMap.status();
      const b = bindingMap.status();
      const degraded = a.status === "degraded" ? a : b.status === "degraded" ? b : null;
      return {
        status: degraded ? "degraded" : "up",
        decisions: decisionMap.size,
        loaded: decisionMap.loaded(),
        ...(degraded?.detail ? { detail: degraded.detail } : {}),
      };
    },
    onStatusChange(listener) {
      decisionMap.onStatusChange(listener);
      bindingMap.onStatusChange(listener);
    },
    async close() {
      clearInterval(sweeper);
      await callback?.close();
      await Promise.all([decisionMap.close(), bindingMap.close(), limiter.close()]);
    },
  };
}
