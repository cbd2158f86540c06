/**
 * Clients for the proxy: `client(origin)` (undici, its own connection pool so tests never share
 * keep-alive sockets) and `rawExchange()` (a bare TCP socket, for bytes no HTTP client would send).
 */
import { connect } from "node:net";
import { Agent, type Dispatcher, request } from "undici";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export type RequestOptions = Omit<Dispatcher.RequestOptions, "origin" | "path" | "method"> & {
  method?: Dispatcher.HttpMethod;
};

export interface Client {
  /** Send a request and read the whole response body. */
  send(path: string, options?: RequestOptions): Promise<Reply>;
  /** Send a request and hand back the response with its body still streaming. */
  open(path: string, options?: RequestOptions): Promise<Dispatcher.ResponseData>;
  close(): Promise<void>;
}

/**
 * `localAddress` binds the client's sockets to another loopback address (any 127.0.0.0/8 works
 * on Linux), so a test can be a different client IP without trusting forwarded headers.
 */
export function client(origin: string, options: { localAddress?: string } = {}): Client {
  const agent = new Agent({
    keepAliveTimeout: 2000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const open = (path: string, options: RequestOptions = {}) =>
    request(new URL(path, origin), { dispatcher: agent, ...options });
  return {
    open,
    async send(path, options) {
      const res = await open(path, options);
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body, text: body.toString("utf8") };
    },
    close: () => agent.destroy(),
  };
}

export interface RawReply {
  /** Everything the server sent before it closed the connection (latin1, byte for byte). */
  text: string;
  /** The status code of the first response, or 0 if none came. */
  status: number;
  /** False when the server had not closed the connection within the time allowed. */
  closed: boolean;
}

/**
 * Write `bytes` on a fresh connection and collect the answer until the server closes it (or
 * `ms` pass: a safety net, reported as `closed: false`). Resets count as a close.
 */
export function rawExchange(hostPort: string, bytes: string | Buffer, ms = 5000): Promise<RawReply> {
  const port = Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
  const host = hostPort.slice(0, hostPort.lastIndexOf(":"));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: status ? Number(status[1]) : 0, closed });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => done(true));
    socket.on("close", () => done(true));
    socket.write(bytes);
  });
}

/** Header block of a raw HTTP response as a map of lower-case names to values. */
export function rawHeaders(text: string): Map<string, string[]> {
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  const map = new Map<string, string[]>();
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    map.set(name, [...(map.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return map;
}

/** Try a new TCP connection: `"connected"`, the error code (`"ECONNREFUSED"`), or `"timeout"`. */
export function tryConnect(hostPort: string, ms = 2000): Promise<string> {
  const port = Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
  const host = hostPort.slice(0, hostPort.lastIndexOf(":"));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done("timeout"), ms);
    socket.once("connect", () => done("connected"));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
