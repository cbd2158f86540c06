/**
 * The response-header channel (DESIGN 3.1): `Gatehouse-Event` is an RFC 9651 structured-field
 * List, parsed with the structured-headers library; `Gatehouse-User` names the request's user.
 * Nothing here throws: every problem becomes a reason from a small fixed set, so it can be a
 * metric label, and the valid members of a header are kept.
 */
import { type BareItem, type InnerList, type Item, parseList, Token } from "structured-headers";
import { isDetectionPoint } from "./catalogue.ts";
import { type EventOutcome, isOutcome, LIMITS } from "./event.ts";

export const HEADER_LIMITS = { events: 32, bytes: 8 * 1024 } as const;

export const HEADER_ERROR_REASONS = [
  "malformed",
  "too_large",
  "too_many",
  "inner_list",
  "invalid_label",
  "invalid_outcome",
  "invalid_user",
  "invalid_detail",
  "invalid_user_header",
] as const;
export type HeaderErrorReason = (typeof HEADER_ERROR_REASONS)[number];

export interface HeaderEvent {
  detectionPoint: string;
  outcome: EventOutcome;
  user: string | null;
  detail: string | null;
}

export interface HeaderDetections {
  events: HeaderEvent[];
  /** From `Gatehouse-User`, when present and valid. */
  user: string | null;
  errors: HeaderErrorReason[];
}

type Value = string | string[] | undefined;

/** Parse the app's `Gatehouse-Event` and `Gatehouse-User` values (as undici hands them over). */
export function parseDetectionHeaders(eventHeader: Value, userHeader: Value): HeaderDetections {
  const result: HeaderDetections = { events: [], user: null, errors: [] };
  if (userHeader !== undefined) {
    const user = Array.isArray(userHeader) ? null : cleanUser(userHeader);
    if (user === null) result.errors.push("invalid_user_header");
    else result.user = user;
  }
  if (eventHeader === undefined) return result;
  // Several field lines form one List (RFC 9651 section 4.2).
  const text = Array.isArray(eventHeader) ? eventHeader.join(", ") : eventHeader;
  if (text.length > HEADER_LIMITS.bytes) {
    result.errors.push("too_large");
    return result;
  }
  const parsed = parseEventList(text);
  result.events = parsed.events;
  result.errors.push(...parsed.errors);
  return result;
}

interface ParsedList {
  readonly events: HeaderEvent[];
  readonly errors: readonly HeaderErrorReason[];
}

// Apps send the same few header values again and again (one per kind of detection), so parsed
// values are remembered: a repeat costs one Map lookup instead of a structured-field parse.
// Only short values are kept, and the cache is emptied when full, so hostile variety costs
// nothing more than parsing.
const CACHE_ENTRIES = 1024;
const CACHE_VALUE_BYTES = 256;
const cache = new Map<string, ParsedList>();

function parseEventList(text: string): ParsedList {
  const hit = cache.get(text);
  if (hit) return { events: hit.events.slice(), errors: hit.errors };
  const parsed = parseEventListUncached(text);
  if (text.length <= CACHE_VALUE_BYTES) {
    if (cache.size >= CACHE_ENTRIES) cache.clear();
    cache.set(text, { events: parsed.events.slice(), errors: parsed.errors });
  }
  return parsed;
}

function parseEventListUncached(text: string): ParsedList {
  let list: (Item | InnerList)[];
  try {
    list = parseList(text);
  } catch {
    return { events: [], errors: ["malformed"] };
  }
  const events: HeaderEvent[] = [];
  const errors: HeaderErrorReason[] = [];
  if (list.length > HEADER_LIMITS.events) errors.push("too_many");
  for (const member of list.slice(0, HEADER_LIMITS.events)) {
    const parsed = readMember(member);
    if (typeof parsed === "string") errors.push(parsed);
    else events.push(Object.freeze(parsed));
  }
  return { events, errors: Object.freeze(errors) };
}

function readMember(member: Item | InnerList): HeaderEvent | HeaderErrorReason {
  if (Array.isArray(member[0])) return "inner_list";
  const [value, params] = member as Item;
  const label = textOf(value);
  if (label === null || !isDetectionPoint(label)) return "invalid_label";
  let outcome: EventOutcome = "attempt";
  if (params.has("outcome")) {
    const o = textOf(params.get("outcome")!);
    if (!isOutcome(o)) return "invalid_outcome";
    outcome = o;
  }
  let user: string | null = null;
  if (params.has("user")) {
    const u = params.get("user");
    if (typeof u !== "string" || u.length === 0 || u.length > LIMITS.userBytes) return "invalid_user";
    user = u;
  }
  let detail: string | null = null;
  if (params.has("detail")) {
    const d = params.get("detail");
    if (typeof d !== "string" || d.length > LIMITS.detailBytes) return "invalid_detail";
    detail = d;
  }
  return { detectionPoint: label, outcome, user, detail };
}

/** A Token or String bare item as text; anything else is not a label. */
function textOf(value: BareItem): string | null {
  if (typeof value === "string") return value;
  if (value instanceof Token) return value.toString();
  return null;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f\ufffd]/;

/**
 * A user name from Gatehouse-User: HTTP hands header bytes over as latin1, so UTF-8 names are
 * decoded here; control characters and invalid UTF-8 are refused, and at most 256 bytes are kept.
 */
function cleanUser(raw: string): string | null {
  const bytes = Buffer.from(raw.trim(), "latin1");
  if (bytes.length === 0 || bytes.length > LIMITS.userBytes) return null;
  const user = bytes.toString("utf8");
  return CONTROL.test(user) ? null : user;
}
