/**
 * WebSocket upgrades pass through Gatehouse to the app, with the same forwarding headers as
 * plain requests. Client: Node's built-in WebSocket. App: a `ws` server on the fake app's port.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { deferred, waitFor, within } from "../helpers/wait.ts";

describe("WebSocket", () => {
  let app: FakeApp;
  let wss: WebSocketServer;
  let gatehouse: GatehouseProcess;
  const upgrades: Record<string, string | string[] | undefined>[] = [];

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.writeHead(426);
      res.end();
    });
    wss = new WebSocketServer({ server: app.server });
    wss.on("connection", (socket, req) => {
      upgrades.push(req.headers);
      socket.on("message", (data, isBinary) => {
        // The app's side failing mid-connection: a TCP reset, no close frame.
        if (String(data) === "reset-me") (socket as unknown as { _socket: Socket })._socket.resetAndDestroy();
        else socket.send(data, { binary: isBinary });
      });
    });
    gatehouse = await startGatehouse({ upstream: app.upstream });
  });

  after(async () => {
    for (const socket of wss?.clients ?? []) socket.terminate();
    wss?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  /** Open a WebSocket through Gatehouse; resolves once the handshake is done. */
  async function open(path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
    const ws = new WebSocket(`ws://${gatehouse.proxy}${path}`, { headers });
    ws.binaryType = "arraybuffer";
    const opened = deferred();
    ws.addEventListener("open", () => opened.resolve());
    ws.addEventListener("error", () => opened.reject(new Error("websocket error before open")));
    await within(opened.promise, 5000, "the WebSocket to open");
    return ws;
  }

  async function close(ws: WebSocket): Promise<number> {
    const closed = deferred<number>();
    ws.addEventListener("close", (event) => closed.resolve(event.code));
    ws.close(1000, "done");
    return within(closed.promise, 5000, "the close handshake");
  }

  it("echoes text and binary messages through Gatehouse", async () => {
    const ws = await open("/chat?room=1");
    const messages: (string | ArrayBuffer)[] = [];
    const gotBoth = deferred();
    ws.addEventListener("message", (event) => {
      messages.push(event.data as string | ArrayBuffer);
      if (messages.length === 2) gotBoth.resolve();
    });
    ws.send("hello through gatehouse");
    ws.send(new Uint8Array([0, 1, 2, 254, 255]));
    await within(gotBoth.promise, 5000, "both echoes");
    assert.equal(messages[0], "hello through gatehouse");
    assert.deepEqual([...new Uint8Array(messages[1] as ArrayBuffer)], [0, 1, 2, 254, 255]);
    assert.equal(await close(ws), 1000);
  });

  it("the app sees the upgrade with Gatehouse's forwarding headers, not the client's", async () => {
    const ws = await open("/spoof", {
      "X-Forwarded-For": "6.6.6.6",
      "X-Request-Id": "chosen-by-client",
      "Gatehouse-User": "admin",
    });
    await close(ws);
    const headers = upgrades.at(-1);
    assert.ok(headers, "the app accepted an upgrade");
    assert.equal(headers["x-forwarded-for"], "127.0.0.1");
    assert.match(String(headers["x-request-id"]), /^[0-9a-f]{16}-[0-9a-z]+$/);
    assert.equal(headers["gatehouse-user"], undefined);
    assert.equal(headers.host, gatehouse.proxy);
  });

  /** A raw TCP client that completes the handshake, sending `extra` in the same write. */
  async function rawUpgrade(
    extra: Buffer = Buffer.alloc(0),
  ): Promise<{ socket: Socket; received: Buffer[] }> {
    const [host, port] = gatehouse.proxy.split(":");
    const socket = connect(Number(port), host);
    socket.on("error", () => {});
    const received: Buffer[] = [];
    const switched = deferred();
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      if (Buffer.concat(received).includes("\r\n\r\n")) switched.resolve();
    });
    const request =
      `GET /raw HTTP/1.1\r\nHost: ${gatehouse.proxy}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    socket.write(Buffer.concat([Buffer.from(request), extra]));
    await within(switched.promise, 5000, "the 101");
    assert.match(Buffer.concat(received).toString("latin1"), /^HTTP\/1\.1 101 /);
    return { socket, received };
  }

  it("a client that resets its WebSocket ends that connection only, not Gatehouse", async () => {
    for (let i = 0; i < 3; i++) {
      const { socket } = await rawUpgrade();
      socket.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 50));
    }
    const ws = await open("/after-resets");
    assert.equal(await close(ws), 1000);
    assert.equal(gatehouse.alive(), true, "Gatehouse is still running");
  });

  /** A masked text frame, as a client sends it. */
  function clientFrame(text: string): Buffer {
    const mask = [1, 2, 3, 4];
    const payload = Buffer.from(text);
    return Buffer.from([0x81, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4]!)]);
  }

  it("an app that resets an open WebSocket closes it for the client, with no HTTP answer inside", async () => {
    const failures = async () =>
      metric(await gatehouse.metrics(), "gatehouse_websocket_upgrades_total", { result: "upstream_error" }) ??
      0;
    const before = await failures();
    const { socket, received } = await rawUpgrade();
    const closed = deferred();
    socket.once("close", () => closed.resolve());
    socket.write(clientFrame("reset-me"));
    await within(closed.promise, 5000, "the client connection to close");
    const after101 = Buffer.concat(received).toString("latin1").split("\r\n\r\n").slice(1).join("");
    assert.doesNotMatch(after101, /HTTP\/1\.1/, "no status line written into the WebSocket");
    assert.equal(await failures(), before, "not counted as a failed upgrade");
    assert.equal(gatehouse.alive(), true);
  });

  it("relays a frame sent in the same packet as the upgrade request", async () => {
    // "early", as a client may pipeline it right behind its handshake.
    const { socket, received } = await rawUpgrade(clientFrame("early"));
    await waitFor(async () => Buffer.concat(received).includes("early"), "the echo of the early frame");
    socket.destroy();
  });
});
