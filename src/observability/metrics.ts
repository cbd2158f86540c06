/**
 * Prometheus metrics (names from DESIGN section 7). One registry per Gatehouse instance, no
 * module-level state, so tests and multiple in-process instances never share counters.
 * Label children are resolved once here so the request path only calls `inc()`/`observe()`.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { HotCounter, HotHistogram } from "./hot-metrics.ts";

/**
 * `outcome` label of gatehouse_requests_total. `aborted` (client went away), `bad_request` and
 * `unavailable` (failing closed before the shared decisions loaded) extend DESIGN's list.
 */
export const REQUEST_OUTCOMES = [
  "forwarded",
  "blocked",
  "throttled",
  "disabled",
  "upstream_error",
  "aborted",
  "bad_request",
  "unavailable",
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export interface Metrics {
  registry: Registry;
  requests: Record<RequestOutcome, { inc(): void }>;
  upstreamDuration: { observe(seconds: number): void };
  clientErrors: Counter<"reason">;
  websockets: Counter<"result">;
  storeUp: Gauge;
}

export function createMetrics(version: string): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new HotCounter(registry, {
    name: "gatehouse_requests_total",
    help: "Requests handled, by outcome",
    label: "outcome",
    values: REQUEST_OUTCOMES,
  });
  const byOutcome = Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, requests.child(o)])) as Record<
    RequestOutcome,
    { inc(): void }
  >;
  const upstreamDuration = new HotHistogram(registry, {
    name: "gatehouse_upstream_duration_seconds",
    help: "Time from sending a request to the app to receiving its response headers",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  const clientErrors = new Counter({
    name: "gatehouse_client_errors_total",
    help: "Malformed or refused client connections (bad HTTP, oversized headers, timeouts)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const websockets = new Counter({
    name: "gatehouse_websocket_upgrades_total",
    help: "WebSocket upgrade requests, by result",
    labelNames: ["result"],
    registers: [registry],
  });
  const storeUp = new Gauge({
    name: "gatehouse_store_up",
    help: "1 when the shared store is reachable (always 1 for the in-memory store)",
    registers: [registry],
  });
  const info = new Gauge({
    name: "gatehouse_build_info",
    help: "Gatehouse version",
    labelNames: ["version"],
    registers: [registry],
  });
  info.labels(version).set(1);
  return { registry, requests: byOutcome, upstreamDuration, clientErrors, websockets, storeUp };
}
