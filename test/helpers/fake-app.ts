/**
 * `fakeApp(handler)`: the application behind Gatehouse, a real node:http server on a loopback
 * port 0 or a Unix socket, recording the head of every request it receives.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ReceivedRequest {
  method: string;
  url: string;
  /** As Node parsed them (lower-case names, repeated values joined). */
  headers: IncomingHttpHeaders;
  /** Name/value pairs in wire order and case. */
  rawHeaders: string[];
}

export type AppHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface FakeApp {
  server: Server;
  /** What to pass as `--upstream`: `http://127.0.0.1:PORT` or `unix:/path.sock`. */
  upstream: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

export interface FakeAppOptions {
  /** Listen on this Unix socket instead of a loopback port. */
  socketPath?: string;
}

export async function fakeApp(handler: AppHandler, options: FakeAppOptions = {}): Promise<FakeApp> {
  const requests: ReceivedRequest[] = [];
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
    });
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: Error) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`fake app handler failed: ${err.message}`);
        } else {
          res.destroy(err);
        }
      });
  });
  const { socketPath } = options;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (socketPath) server.listen(socketPath, resolve);
    else server.listen(0, "127.0.0.1", resolve);
  });
  const upstream = socketPath
    ? `unix:${socketPath}`
    : `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    upstream,
    requests,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        if (socketPath) rmSync(socketPath, { force: true });
      });
    },
  };
}

/** The whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bytes in the request body, counted as they stream (nothing is kept). */
export async function countBytes(req: IncomingMessage): Promise<number> {
  let total = 0;
  for await (const chunk of req) total += (chunk as Buffer).length;
  return total;
}

/** A loopback port that was free a moment ago and has nothing listening on it now. */
export async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A fresh socket path under the temp directory (short enough for sun_path). */
export function tempSocketPath(label: string): string {
  return join(tmpdir(), `gh-${label}-${process.pid}-${randomBytes(4).toString("hex")}.sock`);
}
