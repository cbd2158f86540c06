/**
 * Baseline (b): the bare undici proxy plus only what Gatehouse's forwarding contract asks of every
 * request (the foundation issue's forwarding, actor and observability items, DESIGN 2, 3.1, 7),
 * each done the cheapest way we know. Nothing of Gatehouse's is imported, so it stays a
 * measurement of the contract rather than of Gatehouse's code:
 *
 * - to the app: hop-by-hop, `Connection`-listed and `Gatehouse-*` headers removed; forwarding
 *   headers replaced (no trusted proxies); `X-Forwarded-For`/`-Proto`/`-Host` and `X-Request-Id`
 *   (a prefix and a counter) set; the client address normalised; the session (Gatehouse's default
 *   cookie names, or a bearer token) found and keyed-hashed; the trace context injected when an
 *   OpenTelemetry SDK records;
 * - to the client: the same hygiene on the app's headers, in an undici interceptor (STYLE 4);
 * - Gatehouse's default server and pool timeouts; a client that leaves aborts the upstream request;
 *   502/504 as `application/problem+json` with the request id;
 * - a request counter, an upstream-duration histogram, one server span through @opentelemetry/api.
 *
 * No decisions, edge detection, correlation, event headers or response inspection: Gatehouse minus
 * this is what those cost, and this minus bare-undici is what the contract itself costs.
 * Usage: contract-minimal.ts http://127.0.0.1:PORT  → prints {"port": N}
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { type Dispatcher, Pool } from "undici";

type Headers = Record<string, string | string[] | undefined>;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);
const FORWARDING = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-request-id",
  "forwarded",
]);
const SESSION_COOKIES = ["sid", "connect.sid", "session", "JSESSIONID", "PHPSESSID"];
const SESSION_KEY = randomBytes(32);
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);

/** Names the Connection header lists beyond what is removed anyway; null for the usual value. */
function listed(value: string | string[] | undefined): Set<string> | null {
  if (!value || value === "keep-alive" || value === "close") return null;
  return new Set(
    String(value)
      .toLowerCase()
      .split(/\s*,\s*/),
  );
}

function dropped(name: string, extra: Set<string> | null): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith("gatehouse-") || extra?.has(name) === true;
}

/** A header into a copy; `__proto__` (an own property in undici's object) stays a header. */
function copy(into: Headers, name: string, value: Headers[string]): void {
  if (name === "__proto__")
    Object.defineProperty(into, name, { value, enumerable: true, configurable: true, writable: true });
  else into[name] = value;
}

/** The response side of the contract as an undici interceptor: the app's headers, cleaned. */
class ResponseHygiene implements Dispatcher.DispatchHandler {
  readonly #next: Dispatcher.DispatchHandler;
  constructor(next: Dispatcher.DispatchHandler) {
    this.#next = next;
  }
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#next.onRequestStart?.(controller, context);
  }
  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Headers,
    message?: string,
  ) {
    if (status < 200) return; // interim responses are not relayed
    const extra = listed(headers.connection);
    let kept: Headers | null = null;
    const names = Object.keys(headers);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (dropped(name, extra)) {
        if (kept === null) {
          kept = {};
          for (let j = 0; j < i; j++) copy(kept, names[j]!, headers[names[j]!]);
        }
      } else if (kept !== null) copy(kept, name, headers[name]);
    }
    this.#next.onResponseStart?.(controller, status, (kept ?? headers) as never, message);
  }
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#next.onResponseData?.(controller, chunk);
  }
  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.#next.onResponseEnd?.(controller, trailers as never);
  }
  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#next.onResponseError?.(controller, error);
  }
}

const pool = new Pool(process.argv[2]!, {
  connections: 256,
  pipelining: 1,
  headersTimeout: 60_000,
  bodyTimeout: 120_000,
  connect: { timeout: 5_000 },
});
const dispatcher = pool.compose(
  (dispatch) => (opts, handler) => dispatch(opts, new ResponseHygiene(handler)),
);

const tracer = trace.getTracer("contract-minimal");
const getter = { get: (h: Headers, k: string) => h[k], keys: (h: Headers) => Object.keys(h) };
const idPrefix = `${randomBytes(6).toString("base64url")}-`;
let nextId = 0;
const requests = { forwarded: 0, failed: 0, aborted: 0 };
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const buckets = new Float64Array(BOUNDS.length + 1);
function observe(seconds: number): void {
  let i = 0;
  while (i < BOUNDS.length && seconds > BOUNDS[i]!) i++;
  buckets[i]!++;
}

function upstreamHeaders(
  req: IncomingMessage,
  clientIp: string,
  requestId: string,
  trace: Record<string, string> | null,
): string[] {
  const raw = req.rawHeaders;
  const extra = listed(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (dropped(lower, extra) || lower === "expect" || FORWARDING.has(lower)) continue;
    if (trace !== null && lower in trace) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push("x-forwarded-for", clientIp, "x-forwarded-proto", "http");
  if (req.headers.host) out.push("x-forwarded-host", req.headers.host);
  out.push("x-request-id", requestId);
  if (trace !== null) for (const [name, value] of Object.entries(trace)) out.push(name, value);
  return out;
}

/** The first session cookie present (RFC 6265 pairs), else a bearer token; keyed-hashed. */
function sessionOf(req: IncomingMessage): string | null {
  const cookie = req.headers.cookie;
  let value: string | null = null;
  if (cookie !== undefined) {
    for (const pair of cookie.split(";")) {
      const eq = pair.indexOf("=");
      if (eq !== -1 && SESSION_COOKIES.includes(pair.slice(0, eq).trim())) {
        value = pair.slice(eq + 1).trim();
        break;
      }
    }
  }
  const auth = req.headers.authorization;
  if (value === null && auth !== undefined && /^bearer /i.test(auth)) value = auth.slice(7).trim();
  return value ? createHmac("sha256", SESSION_KEY).update(value).digest("base64url") : null;
}

function problem(res: ServerResponse, status: number, requestId: string): void {
  res.writeHead(status, { "content-type": "application/problem+json" });
  res.end(JSON.stringify({ type: "about:blank", status, requestId }));
}

function proxy(req: IncomingMessage, res: ServerResponse): void {
  const parent = req.headers.traceparent
    ? propagation.extract(ROOT_CONTEXT, req.headers, getter)
    : ROOT_CONTEXT;
  const span = tracer.startSpan(req.method!, { kind: SpanKind.SERVER }, parent);
  const remote = req.socket.remoteAddress ?? "";
  const clientIp = remote.startsWith("::ffff:") ? remote.slice(7) : remote;
  sessionOf(req);
  const requestId = idPrefix + (nextId++).toString(36);
  let traceHeaders: Record<string, string> | null = null;
  if (isSpanContextValid(span.spanContext())) {
    traceHeaders = {};
    propagation.inject(trace.setSpan(parent, span), traceHeaders);
  }
  const headers = upstreamHeaders(req, clientIp, requestId, traceHeaders);
  const sent = performance.now();
  let controller: Dispatcher.DispatchController | null = null;
  let finished = false;
  const finish = (outcome: keyof typeof requests) => {
    finished = true;
    res.off("close", onClose);
    requests[outcome]++;
    if (span.isRecording()) span.end();
  };
  const onClose = () => {
    if (finished || res.writableFinished) return;
    finish("aborted");
    controller?.abort(new Error("client closed the connection"));
  };
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      // The client left while the request waited for a connection: do not send it.
      if (finished) c.abort(new Error("client closed the connection"));
    },
    onResponseStart(c, statusCode, responseHeaders) {
      if (finished) return c.abort(new Error("client closed the connection"));
      observe((performance.now() - sent) / 1000);
      res.writeHead(statusCode, responseHeaders as Record<string, string | string[]>);
    },
    onResponseData(c, chunk) {
      if (finished) return;
      if (!res.write(chunk)) {
        c.pause();
        res.once("drain", () => c.resume());
      }
    },
    onResponseEnd() {
      if (finished) return;
      res.end();
      finish("forwarded");
    },
    onResponseError(_c, error) {
      if (finished) return;
      finish("failed");
      if (res.headersSent) res.destroy(error);
      else problem(res, TIMEOUTS.has((error as { code?: string }).code ?? "") ? 504 : 502, requestId);
    },
  };
  res.on("close", onClose);
  const body = req.headers["content-length"] || req.headers["transfer-encoding"] ? req : null;
  dispatcher.dispatch(
    { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body },
    handler,
  );
}

const server = createServer(
  { keepAliveTimeout: 65_000, headersTimeout: 10_000, requestTimeout: 0, noDelay: true },
  proxy,
);
server.timeout = 120_000;

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
