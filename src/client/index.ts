/**
 * `gatehouse/client`: report detection events from a Node app to the Gatehouse beside it.
 *
 *   import { createClient, eventHeader } from "gatehouse/client";
 *   const gatehouse = createClient();                    // GATEHOUSE_EVENTS_SOCKET or the default socket
 *   gatehouse.report({ detectionPoint: "AE2", requestId: req.headers["x-request-id"], user: "alice" });
 *   res.setHeader("Gatehouse-Event", eventHeader([{ detectionPoint: "IE1", outcome: "blocked" }]));
 *
 * `report` never throws and never waits: events are queued (bounded), sent in NDJSON batches over
 * the Unix socket, and kept for retry with backoff while Gatehouse is away (a restart, a deploy).
 * When the queue is full the newest events are dropped and counted. Self-contained (Node built-ins
 * and structured-headers only) so it can be compiled for apps on its own.
 */
import { request } from "node:http";
import { serializeList, Token } from "structured-headers";

export type Outcome = "attempt" | "blocked" | "success";

export interface ReportedEvent {
  detectionPoint: string;
  requestId?: string | undefined;
  user?: string | undefined;
  ip?: string | undefined;
  session?: string | undefined;
  outcome?: Outcome | undefined;
  detail?: string | undefined;
  /** Defaults to the time `report` was called. */
  timestamp?: string | Date | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface ClientOptions {
  /** Unix socket path; default `GATEHOUSE_EVENTS_SOCKET` or `/var/run/gatehouse/events.sock`. */
  socketPath?: string;
  /** Loopback TCP `host:port` instead of the socket (Gatehouse's `--events-listen`). */
  address?: string;
  /** Most events sent in one request (default 200). */
  batchSize?: number;
  /** How long an event may wait for a batch to fill, in ms (default 50). */
  flushInterval?: number;
  /** Most events held while Gatehouse is unreachable (default 10 000). */
  maxQueue?: number;
  /** Longest wait between retries, in ms (default 5 000). */
  maxBackoff?: number;
  /** Called with delivery problems; the client itself never throws into the app. */
  onError?: (error: Error) => void;
}

export interface ClientStats {
  sent: number;
  dropped: number;
  rejected: number;
  queued: number;
}

export interface GatehouseClient {
  report(event: ReportedEvent): void;
  /** Resolves when everything queued so far was delivered, or could not be (Gatehouse away). */
  flush(): Promise<void>;
  /** Flush, then stop the timers. */
  close(): Promise<void>;
  stats(): ClientStats;
}

const DEFAULT_SOCKET = "/var/run/gatehouse/events.sock";
const MAX_BATCH_BYTES = 512 * 1024;

export function createClient(options: ClientOptions = {}): GatehouseClient {
  const socketPath = options.socketPath ?? process.env.GATEHOUSE_EVENTS_SOCKET ?? DEFAULT_SOCKET;
  const [host, port] = options.address ? splitAddress(options.address) : [undefined, undefined];
  const batchSize = options.batchSize ?? 200;
  const flushInterval = options.flushInterval ?? 50;
  const maxQueue = options.maxQueue ?? 10_000;
  const maxBackoff = options.maxBackoff ?? 5_000;
  const onError = options.onError ?? (() => {});
  const queue: string[] = [];
  const stats = { sent: 0, dropped: 0, rejected: 0 };
  let timer: NodeJS.Timeout | null = null;
  let sending = false;
  let backoff = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  function report(event: ReportedEvent): void {
    try {
      if (closed || queue.length >= maxQueue) {
        stats.dropped++;
        return;
      }
      const timestamp =
        event.timestamp instanceof Date
          ? event.timestamp.toISOString()
          : (event.timestamp ?? new Date().toISOString());
      queue.push(JSON.stringify({ ...event, timestamp }));
      schedule(queue.length >= batchSize ? 0 : flushInterval);
    } catch (err) {
      stats.dropped++;
      onError(err as Error);
    }
  }

  function schedule(delay: number): void {
    // While backing off, new events wait for the retry rather than hammering an absent Gatehouse.
    if (sending || (timer && (delay > 0 || backoff > 0))) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(send, delay);
    timer.unref();
  }

  function send(): void {
    timer = null;
    if (queue.length === 0) return settle();
    sending = true;
    // Gatehouse takes at most 1 MiB a request: cut the batch by bytes as well as by count.
    let bytes = 0;
    let count = 0;
    while (
      count < Math.min(batchSize, queue.length) &&
      (count === 0 || bytes + queue[count]!.length < MAX_BATCH_BYTES)
    ) {
      bytes += queue[count]!.length + 1;
      count++;
    }
    const batch = queue.slice(0, count);
    const body = `${batch.join("\n")}\n`;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      retry(err);
    };
    const req = request(
      {
        ...(host ? { host, port } : { socketPath }),
        method: "POST",
        path: "/v1/events",
        headers: { "content-type": "application/x-ndjson", "content-length": Buffer.byteLength(body) },
        timeout: 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        // A response cut after its headers ends neither in 'end' nor in the request's 'error'.
        res.on("error", fail);
        res.on("aborted", () => fail(new Error("Gatehouse closed the connection mid-answer")));
        res.on("end", () => {
          if (done) return;
          done = true;
          const status = res.statusCode ?? 0;
          if (status >= 500) return retry(new Error(`Gatehouse answered ${status}`));
          // 202 or 400: the batch was read; what Gatehouse refused will not improve by resending.
          queue.splice(0, batch.length);
          backoff = 0;
          const answer = safeJson(Buffer.concat(chunks).toString("utf8"));
          const rejected = Array.isArray(answer?.rejected)
            ? answer.rejected.length
            : status === 202
              ? 0
              : batch.length;
          stats.rejected += rejected;
          stats.sent += batch.length - rejected;
          if (rejected > 0)
            onError(
              new Error(
                `Gatehouse refused ${rejected} event(s): ${JSON.stringify(answer?.rejected ?? status).slice(0, 500)}`,
              ),
            );
          sending = false;
          if (queue.length > 0) schedule(0);
          else settle();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("Gatehouse did not answer in 5 s")));
    req.on("error", fail);
    req.end(body);
  }

  function retry(err: Error): void {
    sending = false;
    backoff = Math.min(maxBackoff, backoff === 0 ? 100 : backoff * 2);
    onError(err);
    settle();
    if (!closed) {
      timer = setTimeout(send, backoff);
      timer.unref();
    }
  }

  function settle(): void {
    if (sending) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  function flush(): Promise<void> {
    if (queue.length === 0 && !sending) return Promise.resolve();
    return new Promise((resolve) => {
      idleWaiters.push(resolve);
      if (!sending) schedule(0);
    });
  }

  return {
    report,
    flush,
    async close() {
      await flush();
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
    stats: () => ({ ...stats, queued: queue.length }),
  };
}

export interface HeaderEvent {
  detectionPoint: string;
  outcome?: Outcome;
  user?: string;
  detail?: string;
}

/**
 * The value of a `Gatehouse-Event` response header (an RFC 9651 List) for these events. Details
 * are cut to 1024 characters and non-ASCII is replaced, as structured-field Strings require.
 */
export function eventHeader(events: readonly HeaderEvent[]): string {
  return serializeList(
    events.map((e) => {
      const params = new Map<string, string | Token>();
      if (e.outcome) params.set("outcome", new Token(e.outcome));
      if (e.user) params.set("user", ascii(e.user, 256));
      if (e.detail) params.set("detail", ascii(e.detail, 1024));
      return [new Token(e.detectionPoint), params];
    }),
  );
}

/**
 * Add detection events to a response: Node's `ServerResponse` (or anything with `getHeader` and
 * `setHeader`), or a fetch `Headers` object. Keeps events already on the response.
 */
export function addEventHeader(
  target:
    | { getHeader(name: string): unknown; setHeader(name: string, value: string): unknown }
    | { append(name: string, value: string): void },
  ...events: HeaderEvent[]
): void {
  const value = eventHeader(events);
  if ("append" in target) {
    target.append("Gatehouse-Event", value);
    return;
  }
  const existing = target.getHeader("Gatehouse-Event");
  target.setHeader("Gatehouse-Event", existing ? `${String(existing)}, ${value}` : value);
}

function ascii(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i).replace(/^\[|\]$/g, ""), Number(address.slice(i + 1))];
}

function safeJson(text: string): { rejected?: unknown[] } | null {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
