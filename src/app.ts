/**
 * Composition root: config → logger → metrics/tracing → store → policy engine → forwarder →
 * servers. Nothing else
 * constructs long-lived objects, and nothing here is module-level state, so tests can run
 * several Gatehouse instances in one process.
 */

import { rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sessionHasher } from "./actor/session.ts";
import { createAdminServer } from "./admin/admin-server.ts";
import { attackToFeed, breachToFeed, eventToFeed } from "./admin/feed-messages.ts";
import { createLiveFeed } from "./admin/live-feed.ts";
import { createUpstreamProbe } from "./admin/upstream-probe.ts";
import type { Config } from "./config/settings.ts";
import type { Address } from "./config/types.ts";
import { createEnforcement } from "./enforce/create-enforcement.ts";
import { GatehouseError } from "./errors.ts";
import { Correlation } from "./events/correlation.ts";
import { createEventBus, type EventBus } from "./events/event-bus.ts";
import { createEventMetrics } from "./events/event-metrics.ts";
import { createInspector } from "./events/evidence/inspector.ts";
import { createIntake } from "./events/intake.ts";
import { listenOnSocket } from "./events/listen-socket.ts";
import { createEventServer } from "./events/socket-channel.ts";
import { createBufferReclaim } from "./forward/buffer-reclaim.ts";
import { createForwarder } from "./forward/forwarder.ts";
import { createWebSocketProxy } from "./forward/websocket.ts";
import { createNotifier } from "./notify/notifier.ts";
import type { Logger } from "./observability/logger.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";
import { createTracing } from "./observability/tracing.ts";
import { createEdgeDetection } from "./pipeline/detect-at-edge.ts";
import { createProxyServer } from "./pipeline/proxy-server.ts";
import { createReadDetections } from "./pipeline/read-detections.ts";
import { requestSource } from "./pipeline/request-source.ts";
import { createAuditSink, createPolicyMetrics } from "./policy/audit-sink.ts";
import { createEngine } from "./policy/engine.ts";
import type { PolicyResult } from "./policy/load.ts";
import type { Policy } from "./policy/policy.ts";
import { createPolicyHolder, type PolicyHolder } from "./policy/reloader.ts";
import { type Clock, systemClock } from "./store/clock.ts";
import { createStore } from "./store/create-store.ts";
import { decisionToJson } from "./store/decision.ts";
import { incidentToJson } from "./store/incident.ts";
import { createIncidentStore, type IncidentStore } from "./store/incident-store.ts";
import type { Store, StoreStatus } from "./store/store.ts";
import { VERSION } from "./version.ts";

export interface Gatehouse {
  metrics: Metrics;
  /** Detection events from every channel, for analysis. */
  bus: EventBus;
  policies: PolicyHolder;
  store: Store;
  /** Incidents (DESIGN section 6): memory, or Redis shared by the replicas. */
  incidents: IncidentStore;
  /** Bind the event channels, the proxy and the admin listeners; resolves with the bound addresses. */
  start(): Promise<{ proxy: string; admin: string; events: string[] }>;
  /** Graceful stop: stop accepting, finish requests in flight within `shutdownTimeout`, close. */
  stop(): Promise<{ forced: number }>;
}

export interface GatehouseOptions {
  /** The policy loaded at start (the caller refuses to start on an invalid one). */
  policy: Policy;
  /** Loads the policy files again, for reloads; without it the policy never changes. */
  loadPolicy?: () => PolicyResult;
  /** Reload when a policy file changes (default true when `loadPolicy` is given). */
  watchPolicy?: boolean;
  clock?: Clock;
}

export function createGatehouse(config: Config, logger: Logger, options: GatehouseOptions): Gatehouse {
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics(VERSION);
  const tracing = createTracing(VERSION);

  // Analysis: policy (hot reloaded) + store (memory, or Redis with local fallback) → engine.
  const policyMetrics = createPolicyMetrics(metrics.registry);
  const policies = createPolicyHolder({
    initial: options.policy,
    load: options.loadPolicy ?? (() => ({ ok: true, policy: options.policy, warnings: [] })),
    logger,
    onReloadError: () => policyMetrics.reloadErrors.inc(),
    watch: options.watchPolicy ?? options.loadPolicy !== undefined,
  });
  const store = createStore({ redis: config.redis, app: config.app, clock, logger });
  // Enforcement: decisions every replica holds, the index the request path reads, throttling.
  const hashSession = sessionHasher(config.identity.hashKey);
  const sessionCookies = () => policies.current().identity.sessionCookies ?? config.identity.sessionCookies;
  // What this replica sees, live, for /v1/stream, `gatehouse tail` and the dashboard.
  const feed = createLiveFeed();
  const enforcement = createEnforcement(config, {
    clock,
    logger,
    registry: metrics.registry,
    allowlist: () => policies.current().allowlist,
    hashSession,
    sessionCookies,
    onDecision(decision) {
      if (feed.wants("decision")) feed.publish("decision", decisionToJson(decision));
    },
  });
  const storeStatus = (): StoreStatus & { decisions?: unknown } => {
    const counting = store.status();
    const shared = enforcement.status();
    const status = counting.status === "degraded" || shared.status === "degraded" ? "degraded" : "up";
    const detail = counting.detail ?? shared.detail;
    return {
      kind: counting.kind,
      status,
      ...(detail ? { detail } : {}),
      decisions: { count: shared.decisions, loaded: shared.loaded },
    };
  };
  const audit = createAuditSink(logger, policyMetrics);
  // Incidents and notification: grouping after analysis, pages and digests off the request path.
  const incidents = createIncidentStore({ redis: config.redis, app: config.app, clock, logger });
  const notifier = createNotifier({
    policy: policies.current,
    incidents,
    registry: metrics.registry,
    logger,
    clock,
  });
  const engine = createEngine({
    store,
    incidents,
    policy: policies.current,
    sink: {
      attack(a) {
        audit.attack(a);
        if (feed.wants("attack")) feed.publish("attack", attackToFeed(a));
      },
      breach(b) {
        audit.breach(b);
        if (feed.wants("breach")) feed.publish("breach", breachToFeed(b));
      },
      effect(effect, cause) {
        audit.effect(effect, cause);
        if (effect.kind === "decision") enforcement.decisions.apply(effect.decision);
      },
      incident(report) {
        audit.incident(report);
        notifier.incident(report);
        if (feed.wants("incident")) feed.publish("incident", incidentToJson(report.incident));
      },
    },
    decisionsStart: () => clock.now(),
    onDrop: (n) => policyMetrics.droppedEvents.inc(n),
    onError: (err) => logger.error({ err: (err as Error).message }, "analysis failed for a batch of events"),
  });
  // The stores log their connections' changes themselves; here only the gauge follows them.
  const storeUp = () => metrics.storeUp.set(storeStatus().status === "up" ? 1 : 0);
  storeUp();
  store.onStatusChange(storeUp);
  enforcement.onStatusChange(storeUp);

  // Detection events: channels → intake (correlation, session bindings) → bus → analysis.
  const correlation = new Correlation({
    capacity: config.correlation.maxEntries,
    ttlMs: config.correlation.ttl,
    clock,
  });
  const sessionUsers = enforcement.sessionUsers;
  const eventMetrics = createEventMetrics(metrics.registry);
  const bus = createEventBus({
    onError: (err) => logger.error({ err: (err as Error).message }, "event subscriber failed"),
  });
  const intake = createIntake({
    bus,
    correlation,
    sessionUsers,
    hashSession,
    metrics: eventMetrics,
    clock,
    logger,
  });
  const readDetections = createReadDetections(intake, correlation);
  bus.subscribe((events) => {
    void engine.process(events);
  });
  bus.subscribe((events) => {
    if (!feed.wants("event")) return;
    for (const e of events) feed.publish("event", eventToFeed(e));
  });
  bus.subscribe((events) => {
    if (!logger.isLevelEnabled("info")) return;
    for (const e of events) {
      logger.info(
        {
          detectionPoint: e.detectionPoint,
          channel: e.channel,
          outcome: e.outcome,
          actor: e.actor,
          requestId: e.request?.id,
          method: e.request?.method,
          path: e.request?.path,
          detail: e.detail,
        },
        "detection event",
      );
    }
  });
  const eventServers = [
    ...(config.eventsSocket !== "off"
      ? [{ server: createEventServer(intake), socket: config.eventsSocket }]
      : []),
    ...(config.eventsListen ? [{ server: createEventServer(intake), address: config.eventsListen }] : []),
  ];

  // Detection at the edge (DESIGN 3.3): request side as a stage, status side at the response.
  const edge = createEdgeDetection({
    policy: policies.current,
    intake,
    clock,
    sessionCookies,
    onError: (err) =>
      logger.error({ err: (err as Error).message }, "edge detection failed on a request body"),
  });
  // Breach evidence in the responses to flagged requests (DESIGN section 6): outcome success.
  const inspectResponse = createInspector({
    inspection: config.inspection,
    policy: policies.current,
    onEvidence(ctx, evidence) {
      intake.fromEdge(requestSource(ctx, clock.now()), [{ ...evidence, outcome: "success" }]);
    },
    onError: (err) =>
      logger.error({ err: (err as Error).message }, "response evidence could not be recorded"),
  });
  // Null without --expose-gc (src/v8-flags.ts): large bodies then hold more RSS.
  const reclaim = createBufferReclaim();
  const forwarder = createForwarder({
    upstream: config.upstream,
    connections: config.upstreamConnections,
    timeouts: config.timeouts,
    onUpstreamDuration: (s) => metrics.upstreamDuration.observe(s),
    onBodyBytes: reclaim?.note,
    onAppHeaders(ctx, headers) {
      const before = ctx.user;
      readDetections(ctx, headers);
      return enforcement.enforceAtResponse(ctx, before);
    },
    observeResponse(ctx, statusCode, headers) {
      edge.observeStatus(ctx, statusCode, headers);
      return inspectResponse(ctx, statusCode, headers);
    },
    // Bound late: the proxy server is built below, and is draining only once stop() runs.
    isDraining: () => proxy.isDraining(),
  });
  const websockets = createWebSocketProxy(config.upstream, config.timeouts, metrics, logger, reclaim?.note);
  const proxy = createProxyServer({
    config,
    forwarder,
    websockets,
    metrics,
    logger,
    tracing,
    hashSession,
    sessionUsers,
    sessionCookies,
    enforceDecisions: enforcement.enforceDecisions,
    detectAtEdge: edge.detectAtEdge,
    correlation,
  });
  let proxyListening = false;
  const admin = createAdminServer(
    metrics,
    {
      proxyListening: () => proxyListening,
      checkUpstream: createUpstreamProbe(config.upstream, Math.min(config.timeouts.upstreamConnect, 2000)),
      store: storeStatus,
      policy: () => policies.status(),
    },
    { decisions: enforcement.decisions, incidents, feed, adminToken: config.adminToken, logger, clock },
  );

  return {
    metrics,
    bus,
    policies,
    store,
    incidents,
    async start() {
      const events: string[] = [];
      for (const e of eventServers) {
        if ("socket" in e && e.socket) {
          await listenOnSocket(e.server, e.socket);
          events.push(`unix:${e.socket}`);
        } else if ("address" in e && e.address) {
          events.push(await listen(e.server, e.address, "eventsListen"));
        }
      }
      const proxyAddr = await listen(proxy.server, config.listen, "listen");
      const adminAddr = await listen(admin, config.adminListen, "adminListen");
      proxyListening = true;
      logger.info(
        {
          proxy: proxyAddr,
          admin: adminAddr,
          events,
          upstream: config.upstream.text,
          version: VERSION,
          bufferReclaim: reclaim !== null,
        },
        "gatehouse listening",
      );
      return { proxy: proxyAddr, admin: adminAddr, events };
    },
    async stop() {
      proxyListening = false;
      const { forced } = await proxy.drain(config.shutdownTimeout);
      feed.close();
      await closeServer(admin);
      // Events the app reports while requests drain are still taken; then the channels close.
      await Promise.all(eventServers.map((e) => closeServer(e.server)));
      if (config.eventsSocket !== "off") rmSync(config.eventsSocket, { force: true });
      await bus.flush();
      await engine.idle();
      // Pages the last events raised get a moment to go out.
      await notifier.close();
      policies.close();
      await Promise.all([store.close(), enforcement.close(), incidents.close()]);
      await forwarder.close();
      logger.info({ forced }, "gatehouse stopped");
      return { forced };
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function listen(server: Server, address: Address, setting: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === "EADDRINUSE"
          ? "is already in use"
          : err.code === "EACCES"
            ? "needs more privileges"
            : err.message;
      reject(new GatehouseError("LISTEN_FAILED", `${setting}: ${address.host}:${address.port} ${hint}`));
    };
    server.once("error", onError);
    server.listen(address.port, address.host, () => {
      server.off("error", onError);
      const bound = server.address() as AddressInfo;
      resolve(
        bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
      );
    });
  });
}
