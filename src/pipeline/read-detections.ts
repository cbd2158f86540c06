/**
 * Stage at the app's response headers: the app's `Gatehouse-Event` / `Gatehouse-User` (already
 * taken out of the response by the forwarder) become detection events for this request, and a
 * named user is remembered on the request (for response-time enforcement) and its session.
 * The app's detections are also added to `ctx.detections`, so the response of a request the app
 * flagged is inspected for breach evidence like one the edge flagged (DESIGN section 6). An app
 * attempt on a point the edge already raised for this request is one detection, counted once.
 */
import type { Correlation } from "../events/correlation.ts";
import { parseDetectionHeaders } from "../events/header-parser.ts";
import type { Intake } from "../events/intake.ts";
import type { GatehouseHeaders } from "../forward/interceptors/response-header-hygiene.ts";
import type { RequestContext } from "./context.ts";
import { requestSource } from "./request-source.ts";

export function createReadDetections(intake: Intake, correlation: Correlation) {
  return function readDetections(ctx: RequestContext, headers: GatehouseHeaders): void {
    const eventHeader = headers["gatehouse-event"];
    const userHeader = headers["gatehouse-user"];
    if (eventHeader === undefined && userHeader === undefined) return;
    const user = intake.fromHeaders(requestSource(ctx, Date.now()), eventHeader, userHeader, (dp) =>
      raisedAtEdge(ctx, dp),
    );
    if (user !== null) {
      ctx.user = user;
      ctx.appNamedUser = true;
      // Socket events that name this request later get the user too.
      correlation.setUser(ctx.requestId, user);
    }
    if (eventHeader !== undefined) flagRequest(ctx, eventHeader);
    if (eventHeader !== undefined && ctx.trace.span.isRecording()) {
      ctx.trace.span.addEvent("gatehouse.detection", {
        "gatehouse.event_header": String(eventHeader).slice(0, 256),
      });
    }
  };
}

/** Whether edge detection raised `detectionPoint` for this request (before the app answered). */
function raisedAtEdge(ctx: RequestContext, detectionPoint: string): boolean {
  const detections = ctx.detections;
  if (detections === null) return false;
  for (const d of detections) if (d.channel === "edge" && d.detectionPoint === detectionPoint) return true;
  return false;
}

/**
 * The app's detections on ctx.detections (channel `header`; the header says nothing of what
 * matched, so part and matched are null). Parsed again here rather than returned by intake: it is
 * pure, bounded (HEADER_LIMITS), and runs only for responses that carry the header.
 */
function flagRequest(ctx: RequestContext, eventHeader: string | string[]): void {
  const { events } = parseDetectionHeaders(eventHeader, undefined);
  if (events.length === 0) return;
  ctx.detections ??= [];
  const detections = ctx.detections;
  for (const e of events) {
    detections.push({ detectionPoint: e.detectionPoint, channel: "header", part: null, matched: null });
  }
}
