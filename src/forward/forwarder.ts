/**
 * Forwarding to the app over an undici Pool with keep-alive. Bodies stream both ways with
 * backpressure and are never buffered: the request body is handed to undici as the incoming
 * stream, and each response chunk is written to the client, pausing the upstream when the
 * client is slow. A client that goes away aborts the upstream request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Dispatcher, Pool } from "undici";
import { expireCookie } from "../actor/session.ts";
import type { Config } from "../config/settings.ts";
import type { ErrorCode } from "../errors.ts";
import type { RequestContext } from "../pipeline/context.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import { HOP_BY_HOP, isGatehouseHeader } from "./hop-by-hop.ts";
import type { ResponseHeaders } from "./interceptors/pass-through-handler.ts";
import {
  type GatehouseDispatchOptions,
  type GatehouseHeaders,
  responseHeaderHygiene,
} from "./interceptors/response-header-hygiene.ts";

export interface Forwarder {
  /** Forward `req` for `ctx`; calls `done` exactly once with what came of it. */
  forward(
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    headers: string[],
    done: (outcome: Outcome) => void,
  ): void;
  close(): Promise<void>;
}

export interface ForwarderOptions {
  upstream: Config["upstream"];
  connections: number;
  timeouts: Config["timeouts"];
  /** Observes seconds from dispatch to response headers. */
  onUpstreamDuration?: (seconds: number) => void;
  /** Told the size of each body chunk passed on, request and response (buffer-reclaim.ts). */
  onBodyBytes?: (bytes: number) => void;
  /** Asked at each response's headers: true while shutting down, so the response closes its connection. */
  isDraining?: () => boolean;
  /**
   * Receives the app's `Gatehouse-*` response headers, before the response starts to the client.
   * An outcome it returns replaces the app's response (response-time enforcement: the app just
   * named a blocked user); the app's response, its Set-Cookie included, never reaches the client.
   */
  onAppHeaders?: (ctx: RequestContext, headers: GatehouseHeaders) => Outcome | undefined;
  /**
   * Asked at every response's headers, after `onAppHeaders`, just before they go to the client.
   * It may return an observer that is shown each body chunk after the chunk is written (it never
   * holds one back) and the end of the body. Response-side edge detection and breach evidence
   * live behind it; returning null, as it does for most responses, costs one check per chunk.
   */
  observeResponse?: (
    ctx: RequestContext,
    statusCode: number,
    headers: ResponseHeaders,
  ) => ResponseObserver | null;
}

/** Sees a response body pass by; it must not throw, block, or keep chunks beyond its own bound. */
export interface ResponseObserver {
  onData(chunk: Buffer): void;
  /** The body ended normally (not called for an aborted or failed response). */
  onEnd(): void;
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const { upstream, timeouts } = options;
  const origin = upstream.kind === "http" ? upstream.origin : "http://localhost";
  const pool = new Pool(origin, {
    connections: options.connections,
    pipelining: 1,
    headersTimeout: timeouts.upstreamResponse,
    bodyTimeout: timeouts.upstreamIdle,
    connect: {
      timeout: timeouts.upstreamConnect,
      ...(upstream.kind === "unix" ? { socketPath: upstream.path } : {}),
    },
  });
  const dispatcher = pool.compose(responseHeaderHygiene());
  const onAppHeaders = options.onAppHeaders;
  const onBodyBytes = options.onBodyBytes;
  const countRequestChunk = onBodyBytes ? (chunk: Buffer) => onBodyBytes(chunk.length) : null;
  // One object for every request's handler: nothing of it is allocated per request.
  const shared: HandlerOptions = {
    observe: options.onUpstreamDuration,
    isDraining: options.isDraining ?? (() => false),
    observeResponse: options.observeResponse,
    onBodyBytes,
  };

  function forward(
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    headers: string[],
    done: (outcome: Outcome) => void,
  ): void {
    const handler = new ForwardHandler(req, res, done, ctx, shared);
    const body = hasBody(req) ? req : null;
    if (body !== null && countRequestChunk !== null) {
      // A tap beside undici's own reader, paused first so that it does not set the body flowing
      // before undici attaches (undici resumes it when it starts to send).
      body.pause();
      body.on("data", countRequestChunk);
    }
    const opts: GatehouseDispatchOptions = {
      path: ctx.target,
      method: ctx.method as Dispatcher.HttpMethod,
      headers,
      body,
      onGatehouseHeaders(taken) {
        const replaced = onAppHeaders?.(ctx, taken);
        if (replaced) handler.replaceWith(replaced);
      },
    };
    res.on("close", handler.onClientClose);
    dispatcher.dispatch(opts, handler);
  }

  return {
    forward,
    async close() {
      await pool.close();
    },
  };
}

function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return (
    h["transfer-encoding"] !== undefined || (h["content-length"] !== undefined && h["content-length"] !== "0")
  );
}

/** What every request's handler shares, built once by createForwarder. */
interface HandlerOptions {
  observe: ((seconds: number) => void) | undefined;
  isDraining: () => boolean;
  observeResponse: ForwarderOptions["observeResponse"];
  onBodyBytes: ((bytes: number) => void) | undefined;
}

class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #done: (outcome: Outcome) => void;
  readonly #ctx: RequestContext;
  readonly #shared: HandlerOptions;
  #observer: ResponseObserver | null = null;
  readonly #sentAt = performance.now();
  #controller: Dispatcher.DispatchController | null = null;
  #finished = false;
  #replacement: Outcome | null = null;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    done: (outcome: Outcome) => void,
    ctx: RequestContext,
    shared: HandlerOptions,
  ) {
    this.#req = req;
    this.#res = res;
    this.#done = done;
    this.#ctx = ctx;
    this.#shared = shared;
  }

  #finish(outcome: Outcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res.off("close", this.onClientClose);
    this.#done(outcome);
  }

  /** The client connection closed: if the response was not complete, stop the upstream request. */
  readonly onClientClose = (): void => {
    if (this.#finished || this.#res.writableFinished) return;
    // Finish first: abort() calls onResponseError synchronously, which would otherwise record
    // the client's departure as an upstream error (a 502 in logs and metrics).
    this.#finish({ kind: "aborted", cause: "client closed the connection" });
    this.#controller?.abort(new Error("client closed the connection"));
  };

  /** Answer with `outcome` instead of the app's response, whose headers are about to arrive. */
  replaceWith(outcome: Outcome): void {
    this.#replacement = outcome;
  }

  readonly #resume = (): void => {
    this.#controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The client left while the request waited for a free connection: do not send it at all.
    if (this.#finished) controller.abort(new Error("client closed the connection"));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // interim (1xx) responses are not relayed
    this.#shared.observe?.((performance.now() - this.#sentAt) / 1000);
    this.#ctx.upstreamStatus = statusCode;
    if (this.#finished) {
      controller.abort(new Error("client closed the connection"));
      return;
    }
    if (this.#replacement) {
      const outcome = this.#replacement;
      // Finish first, so the abort's onResponseError is not taken for an upstream failure.
      this.#finish(outcome);
      controller.abort(new Error("response replaced by Gatehouse"));
      return;
    }
    if (this.#shared.isDraining()) this.#res.shouldKeepAlive = false;
    const revoked = this.#ctx.revokedCookies;
    if (revoked.length > 0) {
      // Ours first: if the app issues a fresh session to the now anonymous request, it wins.
      const own = headers["set-cookie"];
      const theirs = own === undefined ? [] : Array.isArray(own) ? own : [own];
      (headers as Record<string, string | string[]>)["set-cookie"] = [
        ...revoked.map(expireCookie),
        ...theirs,
      ];
    }
    const observeResponse = this.#shared.observeResponse;
    if (observeResponse) {
      try {
        this.#observer = observeResponse(this.#ctx, statusCode, headers);
      } catch {
        this.#observer = null;
      }
    }
    this.#res.writeHead(statusCode, statusMessage || undefined, headers as Record<string, string | string[]>);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#finished) return;
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once("drain", this.#resume);
    }
    if (this.#observer !== null) this.#show(chunk);
    this.#shared.onBodyBytes?.(chunk.length);
  }

  /** An observer that throws is dropped: it may cost the response its inspection, never the response. */
  #show(chunk: Buffer | null): void {
    try {
      if (chunk === null) this.#observer!.onEnd();
      else this.#observer!.onData(chunk);
    } catch {
      this.#observer = null;
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    if (this.#finished) return;
    if (trailers && this.#res.chunkedEncoding) {
      // Trailers get the same hygiene as headers: no hop-by-hop, no Gatehouse-* (DESIGN 3.1).
      const kept: Record<string, string | string[]> = {};
      let any = false;
      for (const [name, value] of Object.entries(trailers)) {
        if (value === undefined || HOP_BY_HOP.has(name) || isGatehouseHeader(name)) continue;
        kept[name] = value;
        any = true;
      }
      if (any) this.#res.addTrailers(kept as Record<string, string>);
    }
    this.#res.end();
    if (this.#observer !== null) this.#show(null);
    this.#finish({ kind: "forwarded", status: this.#ctx.upstreamStatus });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#finished) return;
    if (this.#req.destroyed && !this.#req.complete) {
      this.#finish({ kind: "aborted", cause: "client aborted the request body" });
      this.#res.destroy();
      return;
    }
    this.#finish({ kind: "error", code: classify(error), cause: describe(error) });
  }
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOENT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EACCES",
  "ECONNABORTED",
]);

/** Map an undici or socket error to what the client is told: timed out (504) or unreachable/failed (502). */
export function classify(error: Error): ErrorCode {
  const code = (error as { code?: string }).code ?? "";
  if (TIMEOUT_CODES.has(code)) return "UPSTREAM_TIMEOUT";
  if (UNREACHABLE_CODES.has(code)) return "UPSTREAM_UNREACHABLE";
  return "UPSTREAM_FAILED";
}

function describe(error: Error): string {
  const code = (error as { code?: string }).code;
  return code ? `${code}: ${error.message}` : error.message;
}
