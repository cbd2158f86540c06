/**
 * Readiness of the app as seen from Gatehouse: can a TCP (or Unix socket) connection be opened?
 * Runs only when /readyz is asked, never on the request path, and is cached briefly so a burst
 * of probes opens one connection.
 */
import { connect } from "node:net";
import type { Config } from "../config/settings.ts";

export interface ProbeResult {
  status: "up" | "down";
  target: string;
  error?: string;
}

export function createUpstreamProbe(upstream: Config["upstream"], timeoutMs: number, cacheMs = 1000) {
  let cached: { at: number; result: Promise<ProbeResult> } | null = null;

  function probe(): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const options =
        upstream.kind === "unix"
          ? { path: upstream.path }
          : (() => {
              const url = new URL(upstream.origin);
              return {
                host: url.hostname.replace(/^\[|\]$/g, ""),
                port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
              };
            })();
      const socket = connect(options);
      const done = (result: ProbeResult) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () =>
        done({ status: "down", target: upstream.text, error: "connect timed out" }),
      );
      socket.once("connect", () => done({ status: "up", target: upstream.text }));
      socket.once("error", (err: NodeJS.ErrnoException) =>
        done({ status: "down", target: upstream.text, error: err.code ?? err.message }),
      );
    });
  }

  return function checkUpstream(): Promise<ProbeResult> {
    const now = Date.now();
    if (!cached || now - cached.at > cacheMs) cached = { at: now, result: probe() };
    return cached.result;
  };
}
