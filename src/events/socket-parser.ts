/**
 * Validation of events reported on the socket (DESIGN 3.2), in Gatehouse's own shape and in the
 * OWASP AppSensor REST shape. Every problem names the field and the rule, so an app developer can
 * fix the call from the error alone. Pure: no I/O, no clock beyond what is passed in.
 */
import { parseIp } from "../actor/cidr.ts";
import { isDetectionPoint } from "./catalogue.ts";
import { type EventOutcome, isOutcome, LIMITS } from "./event.ts";

export interface SocketEvent {
  detectionPoint: string;
  requestId: string | null;
  user: string | null;
  ip: string | null;
  /** The raw session id as the app sent it; hashed before it goes anywhere. */
  session: string | null;
  outcome: EventOutcome;
  detail: string | null;
  /** Milliseconds since the epoch, or null for "time of receipt". */
  timestamp: number | null;
  metadata: Record<string, unknown> | null;
}

export type Validated = { ok: true; event: SocketEvent } | { ok: false; error: string };

const FIELDS = new Set([
  "detectionPoint",
  "requestId",
  "user",
  "ip",
  "session",
  "outcome",
  "detail",
  "timestamp",
  "metadata",
]);
const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;
// RFC 3339 date-time (section 5.6), with optional fraction and a required offset.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_DEPTH = 8;

const fail = (error: string): Validated => ({ ok: false, error });

export function validateEvent(input: unknown): Validated {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail("an event must be a JSON object");
  }
  const obj = input as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!FIELDS.has(key))
      return fail(`unknown field ${JSON.stringify(key.slice(0, 64))} (fields: ${[...FIELDS].join(", ")})`);
  }
  const dp = obj.detectionPoint;
  if (dp === undefined) return fail("detectionPoint: required");
  if (typeof dp !== "string" || !isDetectionPoint(dp)) {
    return fail("detectionPoint: must be an AppSensor id or a label matching [A-Za-z][A-Za-z0-9_.:-]{0,63}");
  }
  const event: SocketEvent = {
    detectionPoint: dp,
    requestId: null,
    user: null,
    ip: null,
    session: null,
    outcome: "attempt",
    detail: null,
    timestamp: null,
    metadata: null,
  };
  if (obj.requestId !== undefined) {
    if (typeof obj.requestId !== "string" || !REQUEST_ID.test(obj.requestId)) {
      return fail(
        "requestId: must be the X-Request-Id Gatehouse sent (1-128 characters of A-Z a-z 0-9 . _ : + / = -)",
      );
    }
    event.requestId = obj.requestId;
  }
  if (obj.user !== undefined) {
    const user = obj.user;
    if (
      typeof user !== "string" ||
      user.length === 0 ||
      Buffer.byteLength(user) > LIMITS.userBytes ||
      CONTROL.test(user)
    ) {
      return fail("user: must be a non-empty string of at most 256 bytes without control characters");
    }
    event.user = user;
  }
  if (obj.ip !== undefined) {
    const ip = typeof obj.ip === "string" && obj.ip.length <= 45 ? parseIp(obj.ip) : null;
    if (!ip) return fail("ip: must be an IPv4 or IPv6 address");
    event.ip = ip.toString();
  }
  if (obj.session !== undefined) {
    if (typeof obj.session !== "string" || obj.session.length === 0 || obj.session.length > 4096) {
      return fail("session: must be a non-empty string of at most 4096 characters");
    }
    event.session = obj.session;
  }
  if (obj.outcome !== undefined) {
    if (!isOutcome(obj.outcome)) return fail("outcome: must be one of attempt, blocked, success");
    event.outcome = obj.outcome;
  }
  if (obj.detail !== undefined) {
    if (typeof obj.detail !== "string" || Buffer.byteLength(obj.detail) > LIMITS.detailBytes) {
      return fail("detail: must be a string of at most 1024 bytes");
    }
    event.detail = obj.detail;
  }
  if (obj.timestamp !== undefined) {
    const t =
      typeof obj.timestamp === "string" && RFC3339.test(obj.timestamp)
        ? Date.parse(obj.timestamp)
        : Number.NaN;
    if (Number.isNaN(t)) return fail("timestamp: must be an RFC 3339 date-time such as 2026-11-22T03:00:00Z");
    event.timestamp = t;
  }
  if (obj.metadata !== undefined) {
    const m = obj.metadata;
    if (typeof m !== "object" || m === null || Array.isArray(m))
      return fail("metadata: must be a JSON object");
    if (depth(m, 0) > MAX_DEPTH) return fail(`metadata: nested more than ${MAX_DEPTH} levels`);
    if (Buffer.byteLength(JSON.stringify(m)) > LIMITS.metadataBytes)
      return fail("metadata: must serialise to at most 4 KiB");
    event.metadata = m as Record<string, unknown>;
  }
  return { ok: true, event };
}

/** Depth of a JSON value, stopping as soon as it passes the limit (so hostile nesting costs little). */
function depth(value: unknown, level: number): number {
  if (level > MAX_DEPTH || typeof value !== "object" || value === null) return level;
  let deepest = level;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depth(child, level + 1));
    if (deepest > MAX_DEPTH) break;
  }
  return deepest;
}

/**
 * The OWASP AppSensor REST event (`POST /api/v1.0/events`), mapped onto Gatehouse's fields:
 * `detectionPoint.label` → detectionPoint, `user.username` → user, `user.ipAddress.address` → ip,
 * `timestamp`, and `metadata` as AppSensor's list of `{key, value}`. Other AppSensor fields
 * (detectionSystem, resource, category) are accepted and ignored, as existing clients send them.
 */
export function fromAppSensor(input: unknown): Validated {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail("an AppSensor event must be a JSON object");
  }
  const obj = input as Record<string, unknown>;
  const dp = obj.detectionPoint as Record<string, unknown> | undefined;
  if (typeof dp !== "object" || dp === null) return fail("detectionPoint: required (an object with a label)");
  const user = obj.user as Record<string, unknown> | undefined;
  if (user !== undefined && (typeof user !== "object" || user === null))
    return fail("user: must be an object");
  const address = (user?.ipAddress as Record<string, unknown> | undefined)?.address;
  const mapped: Record<string, unknown> = { detectionPoint: dp.label };
  if (user?.username !== undefined) mapped.user = user.username;
  if (address !== undefined) mapped.ip = address;
  if (obj.timestamp !== undefined) mapped.timestamp = obj.timestamp;
  if (Array.isArray(obj.metadata)) {
    const metadata: Record<string, unknown> = {};
    for (const pair of obj.metadata.slice(0, 64)) {
      if (pair && typeof pair === "object" && typeof (pair as { key?: unknown }).key === "string") {
        metadata[(pair as { key: string }).key] = (pair as { value?: unknown }).value ?? null;
      }
    }
    mapped.metadata = metadata;
  }
  const result = validateEvent(mapped);
  if (!result.ok) {
    // Name AppSensor's fields, not ours, in the message.
    const error = result.error
      .replace(/^detectionPoint:/, "detectionPoint.label:")
      .replace(/^user:/, "user.username:")
      .replace(/^ip:/, "user.ipAddress.address:");
    return fail(error);
  }
  return result;
}
