/**
 * The WebSocket proxy tells its byte counter (the buffer reclaimer's, src/forward/buffer-reclaim.ts)
 * the size of every chunk it relays once the upgrade is done, both ways, and counting changes
 * nothing of what is relayed: a message sent right after the handshake still arrives whole.
 * Real sockets: a `ws` echo app, a node:http server that hands upgrades to the proxy, and Node's
 * built-in WebSocket client.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { loadConfig } from "../../../src/config/load.ts";
import { createWebSocketProxy, type WebSocketProxy } from "../../../src/forward/websocket.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetrics } from "../../../src/observability/metrics.ts";
import type { RequestContext } from "../../../src/pipeline/context.ts";
import { type FakeApp, fakeApp } from "../../helpers/fake-app.ts";
import { deferred, within } from "../../helpers/wait.ts";

const MESSAGE = 512 * 1024 + 3;

function context(): RequestContext {
  return {
    requestId: "ws-1",
    peerIp: "127.0.0.1",
    peerTrusted: false,
    revokedCookies: [],
    revokedBearer: false,
    flagged: false,
    tarpitMs: 0,
  } as unknown as RequestContext;
}

describe("WebSocket byte counts", () => {
  let app: FakeApp;
  let wss: WebSocketServer;
  let proxy: Server;
  let websockets: WebSocketProxy;
  let port = 0;
  const noted: number[] = [];
  const received: number[] = [];

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.writeHead(426);
      res.end();
    });
    wss = new WebSocketServer({ server: app.server });
    wss.on("connection", (socket) => {
      socket.on("message", (data: Buffer, isBinary) => {
        received.push(data.length);
        socket.send(data, { binary: isBinary });
      });
    });
    const loaded = loadConfig({ flags: new Map([["upstream", [app.upstream]]]) });
    assert.ok(loaded.ok);
    const { config } = loaded;
    websockets = createWebSocketProxy(
      config.upstream,
      config.timeouts,
      createMetrics("test"),
      createLogger("silent"),
      (n) => noted.push(n),
    );
    proxy = createServer((_req, res) => res.writeHead(404).end());
    proxy.on("upgrade", (req, socket, head) => websockets.upgrade(context(), req, socket, head, null));
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    port = (proxy.address() as AddressInfo).port;
  });

  after(async () => {
    websockets.closeAll();
    for (const socket of wss.clients) socket.terminate();
    wss.close();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await app.close();
  });

  it("counts both directions of a relayed message, which arrives whole and comes back whole", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    ws.binaryType = "arraybuffer";
    const echoed = deferred<ArrayBuffer>();
    ws.addEventListener("message", (event) => echoed.resolve(event.data as ArrayBuffer));
    ws.addEventListener("error", () => echoed.reject(new Error("websocket error")));
    // Sent the moment the handshake completes: the counter is attached then too.
    ws.addEventListener("open", () => ws.send(new Uint8Array(MESSAGE).fill(7)));
    const back = await within(echoed.promise, 10_000, "the echo");
    assert.equal(back.byteLength, MESSAGE);
    assert.ok(
      new Uint8Array(back).every((b) => b === 7),
      "the echo is the message",
    );
    assert.deepEqual(received, [MESSAGE], "the app received the message whole");
    const total = noted.reduce((a, b) => a + b, 0);
    // Client to app: the message plus a masked frame header; app to client: the message plus a
    // frame header. Both at least the message, neither much more.
    assert.ok(total >= 2 * MESSAGE, `counted ${total} bytes, at least both copies of the message`);
    assert.ok(total <= 2 * MESSAGE + 64, `counted ${total} bytes, no more than the frames`);
    ws.close();
  });
});
