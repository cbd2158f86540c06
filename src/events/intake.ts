/**
 * Where every detection enters: header detections (read from the app's response) and socket
 * events become DetectionEvents with a full actor, are counted, and are published on the bus.
 * Correlation: a socket event naming a `requestId` takes that request's ip, session, user,
 * method and path from the correlation map; `Gatehouse-User` binds the request's session to
 * the user so later requests on that session are attributed before they reach the app.
 */

import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../store/clock.ts";
import type { SessionBindings } from "../store/session-bindings.ts";
import type { Correlation, RequestRecord } from "./correlation.ts";
import type { DetectionEvent, EventChannel, EventOutcome } from "./event.ts";
import type { EventBus } from "./event-bus.ts";
import type { EventMetrics } from "./event-metrics.ts";
import { type HeaderErrorReason, parseDetectionHeaders } from "./header-parser.ts";
import type { SocketEvent } from "./socket-parser.ts";

export type { RequestRecord } from "./correlation.ts";

/**
 * A detection Gatehouse made itself. `metadata` says what matched (`part`, `matched`) and, for
 * response evidence, `evidence: {kind, detail}`, which a breach carries into its incident.
 */
export interface EdgeDetection {
  detectionPoint: string;
  outcome: EventOutcome;
  detail: string | null;
  metadata: Readonly<Record<string, unknown>> | null;
}

/** The request facts a header detection is attributed to. */
export interface HeaderSource extends RequestRecord {
  requestId: string;
}

export interface IntakeDeps {
  bus: EventBus;
  correlation: Correlation;
  sessionUsers: SessionBindings;
  hashSession: (raw: string) => string;
  metrics: EventMetrics;
  clock: Clock;
  logger: Logger;
}

export function createIntake(deps: IntakeDeps) {
  const { bus, correlation, sessionUsers, hashSession, metrics, clock } = deps;
  const lastLogged = new Map<string, { at: number; suppressed: number }>();

  /** Count an error and log it at most once a minute per channel and reason. */
  function reportError(channel: EventChannel, reason: string, detail?: Record<string, unknown>): void {
    metrics.error(channel, reason);
    const key = `${channel}:${reason}`;
    const now = clock.now();
    const last = lastLogged.get(key);
    if (last && now - last.at < 60_000) {
      last.suppressed++;
      return;
    }
    deps.logger.warn(
      { channel, reason, suppressedSinceLast: last?.suppressed ?? 0, ...detail },
      "detection event refused",
    );
    lastLogged.set(key, { at: now, suppressed: 0 });
  }

  function publish(event: DetectionEvent): void {
    metrics.event(event.channel, event.detectionPoint, event.outcome);
    if (!bus.publish(event)) reportError(event.channel, "overflow");
  }

  /**
   * The app's Gatehouse-Event / Gatehouse-User response headers, for the request in `source`.
   * `raisedAtEdge` names the detection points Gatehouse already raised for this request at the
   * edge: the app's attempt on the same point is the same detection seen twice, and is not
   * counted again (thresholds would otherwise trip at half their count). An outcome other than
   * `attempt` is the app's own news and always counts.
   */
  function fromHeaders(
    source: HeaderSource,
    eventHeader: string | string[] | undefined,
    userHeader: string | string[] | undefined,
    raisedAtEdge: (detectionPoint: string) => boolean = () => false,
  ): string | null {
    const parsed = parseDetectionHeaders(eventHeader, userHeader);
    for (const reason of parsed.errors)
      reportError("header", reason satisfies HeaderErrorReason, { requestId: source.requestId });
    const user = parsed.user ?? source.user;
    // Re-binding the same user on every response would only churn the map.
    if (parsed.user !== null && source.session !== null && sessionUsers.get(source.session) !== parsed.user) {
      sessionUsers.set(source.session, parsed.user);
    }
    const request = { id: source.requestId, method: source.method, path: source.path };
    for (const e of parsed.events) {
      if (e.outcome === "attempt" && raisedAtEdge(e.detectionPoint)) continue;
      publish({
        detectionPoint: e.detectionPoint,
        channel: "header",
        outcome: e.outcome,
        time: clock.now(),
        actor: { ip: source.ip, session: source.session, user: e.user ?? user },
        request,
        detail: e.detail,
        metadata: null,
      });
    }
    return parsed.user;
  }

  /** Validated socket events; returns how many were correlated to a known request. */
  function fromSocket(events: readonly SocketEvent[]): number {
    let correlated = 0;
    for (const e of events) {
      const record = e.requestId === null ? undefined : correlation.get(e.requestId);
      if (e.requestId !== null && record === undefined)
        reportError("socket", "uncorrelated", { requestId: e.requestId });
      if (record) correlated++;
      const session = e.session !== null ? hashSession(e.session) : (record?.session ?? null);
      const user = e.user ?? record?.user ?? (session !== null ? (sessionUsers.get(session) ?? null) : null);
      if (e.user !== null && session !== null && sessionUsers.get(session) !== e.user)
        sessionUsers.set(session, e.user);
      publish({
        detectionPoint: e.detectionPoint,
        channel: "socket",
        outcome: e.outcome,
        time: eventTime(e.timestamp, clock.now()),
        actor: { ip: record?.ip ?? e.ip, session, user },
        request:
          record && e.requestId !== null
            ? { id: e.requestId, method: record.method, path: record.path }
            : null,
        detail: e.detail,
        metadata: e.metadata,
      });
    }
    return correlated;
  }

  /**
   * Detections Gatehouse raised itself for the request in `source`: edge detection (DESIGN 3.3)
   * and response evidence (DESIGN section 6). They become ordinary events on channel `edge`.
   */
  function fromEdge(source: HeaderSource, detections: readonly EdgeDetection[]): void {
    const request = { id: source.requestId, method: source.method, path: source.path };
    for (const d of detections) {
      publish({
        detectionPoint: d.detectionPoint,
        channel: "edge",
        outcome: d.outcome,
        time: clock.now(),
        actor: { ip: source.ip, session: source.session, user: source.user },
        request,
        detail: d.detail,
        metadata: d.metadata,
      });
    }
  }

  return { fromHeaders, fromSocket, fromEdge, reportError };
}

export type Intake = ReturnType<typeof createIntake>;

/** How far ahead of this replica's clock an app's timestamp may be (clock skew), before it is taken as now. */
const MAX_FUTURE_MS = 60_000;

/**
 * An event's time: the app's timestamp, or the time of receipt. A timestamp from the future is
 * taken as now: it would otherwise keep the event in sliding windows long after it happened.
 */
export function eventTime(timestamp: number | null, now: number): number {
  return timestamp === null || timestamp > now + MAX_FUTURE_MS ? now : timestamp;
}
