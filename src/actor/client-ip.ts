/**
 * The client address (DESIGN section 2). The socket peer is the client unless it is a trusted
 * proxy; then the forwarding chain is walked right to left and the first address that is not a
 * trusted proxy is the client. The left-most entry is never taken on trust: the client writes it.
 */
import { type IpMatcher, normalizeIp, parseIp } from "./cidr.ts";

/** Forwarding chains longer than this are cut: each hop costs a parse, and no real path has 32 proxies. */
const MAX_HOPS = 32;

export interface ClientIp {
  ip: string;
  /** The socket peer, normalised. */
  peer: string;
  /** Whether the peer is a trusted proxy (its forwarded headers were read). */
  peerTrusted: boolean;
}

/**
 * @param peerAddress `socket.remoteAddress`
 * @param xff the `X-Forwarded-For` header (Node joins repeated headers with ", ")
 * @param forwarded the `Forwarded` header (RFC 7239), used when there is no X-Forwarded-For
 * @param trusted compiled trusted-proxy matcher, or null when none are configured
 */
export function resolveClientIp(
  peerAddress: string | undefined,
  xff: string | undefined,
  forwarded: string | undefined,
  trusted: IpMatcher | null,
): ClientIp {
  const peer = normalizeIp(peerAddress ?? "0.0.0.0");
  if (trusted === null || !trusted(peer)) return { ip: peer, peer, peerTrusted: false };
  const chain = xff ? splitXff(xff) : forwarded ? forwardedFor(forwarded) : [];
  let client = peer;
  for (let i = chain.length - 1, hops = 0; i >= 0 && hops < MAX_HOPS; i--, hops++) {
    const hop = cleanHop(chain[i]!);
    // A hop a trusted proxy wrote that is not an address ("unknown", an obfuscated name, garbage)
    // ends the walk at the last address we could verify.
    if (hop === null) break;
    client = hop;
    if (!trusted(hop)) break;
  }
  return { ip: client, peer, peerTrusted: true };
}

function splitXff(header: string): string[] {
  return header.split(",");
}

/** `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`, `2001:db8::1`, with optional quotes → canonical text. */
function cleanHop(raw: string): string | null {
  let hop = raw.trim();
  if (hop.startsWith('"') && hop.endsWith('"') && hop.length >= 2) hop = hop.slice(1, -1);
  if (hop.startsWith("[")) {
    const end = hop.indexOf("]");
    if (end === -1) return null;
    hop = hop.slice(1, end);
  } else if (hop.indexOf(":") !== -1 && hop.indexOf(":") === hop.lastIndexOf(":")) {
    hop = hop.slice(0, hop.indexOf(":")); // IPv4 with a port
  }
  if (hop.length === 0 || hop.length > 45) return null;
  const addr = parseIp(hop);
  return addr ? addr.toString() : null;
}

/** The `for=` values of a Forwarded header, in order (RFC 7239 section 4). */
export function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of splitOutsideQuotes(header, ",")) {
    for (const pair of splitOutsideQuotes(element, ";")) {
      const eq = pair.indexOf("=");
      if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === "for") out.push(pair.slice(eq + 1).trim());
    }
  }
  return out;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== "\\") quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
