/**
 * The request lifecycle, written down once (STYLE pattern 1). Each stage is its own file.
 *
 *   stage              may end the request with            why it is here
 *   checkTarget        400 (not origin/absolute form),     the app can only be asked for a path
 *                      505 (not HTTP/1.x)
 *   identifyActor      never                               everything after needs ip/session/user
 *   enforceDecisions   403 blocked, 429 throttled,         live decisions, from the local index:
 *                      disabled (503 or its status),       no I/O (src/enforce/enforce-decisions.ts);
 *                      503 failing closed; or changes      logout strips the session, tarpit
 *                      the request and goes on             delays, flag tells the app
 *   detectAtEdge       never (runs once the request has    DESIGN 3.3: what HTTP shows by itself
 *                      its id; watches the body as it      (src/pipeline/detect-at-edge.ts); no-op
 *                      streams, never holds it)            when policy edge.detect is empty
 *   forward            the app's response, 502, 504,       streaming, keep-alive, header hygiene
 *                      or an aborted client
 *     readDetections   never (runs at the app's response   the app's Gatehouse-Event/User become
 *                      headers, inside forward)            events; the user is learned
 *     enforceAtResponse  403 instead of the app's response a blocked user cannot log in again
 *                      when the app names a blocked user   from a new address or session
 *     observeStatus    never (edge detection's status      ACE3, AE2, AE3 and login evidence
 *                      side, as the app's response starts) from the status the app answered
 *   record             never                               metrics, request log, span end
 *
 * Stages before `forward` are synchronous and return an Outcome to end the request (the
 * responder renders it) or undefined to go on; see docs/lifecycle.md. detectAtEdge is the same
 * kind of stage, run by the proxy server after the request id is assigned (refused requests get
 * an id too, for their problem+json body, but are not analysed again).
 */
import type { IncomingMessage } from "node:http";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";

export type RequestStage = (ctx: RequestContext, req: IncomingMessage) => Outcome | undefined;

/** The stages that run before the request is forwarded, in order. */
export function beforeForward(stages: {
  checkTarget: RequestStage;
  identifyActor: RequestStage;
  enforceDecisions: RequestStage;
}): readonly RequestStage[] {
  return [stages.checkTarget, stages.identifyActor, stages.enforceDecisions];
}
