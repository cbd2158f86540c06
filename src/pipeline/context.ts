/**
 * The one typed per-request context (STYLE pattern 2). Stages read and fill these fields; nothing
 * is hidden on `req`. Created once per request by the proxy server.
 */
import type { SessionSource } from "../actor/session.ts";
import type { GatehouseHeaders } from "../forward/interceptors/take-gatehouse-headers.ts";
import type { RequestSpan } from "../observability/tracing.ts";
import type { Outcome } from "./outcome.ts";

export interface RequestContext {
  /** The `X-Request-Id` sent to the app: kept from a trusted proxy, else a new UUID. */
  requestId: string;
  /** `performance.now()` when the request arrived. */
  start: number;
  method: string;
  /** Origin-form target (path and query) as sent to the app. */
  target: string;
  /** Client address after the trusted-proxy walk (DESIGN section 2), IPv4-mapped IPv6 normalised. */
  clientIp: string;
  /** The socket peer address, normalised. */
  peerIp: string;
  /** Whether the peer is a trusted proxy, so its forwarding headers were believed. */
  peerTrusted: boolean;
  /** Session cookie or bearer token; its id is `sessionId(ctx)` (a keyed hash). */
  session: SessionSource | null;
  /** The user, only from a trusted source (trusted proxy header now; the app's Gatehouse-User later). */
  user: string | null;
  /** The server span for this request (non-recording when no OpenTelemetry SDK is registered). */
  trace: RequestSpan;
  /** Status of the app's response, 0 until its headers arrive. */
  upstreamStatus: number;
  /** `Gatehouse-*` headers the app put on its response, taken out before the client sees them. */
  appHeaders: GatehouseHeaders | null;
  /** Set once, when the request is finished. */
  outcome: Outcome | null;
}
