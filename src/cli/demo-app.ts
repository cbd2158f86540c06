/**
 * The demo app that `gatehouse demo` puts behind Gatehouse: a few ordinary pages and an API,
 * enough to see requests flow, headers rewritten and request ids assigned.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse demo shop</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>Demo shop</h1>
<p>This page came through Gatehouse. The app saw your address as <code>{{ip}}</code> and this request as <code>{{id}}</code>.</p>
<ul>
<li><a href="/api/items">/api/items</a>: a JSON API</li>
<li><a href="/headers">/headers</a>: the headers the app received</li>
<li><code>curl -d 'hello' {{origin}}/echo</code>: echoes a request body</li>
</ul>
</body></html>`;

const ITEMS = [
  { id: 1, name: "Lantern", price: 24.5 },
  { id: 2, name: "Rope, 20 m", price: 18 },
  { id: 3, name: "Padlock", price: 9.99 },
];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  const xff = String(req.headers["x-forwarded-for"] ?? "");
  if (req.method === "GET" && path === "/") {
    const html = PAGE.replace("{{ip}}", escapeHtml(xff.split(",").pop()?.trim() ?? ""))
      .replace("{{id}}", escapeHtml(String(req.headers["x-request-id"] ?? "")))
      .replace("{{origin}}", escapeHtml(`http://${req.headers.host ?? "localhost"}`));
    return send(res, 200, "text/html; charset=utf-8", html);
  }
  if (req.method === "GET" && path === "/api/items")
    return send(res, 200, "application/json", JSON.stringify(ITEMS));
  if (req.method === "GET" && path === "/headers")
    return send(res, 200, "application/json", JSON.stringify(req.headers, null, 2));
  if (req.method === "POST" && path === "/echo") {
    res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/octet-stream" });
    req.pipe(res);
    return;
  }
  send(res, 404, "application/json", JSON.stringify({ error: "not found", path }));
}

export function createDemoApp(): Server {
  return createServer(handle);
}
