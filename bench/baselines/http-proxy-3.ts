/**
 * Baseline (b): http-proxy-3, the maintained rewrite of node-http-proxy, the proxy most Node apps
 * reach for. createProxyServer over node:http with a keep-alive http.Agent (without it every
 * request would open a new upstream connection, which would make the comparison unfair to it).
 * Usage: http-proxy-3.ts http://127.0.0.1:PORT  → prints {"port": N}
 */
import { Agent, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createProxyServer } from "http-proxy-3";

// Same pool size as Gatehouse's default --upstream-connections.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = createProxyServer({ target: process.argv[2]!, agent });

proxy.on("error", function onProxyError(_err, _req, res) {
  if ("writeHead" in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});

const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, function handle(req, res) {
  proxy.web(req, res);
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
