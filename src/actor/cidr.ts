/**
 * CIDR parsing and compiled membership tests, IPv4 and IPv6, on top of ipaddr.js.
 * Lists are compiled once at load (STYLE: compile once, look up fast); the IPv4 test is a mask
 * and compare on a 32-bit integer, so checking a peer address costs no allocation beyond parsing it.
 */
import ipaddr from "ipaddr.js";

/** Names accepted in place of CIDRs, as proxy-addr and nginx users expect. */
export const CIDR_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

export interface Cidr {
  kind: "ipv4" | "ipv6";
  /** Canonical text, e.g. `203.0.113.0/24`. */
  text: string;
  prefix: number;
  /** The network as bytes (4 or 16). */
  bytes: number[];
}

/** Strip the `::ffff:` of an IPv4-mapped IPv6 address (DESIGN section 2). Cheap on the hot path. */
export function normalizeIp(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 58 /* : */ && address.startsWith("::ffff:")) {
    const rest = address.slice(7);
    if (rest.includes(".")) return rest;
  }
  return address;
}

/** Parse an address; IPv4-mapped IPv6 becomes IPv4. Returns null when it is not an IP address. */
export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!ipaddr.isValid(text)) return null;
  const addr = ipaddr.parse(text);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

/** Parse `a.b.c.d/n`, `x::/n` or a bare address (a host route). Returns a message on failure. */
export function parseCidr(text: string): Cidr | string {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) {
    return `${JSON.stringify(text)} is not an IP address or CIDR`;
  }
  const slash = text.indexOf("/");
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (!addr) return `${JSON.stringify(text)} is not an IP address or CIDR`;
  // An IPv4-mapped network written in IPv6 form (::ffff:a.b.c.d/104+) keeps its meaning on IPv4.
  const mapped = addr.kind() === "ipv4" && addrText.includes(":");
  const max = addr.kind() === "ipv4" && !mapped ? 32 : 128;
  let prefix = addr.kind() === "ipv4" ? 32 : 128;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max || (mapped && Number(p) < 96)) {
      return `${JSON.stringify(text)} has an invalid prefix length (${mapped ? "96" : "0"}-${max} for ${max === 32 ? "ipv4" : "ipv6"})`;
    }
    prefix = mapped ? Number(p) - 96 : Number(p);
  }
  const bytes = maskBytes(addr.toByteArray(), prefix);
  const network = ipaddr.fromByteArray(bytes);
  return { kind: addr.kind(), text: `${network.toString()}/${prefix}`, prefix, bytes };
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const bits = Math.min(8, Math.max(0, prefix - i * 8));
    return bits === 8 ? byte : byte & ((0xff << (8 - bits)) & 0xff);
  });
}

/**
 * The network an address belongs to, as CIDR text: `rangeOf("203.0.113.9", 24, 64)` is
 * `203.0.113.0/24`. The `range` actor (DESIGN section 2). Null when `ip` is not an address.
 */
export function rangeOf(ip: string, ipv4Prefix: number, ipv6Prefix: number): string | null {
  const v4 = ipv4ToUint32(ip);
  if (v4 !== -1) {
    const mask = ipv4Prefix === 0 ? 0 : (0xffffffff << (32 - ipv4Prefix)) >>> 0;
    const net = (v4 & mask) >>> 0;
    return `${net >>> 24}.${(net >>> 16) & 0xff}.${(net >>> 8) & 0xff}.${net & 0xff}/${ipv4Prefix}`;
  }
  const addr = parseIp(ip);
  if (!addr) return null;
  if (addr.kind() === "ipv4") return rangeOf(addr.toString(), ipv4Prefix, ipv6Prefix);
  const network = ipaddr.fromByteArray(maskBytes(addr.toByteArray(), ipv6Prefix));
  return `${network.toString()}/${ipv6Prefix}`;
}

/** Expand keywords and parse each entry; returns the parsed list and the problems found. */
export function parseCidrList(entries: readonly string[]): {
  cidrs: Cidr[];
  errors: { index: number; message: string }[];
} {
  const cidrs: Cidr[] = [];
  const errors: { index: number; message: string }[] = [];
  entries.forEach((entry, index) => {
    const expanded = typeof entry === "string" ? CIDR_KEYWORDS[entry] : undefined;
    for (const text of expanded ?? [entry]) {
      const parsed = parseCidr(text);
      if (typeof parsed === "string") errors.push({ index, message: parsed });
      else cidrs.push(parsed);
    }
  });
  return { cidrs, errors };
}

export type IpMatcher = (ip: string) => boolean;

/** Compile parsed CIDRs into a membership test on (normalised) address text. */
export function compileMatcher(cidrs: readonly Cidr[]): IpMatcher {
  if (cidrs.length === 0)
    return function matchNone() {
      return false;
    };
  const v4 = cidrs
    .filter((c) => c.kind === "ipv4")
    .map((c) => ({
      net: bytesToUint32(c.bytes),
      mask: c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0,
    }));
  const v6 = cidrs.filter((c) => c.kind === "ipv6").map((c) => ({ bytes: c.bytes, prefix: c.prefix }));
  return function matchIp(ip: string): boolean {
    const v4int = ipv4ToUint32(ip);
    if (v4int !== -1) {
      for (const { net, mask } of v4) if ((v4int & mask) >>> 0 === net) return true;
      return false;
    }
    if (v6.length === 0) return false;
    const addr = parseIp(ip);
    if (addr?.kind() !== "ipv6") return false;
    const bytes = addr.toByteArray();
    return v6.some((c) => prefixEquals(bytes, c.bytes, c.prefix));
  };
}

function prefixEquals(a: number[], b: number[], prefix: number): boolean {
  for (let i = 0; prefix > 0; i++, prefix -= 8) {
    const mask = prefix >= 8 ? 0xff : (0xff << (8 - prefix)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}

function bytesToUint32(bytes: number[]): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

/** Dotted-quad text to an unsigned 32-bit integer without allocating; -1 when not IPv4. */
export function ipv4ToUint32(ip: string): number {
  return dottedQuad(ip, 0, ip.length);
}

/**
 * `text[start, end)` as a dotted quad (unsigned 32-bit), or -1; no allocation. `canonical`: also
 * -1 for an octet with a leading zero (`010`, which ipaddr.js reads as octal).
 */
export function dottedQuad(text: string, start: number, end: number, canonical = false): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (canonical && digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}
