/**
 * The app for the header-channel benchmark: the same 1 KiB answer as upstream-app.ts, and with
 * `--event` a `Gatehouse-Event` header on every response, as an instrumented app would send when
 * every request carried a detection (a deliberately extreme case).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const BODY = Buffer.alloc(1024, "x");
const withEvent = process.argv.includes("--event");

const server = createServer({ keepAliveTimeout: 120_000, noDelay: true }, function app(req, res) {
  req.resume();
  const headers: Record<string, string | number> = {
    "content-type": "text/plain",
    "content-length": BODY.length,
  };
  if (withEvent) headers["gatehouse-event"] = 'IE1;outcome=blocked;detail="script tag in comment"';
  res.writeHead(200, headers);
  res.end(BODY);
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.on("end", () => process.exit(0)).resume();
process.once("SIGTERM", () => process.exit(0));
