/**
 * The live feed behind `GET /v1/stream` (DESIGN section 7), `gatehouse tail` and the dashboard:
 * what this replica sees as it happens, as server-sent events.
 *
 *   event: <kind>          event | attack | breach | decision | incident
 *   id: <n>                this replica's sequence number, from 1 at start
 *   data: <one JSON line>
 *
 * A publish costs nothing while nobody listens, and never waits on a listener: each message is
 * serialised once and written to every client whose connection keeps up. A client that falls
 * more than MAX_BUFFERED bytes behind misses messages until it catches up, then gets
 * `event: dropped` with how many it missed. The feed is this replica's only (another replica's
 * events go to its own feed); it keeps no history, so a client sees what happens after it
 * connects. Session values are redacted, as in the logs.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { problem } from "./replies.ts";

export const FEED_KINDS = ["event", "attack", "breach", "decision", "incident"] as const;
export type FeedKind = (typeof FEED_KINDS)[number];

/** Bytes a client may fall behind before messages are dropped for it. */
const MAX_BUFFERED = 1 << 20;
/** Streams open at once; more get 503. */
const MAX_CLIENTS = 32;
/** A comment line this often keeps proxies and load balancers from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

interface Client {
  res: ServerResponse;
  kinds: ReadonlySet<FeedKind>;
  dropped: number;
}

export interface LiveFeed {
  /** Send `data` (JSON-serialisable) to every listening client that asked for `kind`. */
  publish(kind: FeedKind, data: unknown): void;
  /** Whether anyone listens for `kind`: callers may skip building what nobody reads. */
  wants(kind: FeedKind): boolean;
  readonly clients: number;
  /** Serve `GET /v1/stream[?kinds=a,b]`. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void;
  /** End every stream (shutdown). */
  close(): void;
}

export function createLiveFeed(): LiveFeed {
  const clients = new Set<Client>();
  let seq = 0;
  let keepalive: NodeJS.Timeout | undefined;

  function write(client: Client, chunk: string): void {
    if (!client.res.writableEnded && !client.res.destroyed) client.res.write(chunk);
  }

  function drop(client: Client): void {
    clients.delete(client);
    if (clients.size === 0) {
      clearInterval(keepalive);
      keepalive = undefined;
    }
  }

  return {
    publish(kind, data) {
      if (clients.size === 0) return;
      let message: string | null = null;
      for (const client of clients) {
        if (!client.kinds.has(kind)) continue;
        if (client.res.writableLength > MAX_BUFFERED) {
          client.dropped++;
          continue;
        }
        if (client.dropped > 0) {
          write(client, `event: dropped\ndata: ${JSON.stringify({ count: client.dropped })}\n\n`);
          client.dropped = 0;
        }
        if (message === null) {
          try {
            message = `event: ${kind}\nid: ${++seq}\ndata: ${JSON.stringify(redactSessions(data))}\n\n`;
          } catch {
            return; // Not serialisable: the feed says nothing rather than fail its caller.
          }
        }
        write(client, message);
      }
    },
    wants(kind) {
      for (const client of clients) if (client.kinds.has(kind)) return true;
      return false;
    },
    get clients() {
      return clients.size;
    },
    handle(req, res, url) {
      if (req.method !== "GET") {
        problem(res, 405, "Method Not Allowed", `${req.method} is not allowed on /v1/stream`);
        return;
      }
      const kinds = parseKinds(url.searchParams.get("kinds"));
      if (typeof kinds === "string") {
        problem(res, 400, "Bad Request", kinds);
        return;
      }
      if (clients.size >= MAX_CLIENTS) {
        res.setHeader("retry-after", "5");
        problem(res, 503, "Service Unavailable", `at most ${MAX_CLIENTS} streams are open at once`);
        return;
      }
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // nginx and similar proxies would otherwise hold the stream back in their buffers.
        "x-accel-buffering": "no",
      });
      res.write(`retry: 2000\n: gatehouse live feed: ${[...kinds].join(",")}\n\n`);
      const client: Client = { res, kinds, dropped: 0 };
      clients.add(client);
      keepalive ??= setInterval(() => {
        for (const c of clients) if (c.res.writableLength <= MAX_BUFFERED) write(c, ": keepalive\n\n");
      }, KEEPALIVE_MS);
      keepalive.unref();
      res.on("close", () => drop(client));
      // A write to a stream that broke meanwhile must never become an unhandled 'error'.
      res.on("error", () => drop(client));
    },
    close() {
      for (const client of clients) client.res.end();
      clients.clear();
      clearInterval(keepalive);
      keepalive = undefined;
    },
  };
}

/** `kinds=event,attack` as a set (all when absent), or what is wrong with it. */
export function parseKinds(value: string | null): ReadonlySet<FeedKind> | string {
  if (value === null || value === "") return new Set(FEED_KINDS);
  const kinds = new Set<FeedKind>();
  for (const part of value.split(",")) {
    const kind = part.trim();
    if (!(FEED_KINDS as readonly string[]).includes(kind))
      return `kinds: ${JSON.stringify(kind.slice(0, 40))} is not one of ${FEED_KINDS.join(", ")}`;
    kinds.add(kind as FeedKind);
  }
  return kinds;
}

/** A copy with every `session` value, at any depth, replaced (the logs redact them too). */
export function redactSessions(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redactSessions(v, depth + 1));
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  // A session-scoped decision carries the session hash as its value.
  const sessionScoped = record.scope === "session" && typeof record.value === "string";
  for (const [key, v] of Object.entries(record)) {
    if ((key === "session" || key === "sessionId") && v != null) out[key] = "[redacted]";
    else if (sessionScoped && key === "value") out[key] = "[redacted]";
    else out[key] = redactSessions(v, depth + 1);
  }
  return out;
}
