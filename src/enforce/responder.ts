/**
 * The one responder: turns a non-forwarded outcome into HTTP (STYLE pattern 3). Error bodies are
 * RFC 9457 problem details carrying the request id, so an operator can find the request in logs.
 */
import type { ServerResponse } from "node:http";
import { ERRORS } from "../errors.ts";
import type { RequestContext } from "../pipeline/context.ts";
import type { Outcome } from "../pipeline/outcome.ts";

export function respond(ctx: RequestContext, res: ServerResponse, outcome: Outcome): void {
  if (outcome.kind !== "error") return;
  if (res.headersSent || res.destroyed) {
    // The app's response had begun: the only honest signal left is to cut the connection.
    res.destroy();
    return;
  }
  const { status, title, detail } = ERRORS[outcome.code];
  const body = JSON.stringify({ title, status, detail, requestId: ctx.requestId });
  res.writeHead(status, {
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-request-id": ctx.requestId,
  });
  res.end(body);
}
