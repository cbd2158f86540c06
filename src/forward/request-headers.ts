/**
 * The headers Gatehouse sends to the app, built in one pass over the client's raw headers:
 * hop-by-hop and Connection-listed headers removed (RFC 9110 section 7.6.1), `Gatehouse-*` removed
 * (DESIGN 3.1), forwarding headers rewritten, `X-Request-Id` set. Original header case is kept.
 *
 * Forwarding headers from a client that is not a trusted proxy are dropped and written afresh:
 * passing them on would let any client tell the app who it is.
 */
import type { IncomingMessage } from "node:http";
import { removeCookie } from "../actor/session.ts";
import { connectionListed, HOP_BY_HOP, isGatehouseHeader } from "./hop-by-hop.ts";

export interface ForwardingFacts {
  requestId: string;
  /** The socket peer (normalised). */
  peerIp: string;
  peerTrusted: boolean;
  /** A header that names the user, honoured only from a trusted proxy (lower case), or null. */
  userHeader: string | null;
  /** Headers to set instead of the client's (trace propagation), or null. */
  extra: Record<string, string> | null;
  /** Revoked session cookies to take out of `Cookie` (logout); usually none. */
  dropCookies: readonly string[];
  /** A revoked bearer token: `Authorization` is not forwarded. */
  dropAuthorization: boolean;
  /** A flag decision applies: tell the app `Gatehouse-Posture: elevated`. */
  posture: boolean;
}

// Replaced by Gatehouse, or dropped when the peer is not trusted.
const FORWARDING = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-request-id",
  "forwarded",
  "x-real-ip",
]);

export function upstreamHeaders(req: IncomingMessage, facts: ForwardingFacts): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === "expect" || isGatehouseHeader(lower) || listed?.has(lower))
      continue;
    if (FORWARDING.has(lower)) {
      // The forwarding chain and the trusted proxy's Forwarded header are kept; the rest is rewritten below.
      if (facts.peerTrusted && (lower === "forwarded" || lower === "x-real-ip")) out.push(name, raw[i + 1]!);
      continue;
    }
    if (lower === facts.userHeader && !facts.peerTrusted) continue;
    if (facts.extra && lower in facts.extra) continue;
    if (facts.dropAuthorization && lower === "authorization") continue;
    if (facts.dropCookies.length > 0 && lower === "cookie") {
      let kept = raw[i + 1]!;
      for (const cookie of facts.dropCookies) kept = removeCookie(kept, cookie);
      if (kept !== "") out.push(name, kept);
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const h = req.headers;
  const priorXff = facts.peerTrusted ? h["x-forwarded-for"] : undefined;
  out.push("x-forwarded-for", priorXff ? `${priorXff}, ${facts.peerIp}` : facts.peerIp);
  const proto = facts.peerTrusted ? first(h["x-forwarded-proto"]) : undefined;
  out.push("x-forwarded-proto", proto ?? "http");
  const host = (facts.peerTrusted ? first(h["x-forwarded-host"]) : undefined) ?? h.host;
  if (host) out.push("x-forwarded-host", host);
  out.push("x-request-id", facts.requestId);
  // The client's own Gatehouse-* headers were dropped above, so only a decision can say this.
  if (facts.posture) out.push("gatehouse-posture", "elevated");
  if (facts.extra) for (const [k, v] of Object.entries(facts.extra)) out.push(k, v);
  return out;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** Keep a request id a trusted proxy already set (DESIGN 3.2), if it is a sane token. */
export function trustedRequestId(req: IncomingMessage, peerTrusted: boolean): string | null {
  if (!peerTrusted) return null;
  const id = req.headers["x-request-id"];
  return typeof id === "string" && REQUEST_ID.test(id) ? id : null;
}
