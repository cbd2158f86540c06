/**
 * The app behind bench/inspection.ts: every request is answered `200`, `text/html` and a fixed
 * 1 KiB page with Content-Length, a page that reflects nothing and leaks nothing, so inspection
 * of a flagged request scans the whole body with every scanner and finds nothing (its worst
 * ordinary case). Prints `{"port": N}` once it listens on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const row =
  '<li class="item"><a href="/items/42">Blue mug, 5\' x 10\' box</a> <span>at the shop</span></li>\n';
const PAGE = Buffer.from(
  `<!doctype html><html><head><title>Search</title></head><body><ul>\n${row.repeat(20)}`.slice(0, 1024 - 20) +
    "</ul></body></html>\n".padStart(20, " "),
);

const server = createServer(
  { keepAliveTimeout: 120_000, noDelay: true },
  function app(req: IncomingMessage, res: ServerResponse) {
    req.resume();
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": PAGE.length });
    res.end(PAGE);
  },
);

server.listen(0, "127.0.0.1", function listening() {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
