/**
 * Every setting Gatehouse reads, written down once. The YAML key is the path; the flag and the
 * environment variable are derived from it (`timeouts.upstreamConnect` → `--timeouts-upstream-connect`
 * → `GATEHOUSE_TIMEOUTS_UPSTREAM_CONNECT`), so the three can never drift apart (DESIGN section 7).
 */
import type { Cidr } from "../actor/cidr.ts";
import {
  type Address,
  address,
  cidrList,
  duration,
  enumOf,
  httpUrl,
  integer,
  onOff,
  redisUrl,
  size,
  sizeUpTo,
  stringList,
  text,
  type Upstream,
  upstream,
  type ValueType,
} from "./types.ts";

export interface Setting<T = unknown> {
  path: string;
  type: ValueType<T>;
  default: T | null;
  doc: string;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

function setting<T>(path: string, type: ValueType<T>, def: T | null, doc: string): Setting<T> {
  return { path, type, default: def, doc };
}

export const SETTINGS: readonly Setting[] = [
  setting("listen", address, { host: "0.0.0.0", port: 8080 }, "address the proxy listens on"),
  setting("upstream", upstream, defaultUpstream(), "the app: http://HOST:PORT or unix:/path.sock"),
  setting(
    "adminListen",
    address,
    { host: "127.0.0.1", port: 9090 },
    "address of the admin API (health, metrics, decisions)",
  ),
  setting(
    "adminToken",
    text(/^[\x21-\x7e]{16,512}$/, "a token of 16 to 512 visible ASCII characters", { secret: true }),
    null,
    "bearer token for mutating admin calls; without one they are accepted from loopback only",
  ),
  setting(
    "eventsSocket",
    text(/^(\/.{0,106}|off)$/, "an absolute socket path of at most 107 bytes, or off"),
    "/var/run/gatehouse/events.sock",
    "Unix socket on which the app reports detection events (off = none)",
  ),
  setting("eventsListen", address, null, "optional loopback TCP address for detection events"),
  setting(
    "policy",
    stringList(/^.{1,4096}$/, "a file path"),
    ["policies/default.yaml"],
    "policy files (repeatable flag; comma list in the environment)",
  ),
  setting(
    "redis",
    redisUrl,
    null,
    "shared store URL (redis://, rediss://, +sentinel, +cluster); none = in-memory",
  ),
  setting(
    "redisPassword",
    text(/^[\x20-\x7e]{1,512}$/, "a password of 1 to 512 printable ASCII characters", { secret: true }),
    null,
    "password for the redis URL, kept out of it (e.g. from a Kubernetes Secret); the URL must not carry one too",
  ),
  setting(
    "app",
    text(/^[A-Za-z0-9_.-]{1,64}$/, "an app name of 1 to 64 letters, digits, '_', '.' or '-'"),
    "default",
    "app name, the namespace of shared keys",
  ),
  setting(
    "trustedProxies",
    cidrList,
    [],
    "proxies whose X-Forwarded-For / Forwarded are believed (CIDRs, or loopback, private, linklocal)",
  ),
  setting(
    "mode",
    enumOf(["enforce", "shadow"] as const),
    null,
    "override the policy mode: enforce or shadow",
  ),
  setting(
    "logLevel",
    enumOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const),
    "info",
    "log level",
  ),
  setting("shutdownTimeout", duration, 25_000, "how long SIGTERM waits for requests in flight"),
  setting("upstreamConnections", integer(1, 65_536), 256, "most connections kept to the app"),
  setting("timeouts.clientHeaders", duration, 10_000, "time a client has to send the request headers"),
  setting("timeouts.idle", duration, 65_000, "how long an idle keep-alive client connection is kept"),
  setting(
    "timeouts.clientIdle",
    duration,
    120_000,
    "a client socket silent this long in both directions is closed (0 = never)",
  ),
  setting(
    "timeouts.request",
    duration,
    0,
    "time a client has to send the whole request, body included (0 = no limit)",
  ),
  setting("timeouts.upstreamConnect", duration, 5_000, "time to connect to the app"),
  setting("timeouts.upstreamResponse", duration, 60_000, "time the app has to send response headers"),
  setting(
    "timeouts.upstreamIdle",
    duration,
    120_000,
    "longest pause between response body chunks from the app (0 = no limit)",
  ),
  setting(
    "correlation.maxEntries",
    integer(1_000, 10_000_000),
    100_000,
    "requests remembered for linking socket events to them by X-Request-Id",
  ),
  setting("correlation.ttl", duration, 300_000, "how long a request is remembered for correlation"),
  setting("limits.headerBytes", size, 16 * 1024, "largest request header block accepted (431 above)"),
  setting(
    "identity.sessionCookies",
    stringList(COOKIE_NAME, "a cookie name"),
    ["sid", "connect.sid", "session", "JSESSIONID", "PHPSESSID"],
    "cookies that carry the session id, first present wins",
  ),
  setting(
    "identity.userHeader",
    text(HEADER_NAME, "a header name"),
    null,
    "request header set by a trusted authenticating proxy that names the user",
  ),
  setting(
    "identity.hashKey",
    text(/^[\x21-\x7e]{16,512}$/, "a key of 16 to 512 visible ASCII characters", { secret: true }),
    null,
    "key for hashing session ids; set the same on every replica (default: random per process)",
  ),
  setting(
    "logout.callback",
    httpUrl,
    null,
    "URL Gatehouse POSTs to when it logs a session out, so the app can end it too (with retries)",
  ),
  setting(
    "inspection.maxBytes",
    sizeUpTo(16 * 1024 * 1024, "16MB"),
    64 * 1024,
    "response body bytes scanned for breach evidence on flagged requests (0 = response inspection off)",
  ),
  setting(
    "inspection.decompress",
    onOff,
    false,
    "decompress gzip, deflate and br response bodies for inspection, up to inspection.maxBytes",
  ),
  setting(
    "store.failMode",
    enumOf(["open", "closed"] as const),
    "open",
    "whether unknown state lets traffic through when the store is down",
  ),
];

function defaultUpstream(): Upstream {
  return { kind: "http", origin: "http://127.0.0.1:3000", text: "http://127.0.0.1:3000" };
}

/** `timeouts.upstreamConnect` → `timeouts-upstream-connect` */
export function flagName(path: string): string {
  return path
    .split(".")
    .map((part) => part.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))
    .join("-");
}

/** `timeouts.upstreamConnect` → `GATEHOUSE_TIMEOUTS_UPSTREAM_CONNECT` */
export function envName(path: string): string {
  return `GATEHOUSE_${flagName(path).replace(/-/g, "_").toUpperCase()}`;
}

/** The runtime configuration, frozen. */
export interface Config {
  listen: Address;
  upstream: Upstream;
  adminListen: Address;
  adminToken: string | null;
  eventsSocket: string;
  eventsListen: Address | null;
  policy: string[];
  /** The shared store URL, `redisPassword` already put into it. */
  redis: string | null;
  redisPassword: string | null;
  app: string;
  trustedProxies: Cidr[];
  mode: "enforce" | "shadow" | null;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  shutdownTimeout: number;
  upstreamConnections: number;
  timeouts: {
    clientHeaders: number;
    idle: number;
    clientIdle: number;
    request: number;
    upstreamConnect: number;
    upstreamResponse: number;
    upstreamIdle: number;
  };
  correlation: { maxEntries: number; ttl: number };
  limits: { headerBytes: number };
  identity: { sessionCookies: string[]; userHeader: string | null; hashKey: string | null };
  logout: { callback: string | null };
  /** Response inspection for breach evidence (DESIGN section 6; src/events/evidence/). */
  inspection: { maxBytes: number; decompress: boolean };
  store: { failMode: "open" | "closed" };
}
