/**
 * Baseline (a): the minimum honest proxy. A node:http server and an undici Pool with keep-alive,
 * the response streamed chunk by chunk with pool.dispatch — no header hygiene, no request id,
 * no metrics. Gatehouse pays for everything it does on top of this.
 * Usage: bare-undici.ts http://127.0.0.1:PORT  → prints {"port": N}
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Dispatcher, Pool } from "undici";

// Same pool size as Gatehouse's default --upstream-connections.
const pool = new Pool(process.argv[2]!, { connections: 256, pipelining: 1 });

const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, function proxy(req, res) {
  // Streams with backpressure and answers 502 on failure; it does not abort the upstream request
  // when the client leaves, and touches no header: that is all Gatehouse's to pay for.
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_controller, statusCode, headers) {
      res.writeHead(statusCode, headers as Record<string, string | string[]>);
    },
    onResponseData(controller, chunk) {
      if (!res.write(chunk)) {
        controller.pause();
        res.once("drain", () => controller.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_controller, error) {
      if (res.headersSent) res.destroy(error);
      else res.writeHead(502).end();
    },
  };
  const body = req.headers["content-length"] || req.headers["transfer-encoding"] ? req : null;
  pool.dispatch(
    { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: req.rawHeaders, body },
    handler,
  );
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
