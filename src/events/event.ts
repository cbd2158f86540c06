/**
 * The one event model. Header, socket and edge detections all become a DetectionEvent, which the
 * policy engine consumes from the event bus. Session ids here are always the keyed hash.
 */

export const OUTCOMES = ["attempt", "blocked", "success"] as const;
export type EventOutcome = (typeof OUTCOMES)[number];

export const CHANNELS = ["header", "socket", "edge"] as const;
export type EventChannel = (typeof CHANNELS)[number];

export interface EventActor {
  ip: string | null;
  /** Keyed hash of the session id (src/actor/session.ts), never the raw value. */
  session: string | null;
  user: string | null;
}

export interface EventRequest {
  id: string;
  method: string;
  path: string;
}

export interface DetectionEvent {
  detectionPoint: string;
  channel: EventChannel;
  outcome: EventOutcome;
  /** Milliseconds since the epoch: when it happened (the app's timestamp) or was received. */
  time: number;
  actor: EventActor;
  /** The request that caused it, when known (header events always; socket events by requestId). */
  request: EventRequest | null;
  detail: string | null;
  metadata: Readonly<Record<string, unknown>> | null;
}

export const LIMITS = {
  /** Bytes of `detail` (DESIGN 3.1, 3.2). */
  detailBytes: 1024,
  /** Bytes of `metadata`, serialised (DESIGN 3.2). */
  metadataBytes: 4096,
  /** Bytes of a user name (DESIGN 3.1). */
  userBytes: 256,
} as const;

export function isOutcome(value: unknown): value is EventOutcome {
  return value === "attempt" || value === "blocked" || value === "success";
}
