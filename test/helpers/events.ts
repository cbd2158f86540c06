/**
 * Talking to Gatehouse's event socket the way an app would: plain HTTP/1.1 over the Unix socket.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SocketReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

const socketDirs: string[] = [];
// Gatehouse creates the directory; the test process removes every one it handed out when it exits.
process.on("exit", () => {
  for (const dir of socketDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh socket path in its own (not yet existing) directory, as the pod's emptyDir would be. */
export function eventsSocketPath(): string {
  const dir = join(tmpdir(), `gh-ev-${randomBytes(4).toString("hex")}`);
  socketDirs.push(dir);
  return join(dir, "events.sock");
}

export function socketRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: string | Buffer,
  contentType = "application/json",
): Promise<SocketReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers:
          body === undefined
            ? {}
            : { "content-type": contentType, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export const postEvents = (socketPath: string, body: string | Buffer, contentType?: string) =>
  socketRequest(socketPath, "POST", "/v1/events", body, contentType);
