/**
 * The request facts an event is attributed to, taken from the request's context: what the
 * intake needs for a detection the app reported in a header, edge detection raised, or response
 * evidence found.
 */
import type { HeaderSource } from "../events/intake.ts";
import type { RequestContext } from "./context.ts";

export function requestSource(ctx: RequestContext, time: number): HeaderSource {
  return {
    requestId: ctx.requestId,
    ip: ctx.clientIp,
    session: ctx.sessionId,
    user: ctx.user,
    method: ctx.method,
    path: ctx.target,
    time,
  };
}
