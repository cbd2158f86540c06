/**
 * Composition root: config → logger → metrics/tracing → forwarder → servers. Nothing else
 * constructs long-lived objects, and nothing here is module-level state, so tests can run
 * several Gatehouse instances in one process.
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdminServer } from "./admin/admin-server.ts";
import { createUpstreamProbe } from "./admin/upstream-probe.ts";
import type { Config } from "./config/settings.ts";
import type { Address } from "./config/types.ts";
import { GatehouseError } from "./errors.ts";
import { createForwarder } from "./forward/forwarder.ts";
import { createWebSocketProxy } from "./forward/websocket.ts";
import type { Logger } from "./observability/logger.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";
import { createTracing } from "./observability/tracing.ts";
import { createProxyServer } from "./pipeline/proxy-server.ts";
import { VERSION } from "./version.ts";

export interface Gatehouse {
  metrics: Metrics;
  /** Bind the proxy and admin listeners; resolves with the bound addresses. */
  start(): Promise<{ proxy: string; admin: string }>;
  /** Graceful stop: stop accepting, finish requests in flight within `shutdownTimeout`, close. */
  stop(): Promise<{ forced: number }>;
}

export function createGatehouse(config: Config, logger: Logger): Gatehouse {
  const metrics = createMetrics(VERSION);
  const tracing = createTracing(VERSION);
  const forwarder = createForwarder({
    upstream: config.upstream,
    connections: config.upstreamConnections,
    timeouts: config.timeouts,
    onUpstreamDuration: (s) => metrics.upstreamDuration.observe(s),
  });
  const websockets = createWebSocketProxy(config.upstream, config.timeouts, metrics, logger);
  const proxy = createProxyServer({ config, forwarder, websockets, metrics, logger, tracing });
  let proxyListening = false;
  const admin = createAdminServer(metrics, {
    proxyListening: () => proxyListening,
    checkUpstream: createUpstreamProbe(config.upstream, Math.min(config.timeouts.upstreamConnect, 2000)),
    store: () => ({ status: "up", kind: "memory" }),
  });
  metrics.storeUp.set(1);
  if (config.redis) {
    logger.warn("a shared store (--redis) is not available in this version yet; state is kept in memory");
  }

  return {
    metrics,
    async start() {
      const proxyAddr = await listen(proxy.server, config.listen, "listen");
      const adminAddr = await listen(admin, config.adminListen, "adminListen");
      proxyListening = true;
      logger.info(
        { proxy: proxyAddr, admin: adminAddr, upstream: config.upstream.text, version: VERSION },
        "gatehouse listening",
      );
      return { proxy: proxyAddr, admin: adminAddr };
    },
    async stop() {
      proxyListening = false;
      const { forced } = await proxy.drain(config.shutdownTimeout);
      await new Promise<void>((resolve) => {
        admin.close(() => resolve());
        admin.closeAllConnections();
      });
      await forwarder.close();
      logger.info({ forced }, "gatehouse stopped");
      return { forced };
    },
  };
}

function listen(server: Server, address: Address, setting: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === "EADDRINUSE"
          ? "is already in use"
          : err.code === "EACCES"
            ? "needs more privileges"
            : err.message;
      reject(new GatehouseError("LISTEN_FAILED", `${setting}: ${address.host}:${address.port} ${hint}`));
    };
    server.once("error", onError);
    server.listen(address.port, address.host, () => {
      server.off("error", onError);
      const bound = server.address() as AddressInfo;
      resolve(
        bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
      );
    });
  });
}
