/**
 * Stage 1: who is this? Client IP behind trusted proxies, session, and a user only from a
 * trusted source. Pure: reads the request, writes the context, never ends a request.
 */
import type { IncomingMessage } from "node:http";
import type { RequestContext } from "../pipeline/context.ts";
import { type Cidr, compileMatcher } from "./cidr.ts";
import { resolveClientIp } from "./client-ip.ts";
import { findSession } from "./session.ts";

export interface ActorOptions {
  trustedProxies: readonly Cidr[];
  /** The session cookie names, asked per request: a policy reload can change them. */
  sessionCookies: () => readonly string[];
  /** Header (lower case) a trusted authenticating proxy uses to name the user, or null. */
  userHeader: string | null;
  /** Keyed hash of a raw session value (src/actor/session.ts). */
  hashSession: (raw: string) => string;
  /** The user an earlier response bound to this session id, if any (a local lookup, no I/O). */
  userOfSession: (sessionId: string) => string | undefined;
}

export function createIdentifyActor(options: ActorOptions) {
  const trusted = options.trustedProxies.length > 0 ? compileMatcher(options.trustedProxies) : null;
  const { sessionCookies, userHeader, hashSession, userOfSession } = options;

  return function identifyActor(ctx: RequestContext, req: IncomingMessage): undefined {
    const h = req.headers;
    const xff = h["x-forwarded-for"];
    const who = resolveClientIp(
      req.socket.remoteAddress,
      Array.isArray(xff) ? xff.join(",") : xff,
      h.forwarded,
      trusted,
    );
    ctx.clientIp = who.ip;
    ctx.peerIp = who.peer;
    ctx.peerTrusted = who.peerTrusted;
    const session = findSession(h.cookie, h.authorization, sessionCookies());
    ctx.session = session;
    ctx.sessionId = session === null ? null : hashSession(session.value);
    if (userHeader !== null && who.peerTrusted) {
      const user = h[userHeader];
      if (typeof user === "string" && user.length > 0 && user.length <= 256) ctx.user = user;
    }
    if (ctx.user === null && ctx.sessionId !== null) ctx.user = userOfSession(ctx.sessionId) ?? null;
    return undefined;
  };
}
