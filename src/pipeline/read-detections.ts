/**
 * Stage at the app's response headers: the app's `Gatehouse-Event` / `Gatehouse-User` (already
 * taken out of the response by the forwarder) become detection events for this request, and a
 * named user is remembered on the request (for response-time enforcement) and its session.
 */
import type { Correlation } from "../events/correlation.ts";
import type { Intake } from "../events/intake.ts";
import type { GatehouseHeaders } from "../forward/interceptors/response-header-hygiene.ts";
import type { RequestContext } from "./context.ts";

export function createReadDetections(intake: Intake, correlation: Correlation) {
  return function readDetections(ctx: RequestContext, headers: GatehouseHeaders): void {
    const eventHeader = headers["gatehouse-event"];
    const userHeader = headers["gatehouse-user"];
    if (eventHeader === undefined && userHeader === undefined) return;
    const user = intake.fromHeaders(
      {
        requestId: ctx.requestId,
        ip: ctx.clientIp,
        session: ctx.sessionId,
        user: ctx.user,
        method: ctx.method,
        path: ctx.target,
        time: Date.now(),
      },
      eventHeader,
      userHeader,
    );
    if (user !== null) {
      ctx.user = user;
      // Socket events that name this request later get the user too.
      correlation.setUser(ctx.requestId, user);
    }
    if (eventHeader !== undefined && ctx.trace.span.isRecording()) {
      ctx.trace.span.addEvent("gatehouse.detection", {
        "gatehouse.event_header": String(eventHeader).slice(0, 256),
      });
    }
  };
}
