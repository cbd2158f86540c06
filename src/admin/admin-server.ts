/**
 * The admin HTTP server, on its own address (DESIGN section 7): liveness, readiness with JSON
 * details, Prometheus metrics, decisions (decisions-api.ts), incidents (incidents-api.ts), the live
 * feed as server-sent events (live-feed.ts) and a dashboard page over them (dashboard.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { DecisionService } from "../enforce/decision-service.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PolicyStatus } from "../policy/reloader.ts";
import { type Clock, systemClock } from "../store/clock.ts";
import type { IncidentStore } from "../store/incident-store.ts";
import { type Authorize, createAuthorize } from "./auth.ts";
import { serveDashboard } from "./dashboard.ts";
import { type AdminLogger, createDecisionsApi } from "./decisions-api.ts";
import { createIncidentsApi } from "./incidents-api.ts";
import type { LiveFeed } from "./live-feed.ts";
import { json, problem } from "./replies.ts";
import type { ProbeResult } from "./upstream-probe.ts";

export interface ReadinessSources {
  /** Whether the proxy listener is accepting (false before listen and while draining). */
  proxyListening(): boolean;
  checkUpstream(): Promise<ProbeResult>;
  store(): { status: "up" | "degraded"; kind: string; detail?: string };
  policy(): PolicyStatus;
}

export interface AdminOptions {
  /** Serves /v1/decisions; without it those paths are 404. */
  decisions?: DecisionService;
  /** The `adminToken` setting; null: mutating calls from loopback only. */
  adminToken?: string | null;
  /** Logs every mutating call (a pino logger will do). */
  logger?: AdminLogger;
  /** The clock decisions are timed by: the DecisionService's. */
  clock?: Clock;
  /** Replaces the token/loopback check built from `adminToken` (tests). */
  authorize?: Authorize;
  /** Serves GET /v1/incidents; without it that path is 404. */
  incidents?: Pick<IncidentStore, "list">;
  /** Serves GET /v1/stream; without it that path is 404. */
  feed?: LiveFeed;
}

export function createAdminServer(
  metrics: Metrics,
  readiness: ReadinessSources,
  options: AdminOptions = {},
): Server {
  const decisionsApi = options.decisions
    ? createDecisionsApi({
        decisions: options.decisions,
        authorize: options.authorize ?? createAuthorize(options.adminToken ?? null),
        clock: options.clock ?? systemClock,
        logger: options.logger,
      })
    : null;
  const incidentsApi = options.incidents
    ? createIncidentsApi({ incidents: options.incidents, clock: options.clock ?? systemClock })
    : null;

  async function readyz(res: ServerResponse): Promise<void> {
    const [upstream, store] = [await readiness.checkUpstream(), readiness.store()];
    const proxy = { status: readiness.proxyListening() ? "up" : "down" };
    const p = readiness.policy();
    // A failed reload leaves the last good policy live: still ready, but say so.
    const policy = {
      status: p.lastErrors.length > 0 ? "stale" : "up",
      version: p.version,
      files: p.files,
      loadedAt: new Date(p.loadedAt).toISOString(),
      reloads: p.reloads,
      failedReloads: p.failedReloads,
      ...(p.lastErrors.length > 0 ? { lastErrors: p.lastErrors.slice(0, 20) } : {}),
    };
    const ready = proxy.status === "up" && upstream.status === "up";
    const status = !ready ? "not_ready" : store.status === "degraded" ? "degraded" : "ready";
    json(res, ready ? 200 : 503, { status, checks: { proxy, upstream, store, policy } });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (decisionsApi && path!.startsWith("/v1/decisions")) {
      // The target is origin-form ("/…"), so the base only completes it; it never picks the host.
      if (await decisionsApi(req, res, new URL(req.url ?? "/", "http://admin.invalid"))) return;
    }
    if (incidentsApi && path === "/v1/incidents") {
      if (await incidentsApi(req, res, new URL(req.url ?? "/", "http://admin.invalid"))) return;
    }
    if (options.feed && path === "/v1/stream") {
      return options.feed.handle(req, res, new URL(req.url ?? "/", "http://admin.invalid"));
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return problem(res, 405, "Method Not Allowed", `${req.method} is not allowed on ${path}`);
    }
    switch (path) {
      case "/":
        return serveDashboard(res);
      case "/healthz":
        return json(res, 200, { status: "ok" });
      case "/readyz":
        return readyz(res);
      case "/metrics": {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
        res.end(body);
        return;
      }
      default:
        return problem(res, 404, "Not Found", `no admin endpoint at ${path}`);
    }
  }

  return createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    route(req, res).catch((err: Error) => {
      if (!res.headersSent) problem(res, 500, "Internal Server Error", err.message);
      else res.destroy();
    });
  });
}
