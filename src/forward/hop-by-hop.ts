/**
 * Hop-by-hop header handling (RFC 9110 section 7.6.1): these describe one connection, not the
 * message, so a proxy removes them along with every header named in `Connection`.
 */

/** Always removed in both directions. `expect` is answered by Gatehouse itself (Node sends 100-continue). */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** Lower-cased names listed in a Connection header value, minus the ones handled anyway. */
export function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  // What nearly every response says: nothing listed beyond what is removed anyway.
  if (value === "keep-alive" || value === "close") return null;
  const text = Array.isArray(value) ? value.join(",") : value;
  let names: Set<string> | null = null;
  for (const token of text.split(",")) {
    const name = token.trim().toLowerCase();
    if (name === "" || name === "close" || name === "keep-alive" || name === "upgrade") continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/** `Gatehouse-*` headers belong to Gatehouse and the app, never to the client (DESIGN 3.1). */
export function isGatehouseHeader(lowerName: string): boolean {
  return (
    lowerName.length > 10 && lowerName.charCodeAt(9) === 45 /* - */ && lowerName.startsWith("gatehouse-")
  );
}
