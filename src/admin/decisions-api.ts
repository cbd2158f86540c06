/**
 * Manual decisions over the admin API (DESIGN sections 5 and 7):
 *
 *   GET    /v1/decisions        200 {"decisions":[…]}, newest first; ?action=&scope=&value=&origin=&limit=
 *   POST   /v1/decisions        201 the stored decision, Location: /v1/decisions/<id>
 *   GET    /v1/decisions/{id}   200 the decision, or 404
 *   DELETE /v1/decisions/{id}   204, or 404
 *
 * Reads are open like /metrics; POST and DELETE go through `authorize` first, before any body is
 * read. A replica sharing decisions through Redis holds them without their reasons (beyond the
 * mode), so reads take the whole decisions from Redis; while Redis is unreachable they answer
 * with the decisions held here, reasons left out, and say so: a `warning` member next to
 * `decisions`, and a `Gatehouse-Incomplete` header on both reads. Every error is `application/problem+json`; a refused decision lists each problem as
 * `errors: [{field, message}]`. Every mutating call is logged with the caller's address.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCidr } from "../actor/cidr.ts";
import type { DecisionService } from "../enforce/decision-service.ts";
import { readBody as readLimitedBody } from "../events/read-body.ts";
import type { Clock } from "../store/clock.ts";
import { type Decision, decisionToJson } from "../store/decision.ts";
import type { Authorize } from "./auth.ts";
import { DECISION_ACTIONS, DECISION_SCOPES, type FieldError, parseDecisionInput } from "./decision-input.ts";
import { json, problem } from "./replies.ts";

export const MAX_DECISION_BODY_BYTES = 64 * 1024;
/** How much of an oversized body is read and dropped before the connection is closed instead. */
const MAX_DRAIN_BYTES = 1024 * 1024;
const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10_000;
const ORIGINS = ["policy", "breach", "manual", "feed"] as const;
const FILTERS = ["action", "scope", "value", "origin", "limit"];
const MAX_LISTED_ERRORS = 100;
const INCOMPLETE =
  "the shared store (Redis) is unreachable: decisions are as this replica holds them, reasons left out (only their mode is held here)";

/** What the API logs with; a pino logger is one. */
export interface AdminLogger {
  info(obj: object, msg: string): void;
}

export interface DecisionsApiOptions {
  decisions: DecisionService;
  authorize: Authorize;
  clock: Clock;
  logger?: AdminLogger | undefined;
}

/** Answers the request if its path is under /v1/decisions; false otherwise. */
export type DecisionsApi = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function createDecisionsApi(options: DecisionsApiOptions): DecisionsApi {
  const { decisions, authorize, clock } = options;
  const log = (obj: object, msg: string) => options.logger?.info(obj, msg);

  /** The caller may change decisions; otherwise the refusal is sent and logged. */
  function allowed(req: IncomingMessage, res: ServerResponse, call: object): boolean {
    const verdict = authorize(req.headers.authorization, req.socket.remoteAddress, req.headers.host);
    if (verdict.ok) return true;
    log({ ...call, status: verdict.status }, "admin call refused");
    req.resume();
    if (verdict.challenge) res.setHeader("www-authenticate", verdict.challenge);
    problem(res, verdict.status, verdict.status === 401 ? "Unauthorized" : "Forbidden", verdict.detail);
    return false;
  }

  async function create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call = { call: "POST /v1/decisions", peer: req.socket.remoteAddress };
    if (!allowed(req, res, call)) return;
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      req.resume();
      log({ ...call, status: 415 }, "decision refused");
      return problem(res, 415, "Unsupported Media Type", "content-type must be application/json");
    }
    const body = await readBody(req);
    if (!body.ok) {
      log({ ...call, status: body.status }, "decision refused");
      if (body.close) res.setHeader("connection", "close");
      return problem(res, body.status, body.status === 413 ? "Content Too Large" : "Bad Request", body.error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body);
    } catch (err) {
      const message = `is not valid JSON: ${(err as Error).message.slice(0, 200)}`;
      log({ ...call, status: 400 }, "decision refused");
      return invalid(res, [{ field: "(body)", message }]);
    }
    const result = parseDecisionInput(parsed, clock.now());
    if (!result.ok) {
      log({ ...call, status: 400, errors: result.errors.slice(0, MAX_LISTED_ERRORS) }, "decision refused");
      return invalid(res, result.errors);
    }
    const decision = decisions.add(result.input, "manual");
    log({ ...call, status: 201, decision: decisionToJson(decision) }, "decision added");
    res.setHeader("location", `/v1/decisions/${encodeURIComponent(decision.id)}`);
    json(res, 201, decisionToJson(decision));
  }

  async function list(res: ServerResponse, url: URL): Promise<void> {
    const errors: FieldError[] = [];
    for (const key of new Set(url.searchParams.keys())) {
      if (!FILTERS.includes(key)) {
        errors.push({ field: key.slice(0, 64), message: `is not a filter (filters: ${FILTERS.join(", ")})` });
      }
    }
    const q = (name: string) => url.searchParams.get(name);
    const enumFilter = (name: string, values: readonly string[]) => {
      const v = q(name);
      if (v !== null && !values.includes(v))
        errors.push({ field: name, message: `must be one of ${values.join(", ")}` });
      return v;
    };
    const action = enumFilter("action", DECISION_ACTIONS);
    const scope = enumFilter("scope", DECISION_SCOPES);
    const origin = enumFilter("origin", ORIGINS);
    const value = q("value");
    let limit = DEFAULT_LIMIT;
    const rawLimit = q("limit");
    if (rawLimit !== null) {
      limit = /^\d{1,5}$/.test(rawLimit) ? Number(rawLimit) : 0;
      if (limit < 1 || limit > MAX_LIMIT) {
        errors.push({ field: "limit", message: `must be a whole number from 1 to ${MAX_LIMIT}` });
      }
    }
    if (errors.length > 0) return invalid(res, errors, "the filters are not valid");
    const wanted = value === null ? null : spellings(value);
    const found: Decision[] = [];
    for (const d of decisions.newestFirst()) {
      if (found.length >= limit) break;
      if (matches(d, action, scope, origin, wanted)) found.push(d);
    }
    const read = await decisions.complete(found);
    const out = read.decisions.map(decisionToJson);
    if (read.complete) return json(res, 200, { decisions: out });
    res.setHeader("gatehouse-incomplete", "reasons");
    json(res, 200, { decisions: out, warning: INCOMPLETE });
  }

  function remove(req: IncomingMessage, res: ServerResponse, id: string): void {
    const call = { call: `DELETE /v1/decisions/${id}`, peer: req.socket.remoteAddress };
    if (!allowed(req, res, call)) return;
    req.resume();
    const decision = decisions.get(id);
    if (!decision || !decisions.remove(id)) {
      log({ ...call, status: 404 }, "decision to delete not found");
      return problem(res, 404, "Not Found", `no live decision ${id} (it may have expired)`);
    }
    log({ ...call, status: 204, decision: decisionToJson(decision) }, "decision deleted");
    res.writeHead(204, { "cache-control": "no-store" });
    res.end();
  }

  async function one(res: ServerResponse, id: string): Promise<void> {
    const held = decisions.get(id);
    if (!held) return problem(res, 404, "Not Found", `no live decision ${id} (it may have expired)`);
    const read = await decisions.complete([held]);
    if (!read.complete) res.setHeader("gatehouse-incomplete", "reasons");
    json(res, 200, decisionToJson(read.decisions[0]!));
  }

  return async function decisionsApi(req, res, url) {
    const path = url.pathname;
    const method = req.method ?? "GET";
    const read = method === "GET" || method === "HEAD";
    if (path === "/v1/decisions") {
      if (read) await list(res, url);
      else if (method === "POST") await create(req, res);
      else notAllowed(req, res, "GET, HEAD, POST");
      return true;
    }
    if (!path.startsWith("/v1/decisions/")) return false;
    const id = path.slice("/v1/decisions/".length);
    if (id === "" || id.includes("/") || id.length > 128) {
      req.resume();
      problem(res, 404, "Not Found", `no admin endpoint at ${path.slice(0, 200)}`);
    } else if (read) await one(res, id);
    else if (method === "DELETE") remove(req, res, id);
    else notAllowed(req, res, "GET, HEAD, DELETE");
    return true;
  };
}

/** The forms a filter value may match: as written, and as validation would have normalised it. */
function spellings(value: string): Set<string> {
  const out = new Set([value]);
  const cidr = value.length <= 64 ? parseCidr(value) : null;
  if (cidr && typeof cidr !== "string") {
    out.add(cidr.text);
    // A bare address is parsed as a host route; the decision holds the address itself.
    if (!value.includes("/")) out.add(cidr.text.slice(0, cidr.text.lastIndexOf("/")));
  }
  return out;
}

function matches(
  d: Decision,
  action: string | null,
  scope: string | null,
  origin: string | null,
  values: Set<string> | null,
): boolean {
  return (
    (action === null || d.action === action) &&
    (scope === null || d.scope === scope) &&
    (origin === null || d.origin === origin) &&
    (values === null || values.has(d.value))
  );
}

function notAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
  req.resume();
  res.setHeader("allow", allow);
  problem(res, 405, "Method Not Allowed", `${req.method} is not allowed here; use ${allow}`);
}

/** At most 64 KiB, read to its end up to 1 MiB so the client sees the 413 (as the event socket does). */
function readBody(req: IncomingMessage) {
  return readLimitedBody(req, {
    maxBytes: MAX_DECISION_BODY_BYTES,
    drainBytes: MAX_DRAIN_BYTES,
    tooLarge: "the body is larger than 64 KiB; a decision is a small JSON object",
  });
}

function invalid(res: ServerResponse, errors: FieldError[], detail?: string): void {
  const n = errors.length;
  problem(
    res,
    400,
    "Bad Request",
    detail ?? `the decision is not valid (${n} problem${n === 1 ? "" : "s"})`,
    {
      errors: errors.slice(0, MAX_LISTED_ERRORS),
      ...(n > MAX_LISTED_ERRORS ? { errorsTotal: n } : {}),
    },
  );
}
