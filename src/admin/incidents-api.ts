/**
 * Incidents over the admin API (DESIGN sections 6 and 7):
 *
 *   GET /v1/incidents   200 {"incidents":[…]}, most recently active first
 *                       ?outcome=attempt|blocked|success &since= &ip= &user= &limit=
 *
 * `since` is an RFC 3339 time or a duration meaning that long ago (`since=1h`); an incident
 * matches when it was last active at or after it. `limit` is 1 to 10 000 (default 100). Reads are
 * open like GET /v1/decisions and /metrics (the admin port listens on loopback by default). A
 * filter that is not valid answers 400 problem+json naming it in `errors: [{field, message}]`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { normalizeIp } from "../actor/cidr.ts";
import { MAX_POLICY_DURATION_MS, parseDuration } from "../config/units.ts";
import { isOutcome } from "../events/event.ts";
import type { Clock } from "../store/clock.ts";
import { type IncidentQuery, incidentToJson } from "../store/incident.ts";
import { type IncidentStore, MAX_INCIDENTS } from "../store/incident-store.ts";
import type { FieldError } from "./decision-input.ts";
import { json, problem } from "./replies.ts";

const FILTERS = ["outcome", "since", "ip", "user", "limit"];
const DEFAULT_LIMIT = 100;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export interface IncidentsApiOptions {
  incidents: Pick<IncidentStore, "list">;
  clock: Clock;
}

/** Answers the request if its path is /v1/incidents; false otherwise. */
export type IncidentsApi = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** The filters of a query string, or every problem with them. */
export function parseIncidentQuery(
  params: URLSearchParams,
  now: number,
): { ok: true; query: IncidentQuery } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  for (const key of new Set(params.keys())) {
    if (!FILTERS.includes(key))
      errors.push({ field: key.slice(0, 64), message: `is not a filter (filters: ${FILTERS.join(", ")})` });
  }
  const q = (name: string) => params.get(name);
  const outcome = q("outcome");
  if (outcome !== null && !isOutcome(outcome))
    errors.push({ field: "outcome", message: "must be one of attempt, blocked, success" });
  let since: number | null = null;
  const rawSince = q("since");
  if (rawSince !== null) {
    const ago = rawSince.length <= 16 ? parseDuration(rawSince, MAX_POLICY_DURATION_MS) : null;
    if (ago?.ok) since = now - ago.value;
    else if (rawSince.length <= 40 && RFC3339.test(rawSince) && !Number.isNaN(Date.parse(rawSince)))
      since = Date.parse(rawSince);
    else
      errors.push({
        field: "since",
        message: "must be an RFC 3339 time (2026-11-22T03:00:00Z) or a duration ago (30m, 1h, 7d)",
      });
  }
  let ip = q("ip");
  if (ip !== null) {
    ip = ip.length <= 64 ? normalizeIp(ip) : ip;
    if (ip.length > 64 || isIP(ip) === 0) errors.push({ field: "ip", message: "must be an IP address" });
  }
  const user = q("user");
  if (user !== null && (user.length === 0 || Buffer.byteLength(user) > 256))
    errors.push({ field: "user", message: "must be a user name of 1 to 256 bytes" });
  let limit = DEFAULT_LIMIT;
  const rawLimit = q("limit");
  if (rawLimit !== null) {
    limit = /^\d{1,5}$/.test(rawLimit) ? Number(rawLimit) : 0;
    if (limit < 1 || limit > MAX_INCIDENTS)
      errors.push({ field: "limit", message: `must be a whole number from 1 to ${MAX_INCIDENTS}` });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, query: { outcome: outcome as IncidentQuery["outcome"], since, ip, user, limit } };
}

export function createIncidentsApi(options: IncidentsApiOptions): IncidentsApi {
  return async function incidentsApi(req, res, url) {
    if (url.pathname !== "/v1/incidents") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      req.resume();
      res.setHeader("allow", "GET, HEAD");
      problem(res, 405, "Method Not Allowed", `${req.method} is not allowed here; use GET`);
      return true;
    }
    const parsed = parseIncidentQuery(url.searchParams, options.clock.now());
    if (!parsed.ok) {
      problem(res, 400, "Bad Request", "the filters are not valid", { errors: parsed.errors.slice(0, 100) });
      return true;
    }
    const incidents = await options.incidents.list(parsed.query);
    json(res, 200, { incidents: incidents.map(incidentToJson) });
    return true;
  };
}
