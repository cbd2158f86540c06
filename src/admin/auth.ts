/**
 * Who may change decisions (DESIGN section 7): with `adminToken` set, a caller that sends
 * `Authorization: Bearer <token>`; without one, a caller on loopback. The peer is the admin
 * socket's remote address, never a forwarded header: the admin port has no trusted proxies, and
 * `X-Forwarded-For` is whatever the caller wrote.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { CIDR_KEYWORDS, compileMatcher, normalizeIp, parseCidrList } from "../actor/cidr.ts";

export type AuthVerdict =
  | { ok: true }
  | {
      ok: false;
      status: 401 | 403;
      detail: string;
      /** For a 401: the `WWW-Authenticate` challenge (RFC 6750 section 3). */
      challenge?: string;
    };

/** Decide a mutating call from its Authorization header, its socket peer address and its Host. */
export type Authorize = (
  authorization: string | undefined,
  peer: string | undefined,
  host?: string | undefined,
) => AuthVerdict;

/**
 * A Host a loopback caller may name: a loopback address or `localhost`, with any port. Anything
 * else from a loopback peer is a browser on this host talking to a name that resolves here (DNS
 * rebinding): a web page must not be able to lift a block.
 */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 callers such as curl -0 send none
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d*$/, "");
  return name === "localhost" || isLoopback(normalizeIp(name));
}

const isLoopback = compileMatcher(parseCidrList([...CIDR_KEYWORDS.loopback!]).cidrs);

export function createAuthorize(token: string | null): Authorize {
  if (token === null) {
    return function authorizeLoopback(_authorization, peer, host) {
      if (peer !== undefined && isLoopback(normalizeIp(peer)) && loopbackHost(host)) return { ok: true };
      return {
        ok: false,
        status: 403,
        detail:
          "no admin token is configured, so changes are accepted from loopback only; " +
          "call from the host itself or set adminToken (GATEHOUSE_ADMIN_TOKEN)",
      };
    };
  }
  const expected = digest(token);
  return function authorizeToken(authorization) {
    const given = bearer(authorization);
    if (given === null) {
      return {
        ok: false,
        status: 401,
        detail: "this call needs Authorization: Bearer <admin token>",
        challenge: 'Bearer realm="gatehouse admin"',
      };
    }
    if (!tokenMatches(expected, given)) {
      return {
        ok: false,
        status: 401,
        detail: "the admin token is not the one configured",
        challenge: 'Bearer realm="gatehouse admin", error="invalid_token"',
      };
    }
    return { ok: true };
  };
}

/**
 * Constant time in the token's content and length: both sides are hashed to 32 bytes first, so
 * `timingSafeEqual` compares equal lengths and an early mismatch or a short guess tells nothing.
 */
export function tokenMatches(expectedDigest: Buffer, given: string): boolean {
  return timingSafeEqual(expectedDigest, digest(given));
}

export function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The credentials of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 section 11.1). */
function bearer(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match ? match[1]! : null;
}
