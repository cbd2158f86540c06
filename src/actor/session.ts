/**
 * The session of a request (DESIGN section 2): the first configured session cookie present, or
 * the bearer token in Authorization. The raw value stays on the request; everything that is
 * stored, logged or shared uses a keyed hash of it, computed only when first needed.
 */
import { createHmac, randomBytes } from "node:crypto";

export interface SessionSource {
  /** `cookie` with the cookie's name, or `bearer`. */
  kind: "cookie" | "bearer";
  name: string;
  value: string;
}

/** A keyed hash of session ids. Replicas must share the key to agree on ids. */
export function sessionHasher(key: string | null): (value: string) => string {
  const secret = key ?? randomBytes(32).toString("hex");
  return function hashSession(value: string): string {
    return createHmac("sha256", secret).update(value).digest("base64url").slice(0, 32);
  };
}

export function findSession(
  cookieHeader: string | undefined,
  authorization: string | undefined,
  cookieNames: readonly string[],
): SessionSource | null {
  if (cookieHeader) {
    for (const name of cookieNames) {
      const value = getCookie(cookieHeader, name);
      if (value) return { kind: "cookie", name, value };
    }
  }
  if (authorization && authorization.length > 7 && /^bearer /i.test(authorization)) {
    const token = authorization.slice(7).trim();
    if (token) return { kind: "bearer", name: "authorization", value: token };
  }
  return null;
}

/**
 * The value of one cookie in a Cookie header (RFC 6265 section 5.4: `name=value` pairs joined
 * by "; "). Written by hand because it runs per request and needs one cookie, not a parsed map.
 */
export function getCookie(header: string, name: string): string | null {
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(";", from);
    if (end === -1) end = header.length;
    const eq = header.indexOf("=", from);
    if (eq !== -1 && eq < end && header.slice(from, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    from = end + 1;
  }
  return null;
}

/** The Cookie header without the cookie `name` (every occurrence); "" when nothing is left. */
export function removeCookie(header: string, name: string): string {
  const kept: string[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    const key = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    if (key !== name && pair.trim() !== "") kept.push(pair.trim());
  }
  return kept.join("; ");
}

/** `Set-Cookie` that makes the browser drop a revoked session cookie (DESIGN section 5, logout). */
export function expireCookie(name: string): string {
  // Browsers ignore a __Secure- or __Host- cookie set without Secure (RFC 6265bis section 4.1.3).
  const secure = name.startsWith("__Secure-") || name.startsWith("__Host-");
  return `${name}=; Max-Age=0; Path=/${secure ? "; Secure" : ""}`;
}

/**
 * Every credential a request carries that could be a session: each occurrence of each configured
 * cookie, then the bearer token. Gatehouse attributes the request to the first (findSession),
 * but the app may read another (its own cookie name, the last of two duplicates, the token), so
 * a revoked or blocked session must be found whichever of them it is.
 */
export function sessionCandidates(
  cookieHeader: string | undefined,
  authorization: string | undefined,
  cookieNames: readonly string[],
): SessionSource[] {
  const out: SessionSource[] = [];
  if (cookieHeader) {
    for (const pair of cookieHeader.split(";")) {
      const eq = pair.indexOf("=");
      if (eq === -1) continue;
      const name = pair.slice(0, eq).trim();
      if (!cookieNames.includes(name)) continue;
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (value) out.push({ kind: "cookie", name, value });
    }
  }
  if (authorization && authorization.length > 7 && /^bearer /i.test(authorization)) {
    const token = authorization.slice(7).trim();
    if (token) out.push({ kind: "bearer", name: "authorization", value: token });
  }
  return out;
}
