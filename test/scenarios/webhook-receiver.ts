/**
 * The operator's end of a `notify` channel: a real HTTP server on a loopback port that keeps
 * every delivery. It can refuse the first deliveries it gets (503), as an alerting service does
 * while it restarts, so the suite sees that a page is retried and still arrives exactly once.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Delivery {
  /** The path it was POSTed to: each channel of the scenario policy has its own. */
  path: string;
  contentType: string;
  /** The body as JSON, or null when it was not JSON. */
  body: Record<string, unknown> | null;
  text: string;
  /** The status this receiver answered with: only 2xx counts as delivered. */
  status: number;
  /** Date.now() when it arrived. */
  at: number;
}

export interface WebhookReceiver {
  server: Server;
  /** `http://127.0.0.1:PORT`; a channel's webhook is this plus its path. */
  origin: string;
  /** Every POST received, refused ones included, in order. */
  received: Delivery[];
  /** The deliveries it accepted on `path`. */
  accepted(path: string): Delivery[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startWebhookReceiver(options: { refuseFirst?: number } = {}): Promise<WebhookReceiver> {
  let toRefuse = options.refuseFirst ?? 0;
  const received: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
          body = parsed as Record<string, unknown>;
      } catch {
        body = null;
      }
      const refuse = req.method !== "POST" || toRefuse > 0;
      if (req.method === "POST" && toRefuse > 0) toRefuse--;
      const status = refuse ? 503 : 200;
      received.push({
        path: (req.url ?? "/").split("?")[0]!,
        contentType: String(req.headers["content-type"] ?? ""),
        body,
        text,
        status,
        at: Date.now(),
      });
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(refuse ? "try again later\n" : "ok\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    accepted: (path) => received.filter((d) => d.path === path && d.status < 300),
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
