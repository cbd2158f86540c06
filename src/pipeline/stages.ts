/**
 * The request lifecycle, written down once (STYLE pattern 1). Each stage is its own file.
 *
 *   stage              may end the request with            why it is here
 *   checkTarget        400 (not origin/absolute form),     the app can only be asked for a path
 *                      505 (not HTTP/1.x)
 *   identifyActor      never                               everything after needs ip/session/user
 *   forward            the app's response, 502, 504,       streaming, keep-alive, header hygiene
 *                      or an aborted client
 *     readDetections   never (runs at the app's response   the app's Gatehouse-Event/User become
 *                      headers, inside forward)            events; the user is learned
 *   record             never                               metrics, request log, span end
 *
 * Stages before `forward` are synchronous and return an Outcome to end the request (the
 * responder renders it) or undefined to go on. Decision enforcement (before forward) and
 * response-time enforcement (after readDetections) join this list as they are built; see
 * docs/lifecycle.md.
 */
import type { IncomingMessage } from "node:http";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";

export type RequestStage = (ctx: RequestContext, req: IncomingMessage) => Outcome | undefined;

/** The stages that run before the request is forwarded, in order. */
export function beforeForward(stages: {
  checkTarget: RequestStage;
  identifyActor: RequestStage;
}): readonly RequestStage[] {
  return [stages.checkTarget, stages.identifyActor];
}
