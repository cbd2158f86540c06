/**
 * WebSocket upgrades, proxied through http-proxy-3 (undici's dispatcher does not relay a raw
 * upgraded socket to a Node server response). The same header hygiene as plain requests applies:
 * Gatehouse-* removed, forwarding headers rewritten, X-Request-Id set.
 */

import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createProxyServer } from "http-proxy-3";
import { removeCookie } from "../actor/session.ts";
import type { Config } from "../config/settings.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { RequestContext } from "../pipeline/context.ts";
import { isGatehouseHeader } from "./hop-by-hop.ts";

export interface WebSocketProxy {
  upgrade(
    ctx: RequestContext,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    userHeader: string | null,
  ): void;
  /** Close every proxied WebSocket (at the end of a graceful shutdown). */
  closeAll(): void;
}

export function createWebSocketProxy(
  upstream: Config["upstream"],
  timeouts: Config["timeouts"],
  metrics: Metrics,
  logger: Logger,
  /** Told the size of every chunk relayed once the upgrade is done, both ways (buffer-reclaim.ts). */
  onBytes?: (bytes: number) => void,
): WebSocketProxy {
  const target =
    upstream.kind === "http"
      ? new URL(upstream.origin)
      : { socketPath: upstream.path, host: "localhost", port: 80, protocol: "http:" };
  const proxy = createProxyServer({
    target,
    ws: true,
    xfwd: false,
    connectTimeout: timeouts.upstreamConnect,
  });
  // http-proxy-3 re-emits every error of a client socket on the proxy (a client that resets a
  // WebSocket: ECONNRESET, EPIPE), and throws it when nobody listens there, which would end the
  // process. Upgrade failures go to relay()'s callback instead; what arrives here ends only
  // that connection.
  proxy.on("error", (err: Error, _req: unknown, socket: unknown) => {
    if (logger.isLevelEnabled("debug")) logger.debug({ err: err.message }, "websocket connection error");
    (socket as Duplex | undefined)?.destroy?.();
  });
  // The client socket of each app socket whose upgrade is being completed, for "open" below.
  const clients = new WeakMap<Duplex, Duplex>();
  // Client sockets the app has answered with 101: from then on the connection is a WebSocket.
  const upgraded = new WeakSet<Duplex>();
  // http-proxy-3 applies no timeout to the upgrade request: an app that takes the connection and
  // never answers would hold both sockets forever. The app gets timeouts.upstreamResponse to
  // answer; once it has (101 or anything else) the connection is the client's and the app's.
  proxy.on("proxyReqWs", (proxyReq, _req, client) => {
    const timer = setTimeout(
      () => proxyReq.destroy(new Error("the app did not answer the upgrade in time")),
      timeouts.upstreamResponse,
    );
    const clear = () => clearTimeout(timer);
    proxyReq.once("upgrade", clear);
    proxyReq.once("response", clear);
    proxyReq.once("close", clear);
    // Registered before http-proxy-3's own "upgrade" listener, so it runs first.
    proxyReq.once("upgrade", (_res, appSocket: Duplex) => {
      upgraded.add(client);
      if (onBytes) clients.set(appSocket, client);
    });
  });
  if (onBytes) {
    const count = (chunk: Buffer) => onBytes(chunk.length);
    // Emitted once both sockets are piped to each other: a "data" listener added now sees every
    // chunk beside the pipe and changes nothing of its flow (one added earlier would start the
    // client socket flowing before the pipe, and lose what it read).
    proxy.on("open", (appSocket: Duplex) => {
      appSocket.on("data", count);
      clients.get(appSocket)?.on("data", count);
      clients.delete(appSocket);
    });
  }
  const open = new Set<Duplex>();

  function upgrade(
    ctx: RequestContext,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    userHeader: string | null,
  ): void {
    const h = req.headers;
    for (const name of Object.keys(h)) {
      if (isGatehouseHeader(name) || (name === userHeader && !ctx.peerTrusted)) delete h[name];
    }
    const priorXff = ctx.peerTrusted ? h["x-forwarded-for"] : undefined;
    h["x-forwarded-for"] = priorXff ? `${priorXff}, ${ctx.peerIp}` : ctx.peerIp;
    if (!ctx.peerTrusted) {
      delete h.forwarded;
      h["x-forwarded-proto"] = "http";
      if (h.host) h["x-forwarded-host"] = h.host;
    }
    h["x-request-id"] = ctx.requestId;
    // What decisions change in a forwarded request applies to an upgrade too (enforce-decisions.ts).
    if (ctx.revokedCookies.length > 0 && typeof h.cookie === "string") {
      let kept = h.cookie;
      for (const name of ctx.revokedCookies) kept = removeCookie(kept, name);
      if (kept === "") delete h.cookie;
      else h.cookie = kept;
    }
    if (ctx.revokedBearer) delete h.authorization;
    if (ctx.flagged) h["gatehouse-posture"] = "elevated";
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    if (ctx.tarpitMs > 0) {
      const timer = setTimeout(() => {
        if (!socket.destroyed) relay(ctx, req, socket, head);
      }, ctx.tarpitMs);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
    relay(ctx, req, socket, head);
  }

  function relay(ctx: RequestContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    proxy.ws(req, socket as Socket, head, undefined, (err) => {
      if (upgraded.has(socket)) {
        // The app's side of an open WebSocket failed (reset): no HTTP answer fits any more.
        logger.info(
          { requestId: ctx.requestId, err: (err as Error).message },
          "websocket closed by an app error",
        );
        socket.destroy();
        return;
      }
      metrics.websockets.labels("upstream_error").inc();
      logger.warn({ requestId: ctx.requestId, err: (err as Error).message }, "websocket upgrade failed");
      if (socket.writable) {
        socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      } else {
        socket.destroy();
      }
    });
    metrics.websockets.labels("proxied").inc();
  }

  function closeAll(): void {
    for (const socket of open) socket.destroy();
    open.clear();
  }

  return { upgrade, closeAll };
}
