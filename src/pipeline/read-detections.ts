/**
 * Stage at the app's response headers: the app's `Gatehouse-Event` / `Gatehouse-User` (already
 * taken out of the response by the forwarder) become detection events for this request, and a
 * named user is remembered on the request (for response-time enforcement) and its session.
 */

import type { Intake, RequestRecord } from "../events/intake.ts";
import type { GatehouseHeaders } from "../forward/interceptors/response-header-hygiene.ts";
import type { TtlMap } from "../store/ttl-map.ts";
import type { RequestContext } from "./context.ts";

export function createReadDetections(intake: Intake, correlation: TtlMap<string, RequestRecord>) {
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
      const record = correlation.get(ctx.requestId);
      if (record) record.user = user;
    }
    if (eventHeader !== undefined && ctx.trace.span.isRecording()) {
      ctx.trace.span.addEvent("gatehouse.detection", {
        "gatehouse.event_header": String(eventHeader).slice(0, 256),
      });
    }
  };
}
