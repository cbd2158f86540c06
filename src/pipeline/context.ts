/**
 * The one typed per-request context (STYLE pattern 2). Stages read and fill these fields; nothing
 * is hidden on `req`. Created once per request by the proxy server.
 */
import type { SessionSource } from "../actor/session.ts";
import type { RequestSpan } from "../observability/tracing.ts";
import type { Outcome } from "./outcome.ts";

/** One detection on this request, with what matched, so response evidence can refer to it. */
export interface RequestDetection {
  detectionPoint: string;
  channel: "edge" | "header";
  /** Where it matched: `path`, `query:<name>`, `body:<name>`, `header:<name>`, `method`; null when unknown (app events). */
  part: string | null;
  /** The matched text (at most 256 characters); null when the detection carries none. */
  matched: string | null;
}

export interface RequestContext {
  /** The `X-Request-Id` sent to the app: kept from a trusted proxy, else `<process prefix>-<counter>`. */
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
  /** Session cookie or bearer token, as the client sent it (never stored or logged). */
  session: SessionSource | null;
  /** Keyed hash of the session value: what is stored, logged and shared. */
  sessionId: string | null;
  /**
   * The user, only from a trusted source: a trusted proxy's user header, the session's binding
   * from an earlier `Gatehouse-User`, or (from the response on) the app's `Gatehouse-User`.
   */
  user: string | null;
  /** The server span for this request (non-recording when no OpenTelemetry SDK is registered). */
  trace: RequestSpan;
  /**
   * Set by logout decisions: the names of the revoked session cookies, removed from the forwarded
   * request and expired on the response (a revoked bearer token is removed as `Authorization`).
   */
  revokedCookies: readonly string[];
  /** Set by a logout decision on a bearer-token session: `Authorization` is not forwarded. */
  revokedBearer: boolean;
  /** Set when the app's response named a user (`Gatehouse-User`): what makes a login response a login. */
  appNamedUser: boolean;
  /** Set by a tarpit decision: ms to wait before forwarding. */
  tarpitMs: number;
  /** Set by a flag decision: the app is told `Gatehouse-Posture: elevated`. */
  flagged: boolean;
  /**
   * Detections raised for this request so far: by edge detection before forwarding, and by the
   * app's `Gatehouse-Event` header at the response. Null for the (usual) request that has none, so
   * nothing is allocated for it. A request with detections is *flagged*: its response is inspected
   * for breach evidence (DESIGN section 6).
   */
  detections: RequestDetection[] | null;
  /** Status of the app's response, 0 until its headers arrive. */
  upstreamStatus: number;
  /** Set once, when the request is finished. */
  outcome: Outcome | null;
}
