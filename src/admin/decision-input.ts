/**
 * The body of `POST /v1/decisions` (DESIGN section 5) → a DecisionInput the service can store
 * as it is. Every problem is reported together and names its field, so an operator fixes a
 * request in one round; values are normalised here (IPv4-mapped addresses to IPv4, CIDRs to
 * their network) so enforcement and `GET` see one spelling of each actor.
 */
import ipaddr from "ipaddr.js";
import { parseCidr, parseIp } from "../actor/cidr.ts";
import { didYouMean } from "../config/suggest.ts";
import { MAX_POLICY_DURATION_MS, parseDuration, parseRate } from "../config/units.ts";
import type { DecisionInput } from "../enforce/decision-service.ts";
import { route } from "../policy/scalars.ts";
import type { DecisionAction, DecisionScopeName } from "../store/decision.ts";

export interface FieldError {
  /** The body's key (`routes[2]` for a list item), or `(body)` for the body as a whole. */
  field: string;
  message: string;
}

export type InputResult = { ok: true; input: DecisionInput } | { ok: false; errors: FieldError[] };

export const DECISION_ACTIONS: readonly DecisionAction[] = [
  "block",
  "throttle",
  "disable",
  "logout",
  "tarpit",
  "flag",
];
export const DECISION_SCOPES: readonly DecisionScopeName[] = ["ip", "range", "session", "user", "global"];
export const FIELDS = [
  "action",
  "scope",
  "value",
  "routes",
  "duration",
  "until",
  "rate",
  "status",
  "delay",
  "reason",
] as const;

const MAX_DELAY_MS = 60_000;
const MAX_ROUTES = 256;
const MAX_REASON_BYTES = 1024;
const DEFAULT_DISABLE_STATUS = 503;
/** As `hashSession` writes it (32 base64url characters), with room for a longer key's hash. */
const SESSION_HASH = /^[A-Za-z0-9_-]{1,128}$/;
// C0, DEL and C1 controls: a user name shows up in logs and tables, where they would forge lines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The fields that only some actions take, and which. */
const ONLY_FOR: Readonly<Record<string, DecisionAction>> = {
  routes: "disable",
  rate: "throttle",
  status: "disable",
  delay: "tarpit",
};

/** Validate a parsed JSON body. `now` (ms) is when the decision starts. */
export function parseDecisionInput(body: unknown, now: number): InputResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, errors: [{ field: "(body)", message: "must be a JSON object" }] };
  }
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => {
    errors.push({ field, message });
  };
  // The known fields, own and not null, on an object without a prototype: nothing is read from
  // `Object.prototype` (`constructor`, `toString`) or from a crafted prototype chain.
  const raw: Record<string, unknown> = Object.create(null);
  for (const key of FIELDS) {
    if (Object.hasOwn(body, key) && (body as Record<string, unknown>)[key] !== null) {
      raw[key] = (body as Record<string, unknown>)[key];
    }
  }
  const has = (key: string) => key in raw;

  for (const key of Object.keys(body)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      fail(fieldName(key), `is not a field of a decision (fields: ${FIELDS.join(", ")})${hint(key, FIELDS)}`);
    }
  }

  const action = oneOf(raw.action, DECISION_ACTIONS);
  if (!has("action")) fail("action", `is required: one of ${DECISION_ACTIONS.join(", ")}`);
  else if (!action) {
    const policyOnly = raw.action === "notify" || raw.action === "log";
    fail(
      "action",
      `must be one of ${DECISION_ACTIONS.join(", ")}${
        policyOnly
          ? " (notify and log are policy responses, not decisions)"
          : hint(raw.action, DECISION_ACTIONS)
      }`,
    );
  }

  const scope = oneOf(raw.scope, DECISION_SCOPES);
  if (!has("scope")) fail("scope", `is required: one of ${DECISION_SCOPES.join(", ")}`);
  else if (!scope)
    fail("scope", `must be one of ${DECISION_SCOPES.join(", ")}${hint(raw.scope, DECISION_SCOPES)}`);
  else if (action === "logout" && scope !== "session") fail("scope", "must be session for action logout");

  let value: string | null = null;
  if (scope) {
    const parsed = parseValue(scope, has("value") ? raw.value : undefined);
    if (typeof parsed === "string") value = parsed;
    else fail("value", parsed.message);
  }

  // A field another action takes is named as the mistake it is, not only as a bad value.
  for (const [field, only] of Object.entries(ONLY_FOR)) {
    if (action && action !== only && has(field)) fail(field, `applies only to action ${only}`);
  }
  const applies = (field: string) => action === ONLY_FOR[field];

  let routes: string[] | null = null;
  if (applies("routes")) {
    if (!has("routes")) fail("routes", 'is required for action disable: a list of "METHOD /path/glob"');
    else routes = parseRoutes(raw.routes, fail);
  }

  let rate: DecisionInput["rate"] = null;
  if (applies("rate")) {
    if (!has("rate")) fail("rate", "is required for action throttle (e.g. 10/m)");
    else {
      const parsed = parseRate(raw.rate);
      if (parsed.ok) rate = parsed.value;
      else fail("rate", parsed.message);
    }
  }

  let status: number | null = null;
  if (applies("status")) {
    status = DEFAULT_DISABLE_STATUS;
    if (has("status")) {
      const s = raw.status;
      if (typeof s === "number" && Number.isInteger(s) && s >= 400 && s <= 599) status = s;
      else fail("status", "must be a whole number from 400 to 599");
    }
  }

  let delayMs: number | null = null;
  if (applies("delay")) {
    if (!has("delay")) fail("delay", "is required for action tarpit (e.g. 2s, at most 60s)");
    else {
      const parsed = parseDuration(raw.delay, MAX_POLICY_DURATION_MS);
      if (!parsed.ok) fail("delay", parsed.message);
      else if (parsed.value === 0) fail("delay", "must be longer than 0");
      // Each held request keeps a connection open; longer than a minute is a block in disguise.
      else if (parsed.value > MAX_DELAY_MS) fail("delay", "must be at most 60s");
      else delayMs = parsed.value;
    }
  }

  const until = parseExpiry(raw, has, now, fail);

  let reason: string | null = null;
  if (has("reason")) {
    if (typeof raw.reason !== "string") fail("reason", "must be a string");
    else if (Buffer.byteLength(raw.reason) > MAX_REASON_BYTES) fail("reason", "must be at most 1024 bytes");
    else if (raw.reason !== "") reason = raw.reason;
  }

  if (errors.length > 0 || !action || !scope || value === null || until === null) {
    return { ok: false, errors };
  }
  return { ok: true, input: { action, scope, value, routes, until, rate, status, delayMs, reason } };
}

/** The value for a scope, normalised, or what is wrong with it. */
function parseValue(scope: DecisionScopeName, raw: unknown): string | { message: string } {
  switch (scope) {
    case "ip": {
      const addr = typeof raw === "string" ? strictIp(raw) : null;
      if (raw === undefined) return { message: "is required for scope ip: an IPv4 or IPv6 address" };
      return addr ?? { message: "must be an IPv4 or IPv6 address for scope ip" };
    }
    case "range": {
      if (raw === undefined) return { message: "is required for scope range: a CIDR such as 203.0.113.0/24" };
      const usage = "must be a CIDR such as 203.0.113.0/24 or 2001:db8::/48 for scope range";
      if (typeof raw !== "string") return { message: usage };
      const slash = raw.indexOf("/");
      if (slash === -1 || strictIp(raw.slice(0, slash)) === null) return { message: usage };
      const cidr = parseCidr(raw);
      if (typeof cidr === "string") return { message: `${usage}: ${cidr}` };
      return cidr.text;
    }
    case "user": {
      if (raw === undefined)
        return { message: "is required for scope user: the user name as the app reports it" };
      const valid =
        typeof raw === "string" &&
        raw.length > 0 &&
        Buffer.byteLength(raw) <= 256 &&
        raw.isWellFormed() &&
        !CONTROL.test(raw);
      return valid
        ? raw
        : { message: "must be 1 to 256 bytes of text without control characters for scope user" };
    }
    case "session": {
      if (raw === undefined)
        return { message: "is required for scope session: the session hash as Gatehouse logs it" };
      if (typeof raw === "string" && SESSION_HASH.test(raw)) return raw;
      return {
        message:
          "must be the session hash as Gatehouse logs it (1 to 128 letters, digits, _ or -) for scope session",
      };
    }
    case "global":
      if (raw === undefined || raw === "*") return "*";
      return { message: 'must be "*" or absent for scope global' };
  }
}

/**
 * An address in the forms operators write and sockets report: dotted quad (no `127.1`, no octal
 * or hex, which ipaddr.js would also read), or IPv6 without a zone. Normalised, IPv4-mapped to IPv4.
 */
function strictIp(text: string): string | null {
  if (text.length > 45 || text.includes("%")) return null;
  const valid = text.includes(":") ? ipaddr.IPv6.isValid(text) : ipaddr.IPv4.isValidFourPartDecimal(text);
  return valid ? (parseIp(text)?.toString() ?? null) : null;
}

function parseRoutes(raw: unknown, fail: (field: string, message: string) => void): string[] | null {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_ROUTES) {
    fail("routes", `must be a list of 1 to ${MAX_ROUTES} routes, each "METHOD /path/glob"`);
    return null;
  }
  const routes: string[] = [];
  raw.forEach((item, i) => {
    const parsed = route.parse(item);
    if (parsed.ok) routes.push(parsed.value);
    else fail(`routes[${i}]`, parsed.message);
  });
  return routes.length === raw.length ? routes : null;
}

/** `duration` from now, or `until`: exactly one, ending in the future and at most 366 days on. */
function parseExpiry(
  raw: Record<string, unknown>,
  has: (key: string) => boolean,
  now: number,
  fail: (field: string, message: string) => void,
): number | null {
  if (has("duration") && has("until")) {
    fail("until", "cannot be given with duration: give one of them");
    return null;
  }
  if (has("duration")) {
    const parsed = parseDuration(raw.duration, MAX_POLICY_DURATION_MS);
    if (!parsed.ok) fail("duration", parsed.message);
    else if (parsed.value === 0) fail("duration", "must be longer than 0");
    else return now + parsed.value;
    return null;
  }
  if (has("until")) {
    const time = typeof raw.until === "string" ? parseRfc3339(raw.until) : null;
    if (time === null) fail("until", "must be an RFC 3339 time such as 2026-11-22T03:00:00Z");
    else if (time <= now) fail("until", "must be in the future");
    else if (time - now > MAX_POLICY_DURATION_MS) fail("until", "must be at most 366 days ahead");
    else return time;
    return null;
  }
  fail("duration", "is required (e.g. 15m, 1h, 7d), or until (an RFC 3339 time)");
  return null;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * RFC 3339 section 5.6 `date-time`, ms since the epoch, or null. Checked field by field:
 * `Date.parse` alone takes February 30 and 24:00 and rolls them over.
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  if (!m[8]) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const utc = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0 to 99 as 1900 to 1999.
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  return utc.getTime() - offsetMin * 60_000;
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

function oneOf<T extends string>(raw: unknown, values: readonly T[]): T | null {
  return typeof raw === "string" && (values as readonly string[]).includes(raw) ? (raw as T) : null;
}

function hint(raw: unknown, values: readonly string[]): string {
  return typeof raw === "string" ? didYouMean(raw, values, 2) : "";
}

/** A key as an error names it, bounded so a hostile key cannot fill the answer. */
function fieldName(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}
