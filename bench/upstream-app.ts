/**
 * The app behind every proxy: node:http, keep-alive, a fixed 1 KiB body with Content-Length.
 * It does as little as possible so that the numbers measure the proxies, not the app.
 * Prints `{"port": N}` once it listens on 127.0.0.1 (ephemeral port).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const BODY = Buffer.alloc(1024, "x");

const server = createServer(
  // Longer than any proxy's pool idle timeout, so pooled upstream connections are never cut mid-run.
  { keepAliveTimeout: 120_000, noDelay: true },
  function app(req: IncomingMessage, res: ServerResponse) {
    // Drain a request body if there is one, so the connection stays reusable.
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    res.end(BODY);
  },
);

server.listen(0, "127.0.0.1", function listening() {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

// Die with the harness even if it was SIGKILLed and could not clean up: stdin closes then.
process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
