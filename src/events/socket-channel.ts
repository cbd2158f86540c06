/**
 * The socket channel (DESIGN 3.2): HTTP/1.1 on a Unix socket (and optionally loopback TCP), so an
 * app in any language reports with one HTTP call. Bodies are read up to 1 MiB and no further.
 *
 *   POST /v1/events          JSON (object or array) or NDJSON → 202 / 400 / 413 / 415
 *   POST /api/v1.0/events    OWASP AppSensor REST event shape (object or array)
 *   GET  /v1/catalogue       the AppSensor detection points
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { CATALOGUE } from "./catalogue.ts";
import type { Intake } from "./intake.ts";
import { readBody as readLimitedBody } from "./read-body.ts";
import { fromAppSensor, type SocketEvent, type Validated, validateEvent } from "./socket-parser.ts";

export const MAX_BODY_BYTES = 1024 * 1024;
/** How much of an oversized body is read and discarded before the connection is closed instead. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

interface Rejection {
  index: number;
  error: string;
}

export function createEventServer(intake: Intake): Server {
  const catalogue = JSON.stringify({ detectionPoints: CATALOGUE });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/v1/catalogue" && (req.method === "GET" || req.method === "HEAD")) {
      return reply(res, 200, catalogue);
    }
    const appsensor = path === "/api/v1.0/events";
    if (path !== "/v1/events" && !appsensor) {
      req.resume();
      return reply(res, 404, JSON.stringify({ error: `no endpoint at ${path}; POST /v1/events` }));
    }
    if (req.method !== "POST") {
      req.resume();
      res.setHeader("allow", "POST");
      return reply(res, 405, JSON.stringify({ error: `${req.method} is not allowed; use POST` }));
    }
    const type = mediaType(req.headers["content-type"]);
    const ndjson = type === "application/x-ndjson" || type === "application/ndjson";
    if (type !== "application/json" && !(ndjson && !appsensor)) {
      req.resume();
      intake.reportError("socket", "unsupported_media_type");
      const accepted = appsensor ? "application/json" : "application/json or application/x-ndjson";
      return reply(
        res,
        415,
        JSON.stringify({ accepted: 0, rejected: [{ index: 0, error: `content-type must be ${accepted}` }] }),
      );
    }
    const body = await readBody(req);
    if (!body.ok) {
      intake.reportError("socket", body.status === 413 ? "too_large" : "truncated");
      if (body.close) res.setHeader("connection", "close");
      return reply(
        res,
        body.status,
        JSON.stringify({ accepted: 0, rejected: [{ index: 0, error: body.error }] }),
      );
    }
    const items = ndjson
      ? parseNdjson(body.body)
      : parseJson(body.body, appsensor ? fromAppSensor : validateEvent);
    const events: SocketEvent[] = [];
    const rejected: Rejection[] = [];
    for (const item of items) {
      if (item.result.ok) events.push(item.result.event);
      else rejected.push({ index: item.index, error: item.result.error });
    }
    for (const r of rejected)
      intake.reportError(
        "socket",
        r.error.startsWith("body is not") || r.error.startsWith("line is not") ? "malformed" : "invalid",
      );
    if (events.length === 0) {
      const error = rejected.length === 0 ? [{ index: 0, error: "the body holds no events" }] : rejected;
      return reply(res, 400, answer(0, error));
    }
    intake.fromSocket(events);
    return reply(res, 202, answer(events.length, rejected));
  }

  return createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) reply(res, 500, JSON.stringify({ error: err.message }));
      else res.destroy();
    });
  });
}

/** At most this many rejections are listed; a 1 MiB body of bad items would otherwise echo megabytes. */
const MAX_LISTED_REJECTIONS = 100;

function answer(accepted: number, rejected: Rejection[]): string {
  if (rejected.length <= MAX_LISTED_REJECTIONS) return JSON.stringify({ accepted, rejected });
  return JSON.stringify({
    accepted,
    rejected: rejected.slice(0, MAX_LISTED_REJECTIONS),
    rejectedTotal: rejected.length,
  });
}

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

function readBody(req: IncomingMessage) {
  return readLimitedBody(req, {
    maxBytes: MAX_BODY_BYTES,
    drainBytes: MAX_DRAIN_BYTES,
    tooLarge: "body is larger than 1 MiB; send smaller batches",
  });
}

interface Item {
  index: number;
  result: Validated;
}

function parseJson(body: string, validate: (value: unknown) => Validated): Item[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return [
      {
        index: 0,
        result: { ok: false, error: `body is not valid JSON: ${(err as Error).message.slice(0, 200)}` },
      },
    ];
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, index) => ({ index, result: validate(v) }));
}

/** NDJSON: one event a line; `index` is the 0-based line number, blank lines skipped. */
function parseNdjson(body: string): Item[] {
  const items: Item[] = [];
  const lines = body.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      items.push({
        index,
        result: { ok: false, error: `line is not valid JSON: ${(err as Error).message.slice(0, 200)}` },
      });
      continue;
    }
    items.push({ index, result: validateEvent(value) });
  }
  return items;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
