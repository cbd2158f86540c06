/**
 * Last step of every request: one metric increment, one debug log line, the span ended.
 * Runs after the response is handed to Node; it never touches the response.
 */
import type { Logger } from "../observability/logger.ts";
import type { Metrics, RequestOutcome } from "../observability/metrics.ts";
import { endRequestSpan } from "../observability/tracing.ts";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";

export function metricOutcome(outcome: Outcome): RequestOutcome {
  switch (outcome.kind) {
    case "forwarded":
      return "forwarded";
    case "aborted":
      return "aborted";
    case "error":
      return outcome.code.startsWith("UPSTREAM_")
        ? "upstream_error"
        : outcome.code === "STATE_UNKNOWN"
          ? "unavailable"
          : "bad_request";
    case "blocked":
      return "blocked";
    case "throttled":
      return "throttled";
    case "disabled":
      return "disabled";
  }
}

export function createRecord(metrics: Metrics, logger: Logger) {
  const debug = () => logger.isLevelEnabled("debug");
  return function record(ctx: RequestContext, outcome: Outcome, status: number): void {
    ctx.outcome = outcome;
    metrics.requests[metricOutcome(outcome)].inc();
    const cause =
      outcome.kind === "error" || outcome.kind === "aborted" ? (outcome.cause ?? undefined) : undefined;
    if (outcome.kind === "error" && outcome.code.startsWith("UPSTREAM_")) {
      logger.warn(
        { requestId: ctx.requestId, method: ctx.method, path: ctx.target, status, code: outcome.code, cause },
        "upstream request failed",
      );
    } else if (debug()) {
      logger.debug(
        {
          requestId: ctx.requestId,
          method: ctx.method,
          path: ctx.target,
          ip: ctx.clientIp,
          status,
          outcome: outcome.kind,
          // Refused requests are counted, not logged at info: an attacker hammering a block
          // would otherwise write the log for them.
          ...("decision" in outcome ? { decisionId: outcome.decision.id } : {}),
          ms: Math.round((performance.now() - ctx.start) * 1000) / 1000,
        },
        "request",
      );
    }
    endRequestSpan(ctx.trace.span, status, cause);
  };
}
