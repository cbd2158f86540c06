/**
 * The forwarder tells its `onBodyBytes` the size of every body chunk it passes on, both ways (the
 * buffer reclaimer counts on it), and the request body still reaches the app whole: the tap that
 * counts it never takes bytes from undici's own reader. Real sockets: an app on a loopback port
 * and a node:http server in front of it that forwards with the forwarder.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import { createForwarder, type Forwarder } from "../../../src/forward/forwarder.ts";
import type { RequestContext } from "../../../src/pipeline/context.ts";
import type { Outcome } from "../../../src/pipeline/outcome.ts";
import { countBytes, type FakeApp, fakeApp } from "../../helpers/fake-app.ts";

const UPLOAD = 3 * 1024 * 1024 + 17;
const DOWNLOAD = 2 * 1024 * 1024 + 5;

function context(method: string, target: string): RequestContext {
  return { method, target, revokedCookies: [], upstreamStatus: 0 } as unknown as RequestContext;
}

describe("forwarder body byte counts", () => {
  let app: FakeApp;
  let proxy: Server;
  let forwarder: Forwarder;
  let port = 0;
  const noted: number[] = [];
  const outcomes: Outcome[] = [];

  before(async () => {
    app = await fakeApp(async (req, res) => {
      if (req.url === "/upload") {
        const received = await countBytes(req);
        res.end(String(received));
      } else {
        res.writeHead(200, { "content-length": DOWNLOAD });
        res.end(Buffer.alloc(DOWNLOAD, "d"));
      }
    });
    const loaded = loadConfig({ flags: new Map([["upstream", [app.upstream]]]) });
    assert.ok(loaded.ok);
    const config = loaded.config;
    forwarder = createForwarder({
      upstream: config.upstream,
      connections: 4,
      timeouts: config.timeouts,
      onBodyBytes: (n) => noted.push(n),
    });
    proxy = createServer((req, res) => {
      const headers = ["host", "app", "content-type", "application/octet-stream"];
      if (req.headers["content-length"]) headers.push("content-length", req.headers["content-length"]);
      forwarder.forward(context(req.method!, req.url!), req, res, headers, (o) => outcomes.push(o));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    port = (proxy.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await forwarder.close();
    await app.close();
  });

  function send(
    method: string,
    path: string,
    body?: Buffer,
  ): Promise<{ status: number; length: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, length: all.length, text: all.subarray(0, 64).toString() });
        });
      });
      req.on("error", reject);
      if (body) req.setHeader("content-length", body.length);
      req.end(body);
    });
  }

  it("counts a request body as it goes to the app, and the app receives all of it", async () => {
    noted.length = 0;
    const reply = await send("POST", "/upload", Buffer.alloc(UPLOAD, "u"));
    assert.equal(reply.status, 200);
    assert.equal(reply.text, String(UPLOAD), "the app received the whole body");
    const responseBytes = String(UPLOAD).length;
    assert.equal(
      noted.reduce((a, b) => a + b, 0),
      UPLOAD + responseBytes,
    );
  });

  it("counts a response body as it goes to the client", async () => {
    noted.length = 0;
    const reply = await send("GET", "/download");
    assert.equal(reply.status, 200);
    assert.equal(reply.length, DOWNLOAD);
    assert.equal(
      noted.reduce((a, b) => a + b, 0),
      DOWNLOAD,
    );
    assert.ok(outcomes.every((o) => o.kind === "forwarded"));
  });
});
