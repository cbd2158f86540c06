/**
 * The one responder: turns a non-forwarded outcome into HTTP (STYLE pattern 3). Bodies are
 * RFC 9457 problem details carrying the request id, so an operator can find the request in logs.
 * Enforcement outcomes say what applies, never why: the reason stays in Gatehouse's logs, where
 * an attacker cannot read which detection gave them away.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { expireCookie } from "../actor/session.ts";
import { ERRORS } from "../errors.ts";
import type { RequestContext } from "../pipeline/context.ts";
import type { Outcome } from "../pipeline/outcome.ts";

interface Problem {
  status: number;
  title: string;
  detail: string;
  headers?: OutgoingHttpHeaders;
}

function problemOf(outcome: Outcome): Problem | null {
  switch (outcome.kind) {
    case "forwarded":
    case "aborted":
      return null;
    case "error":
      return ERRORS[outcome.code];
    case "blocked":
      return { status: 403, title: "Forbidden", detail: "This request is blocked." };
    case "throttled":
      return {
        status: 429,
        title: "Too Many Requests",
        detail: "Too many requests; try again later.",
        headers: { "retry-after": String(outcome.retryAfter) },
      };
    case "disabled":
      return {
        status: disabledStatus(outcome.decision.status),
        title: "Function Disabled",
        detail: "This function is disabled for now.",
      };
  }
}

export function respond(ctx: RequestContext, res: ServerResponse, outcome: Outcome): void {
  const problem = problemOf(outcome);
  if (problem === null) return;
  if (res.headersSent || res.destroyed) {
    // The app's response had begun: the only honest signal left is to cut the connection.
    res.destroy();
    return;
  }
  const { status, title, detail } = problem;
  const body = JSON.stringify({ title, status, detail, requestId: ctx.requestId });
  res.writeHead(status, {
    ...problem.headers,
    ...(ctx.revokedCookies.length > 0 ? { "set-cookie": ctx.revokedCookies.map(expireCookie) } : {}),
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-request-id": ctx.requestId,
  });
  res.end(body);
}

/**
 * A disable decision's status, if it is one Gatehouse may answer with: decisions arrive from the
 * shared store too, and `writeHead` throws on a status outside 100–999.
 */
export function disabledStatus(status: number | null): number {
  return status !== null && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 503;
}
