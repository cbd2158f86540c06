/**
 * The proxy's HTTP server: makes the request context, runs the stages of src/pipeline/stages.ts
 * in order, hands WebSocket upgrades to the WebSocket proxy, and drains gracefully on close.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { createIdentifyActor } from "../actor/identify-actor.ts";
import type { Config } from "../config/settings.ts";
import { disabledStatus, respond } from "../enforce/responder.ts";
import type { Correlation } from "../events/correlation.ts";
import type { Forwarder } from "../forward/forwarder.ts";
import { trustedRequestId, upstreamHeaders } from "../forward/request-headers.ts";
import type { WebSocketProxy } from "../forward/websocket.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { describeRequestSpan, endRequestSpan, type Tracing } from "../observability/tracing.ts";
import type { SessionBindings } from "../store/session-bindings.ts";
import { checkTarget } from "./check-target.ts";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";
import { createRecord, metricOutcome } from "./record.ts";
import { beforeForward, type RequestStage } from "./stages.ts";

export interface ProxyServerDeps {
  config: Config;
  /** Keyed hash of session values, and the session → user bindings. */
  hashSession: (raw: string) => string;
  sessionUsers: SessionBindings;
  /** Session cookie names: the policy's `identity.sessionCookies` when it sets them, else the config's. */
  sessionCookies: () => readonly string[];
  /** The decision enforcement stage (src/enforce/enforce-decisions.ts). */
  enforceDecisions: RequestStage;
  /** Edge detection (src/pipeline/detect-at-edge.ts): runs once the request has its id, goes on. */
  detectAtEdge: RequestStage;
  /** Remembers each forwarded request by its X-Request-Id, for socket events that name it. */
  correlation: Correlation;
  forwarder: Forwarder;
  websockets: WebSocketProxy;
  metrics: Metrics;
  logger: Logger;
  tracing: Tracing;
}

export interface ProxyServer {
  server: Server;
  /** Stop accepting, let requests in flight finish, then close what is left after `timeoutMs`. */
  drain(timeoutMs: number): Promise<{ forced: number }>;
  /** True once drain() has begun. */
  isDraining(): boolean;
}

/** Shared by every request that revokes nothing, so the common case allocates no array. */
const NO_COOKIES: readonly string[] = Object.freeze([]);

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    req.method === "GET" &&
    typeof req.headers.upgrade === "string" &&
    req.headers.upgrade.toLowerCase() === "websocket"
  );
}

export function createProxyServer(deps: ProxyServerDeps): ProxyServer {
  const { config, forwarder, websockets, metrics, logger, tracing, correlation, sessionUsers } = deps;
  const identifyActor = createIdentifyActor({
    trustedProxies: config.trustedProxies,
    sessionCookies: deps.sessionCookies,
    userHeader: config.identity.userHeader?.toLowerCase() ?? null,
    hashSession: deps.hashSession,
    userOfSession: (id) => sessionUsers.get(id),
  });
  const before = beforeForward({ checkTarget, identifyActor, enforceDecisions: deps.enforceDecisions });
  const record = createRecord(metrics, logger);
  const userHeader = config.identity.userHeader?.toLowerCase() ?? null;
  let draining = false;
  // A count, not a Set of responses: a Set with an add and a delete per request keeps deleted
  // entries (and the responses they point to) until it rehashes, which promoted every request's
  // objects to the old generation and made GC the proxy's largest cost under load.
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  function newContext(req: IncomingMessage): RequestContext {
    return {
      requestId: "",
      start: performance.now(),
      method: req.method ?? "GET",
      target: "/",
      clientIp: "",
      peerIp: "",
      peerTrusted: false,
      session: null,
      sessionId: null,
      user: null,
      trace: tracing.startRequestSpan(req.method ?? "GET", req.headers),
      revokedCookies: NO_COOKIES,
      revokedBearer: false,
      appNamedUser: false,
      tarpitMs: 0,
      flagged: false,
      detections: null,
      upstreamStatus: 0,
      outcome: null,
    };
  }

  /** The request's X-Request-Id (a trusted proxy's, or a new one), remembered for correlation. */
  function assignRequestId(ctx: RequestContext, req: IncomingMessage): string {
    const kept = trustedRequestId(req, ctx.peerTrusted);
    return correlation.record(kept, ctx.clientIp, ctx.sessionId, ctx.user, ctx.method, ctx.target);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    inFlight++;
    const ctx = newContext(req);
    if (draining) res.shouldKeepAlive = false;
    let outcome: Outcome | undefined;
    for (const stage of before) {
      outcome = stage(ctx, req);
      if (outcome) break;
    }
    ctx.requestId = assignRequestId(ctx, req);
    describeRequestSpan(ctx.trace.span, {
      method: ctx.method,
      route: ctx.target,
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
      host: req.headers.host,
    });
    const done = (result: Outcome) => finish(ctx, res, result);
    if (outcome) return done(outcome);
    // After the request id (its events name the request), and only for requests that go on to
    // the app: a refused request is already answered, and counting it again would let a blocked
    // client climb its own escalation ladder.
    outcome = deps.detectAtEdge(ctx, req);
    if (outcome) return done(outcome);
    const headers = upstreamHeaders(req, {
      requestId: ctx.requestId,
      peerIp: ctx.peerIp,
      peerTrusted: ctx.peerTrusted,
      userHeader,
      extra: tracing.outgoingTraceHeaders(ctx.trace),
      dropCookies: ctx.revokedCookies,
      dropAuthorization: ctx.revokedBearer,
      posture: ctx.flagged,
    });
    if (ctx.tarpitMs > 0) return tarpit(ctx, req, res, headers, done);
    forwarder.forward(ctx, req, res, headers, done);
  }

  /** A tarpit decision: hold the request, then forward it, unless the client gave up meanwhile. */
  function tarpit(
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    headers: string[],
    done: (outcome: Outcome) => void,
  ): void {
    const gone = () => {
      clearTimeout(timer);
      done({ kind: "aborted", cause: "client closed the connection while tarpitted" });
    };
    const timer = setTimeout(() => {
      res.off("close", gone);
      forwarder.forward(ctx, req, res, headers, done);
    }, ctx.tarpitMs);
    res.once("close", gone);
  }

  function finish(ctx: RequestContext, res: ServerResponse, outcome: Outcome): void {
    if (draining && !res.headersSent) res.shouldKeepAlive = false;
    respond(ctx, res, outcome);
    record(ctx, outcome, outcome.kind === "forwarded" ? outcome.status : res.statusCode);
    inFlight--;
    if (inFlight === 0 && onIdle) onIdle();
  }

  const server = createServer(
    {
      maxHeaderSize: config.limits.headerBytes,
      headersTimeout: config.timeouts.clientHeaders,
      requestTimeout: config.timeouts.request,
      keepAliveTimeout: config.timeouts.idle,
      noDelay: true,
      // Only WebSocket upgrades are relayed as upgrades; any other Upgrade (h2c, …) is served as the
      // plain HTTP/1.1 request it also is, with Upgrade stripped as a hop-by-hop header.
      shouldUpgradeCallback: isWebSocketUpgrade,
    },
    handle,
  );
  server.timeout = config.timeouts.clientIdle;

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node removes its own error handler before emitting 'upgrade': without one, a client that
    // resets the connection while we answer would throw from the socket and end the process.
    socket.on("error", () => socket.destroy());
    if (draining) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const ctx = newContext(req);
    const stop = checkTarget(ctx, req) ?? identifyActor(ctx, req) ?? deps.enforceDecisions(ctx, req);
    if (stop) {
      metrics.requests[metricOutcome(stop)].inc();
      socket.end(`HTTP/1.1 ${statusLine(stop)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    ctx.requestId = assignRequestId(ctx, req);
    // An upgrade has no body; its target and headers are checked like any request's.
    deps.detectAtEdge(ctx, req);
    socket.once("close", () => endRequestSpan(ctx.trace.span, 101));
    websockets.upgrade(ctx, req, socket, head, userHeader);
  });

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Malformed HTTP never reaches a stage; answer as Node would, count it, and move on.
    const reason =
      err.code === "HPE_HEADER_OVERFLOW"
        ? "header_overflow"
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "timeout"
          : err.code === "ECONNRESET"
            ? "reset"
            : "malformed";
    metrics.clientErrors.labels(reason).inc();
    if (logger.isLevelEnabled("debug")) logger.debug({ reason, code: err.code }, "client error");
    // A response already on its way (pipelining) must not get a status line written into it.
    const inProgress = (socket as Duplex & { _httpMessage?: { _headerSent?: boolean } })._httpMessage
      ?._headerSent;
    if (!socket.writable || reason === "reset" || inProgress) {
      socket.destroy();
      return;
    }
    const status =
      reason === "header_overflow"
        ? "431 Request Header Fields Too Large"
        : reason === "timeout"
          ? "408 Request Timeout"
          : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  async function drain(timeoutMs: number): Promise<{ forced: number }> {
    // From now on, responses not yet started say `Connection: close` (the forwarder asks
    // isDraining() at the app's response headers): a client told keep-alive could reuse a
    // connection as it closes, or fail a complete response.
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const idle =
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onIdle = resolve;
          });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const result = await Promise.race([idle.then(() => "idle" as const), timedOut]);
    const forced = result === "timeout" ? inFlight : 0;
    websockets.closeAll();
    if (result === "idle") {
      // Every response has been handed to Node, but the last bytes of a large one may still sit
      // in its socket's buffer for a slow client. Each connection was told `Connection: close`,
      // so they end on their own once flushed; cutting them now would truncate those bodies.
      server.closeIdleConnections();
      await Promise.race([closed, timedOut]);
    }
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
    return { forced };
  }

  return { server, drain, isDraining: () => draining };
}

/** The status line an upgrade refused by a stage is answered with. */
function statusLine(outcome: Outcome): string {
  switch (outcome.kind) {
    case "blocked":
      return "403 Forbidden";
    case "throttled":
      return `429 Too Many Requests\r\nRetry-After: ${outcome.retryAfter}`;
    case "disabled":
      return `${disabledStatus(outcome.decision.status)} Function Disabled`;
    case "error":
      return outcome.code === "STATE_UNKNOWN" ? "503 Service Unavailable" : "400 Bad Request";
    default:
      return "400 Bad Request";
  }
}
