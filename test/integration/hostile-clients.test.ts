/**
 * Regressions found in review: clients that try to crash Gatehouse, pin its memory, slip past
 * header hygiene, or make it do work for requests they already abandoned.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { client, rawExchange } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { deferred, waitFor } from "../helpers/wait.ts";

describe("hostile clients", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  const slowGate = deferred();

  before(async () => {
    app = await fakeApp(async (req, res) => {
      if (req.url === "/slow") await slowGate.promise;
      if (req.url === "/trailers") {
        res.writeHead(200, { trailer: "Gatehouse-Event, X-Checksum", "content-type": "text/plain" });
        res.write("body");
        res.addTrailers({ "Gatehouse-Event": "IE1", "X-Checksum": "abc" });
        res.end();
        return;
      }
      res.end(`seen ${req.url} upgrade=${req.headers.upgrade ?? "none"}`);
    });
    gh = await startGatehouse({ upstream: app.upstream, args: ["--upstream-connections", "1"] });
  });

  after(async () => {
    slowGate.resolve();
    await gh?.kill();
    await app?.close();
  });

  it("an upgrade request that is refused and then reset never crashes the process", async () => {
    const bad = "GET * HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    await Promise.all(
      Array.from({ length: 100 }, () => {
        return new Promise<void>((resolve) => {
          const port = Number(gh.proxy.slice(gh.proxy.lastIndexOf(":") + 1));
          const s = connect({ host: "127.0.0.1", port }, () => {
            s.write(bad);
            s.resetAndDestroy();
            resolve();
          });
          s.on("error", () => resolve());
        });
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(gh.alive(), `gatehouse died; stderr:\n${gh.stderr.join("\n")}`);
    const c = client(gh.proxyUrl);
    assert.equal((await c.send("/after")).status, 200);
    await c.close();
  });

  it("an Upgrade other than websocket (h2c) is served as a plain request, not dropped", async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const port = Number(gh.proxy.slice(gh.proxy.lastIndexOf(":") + 1));
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          path: "/h2c",
          headers: {
            connection: "Upgrade, HTTP2-Settings",
            upgrade: "h2c",
            "http2-settings": "AAMAAABkAAQCAAAAAAIAAAAA",
          },
        },
        (r) => {
          let body = "";
          r.on("data", (d) => (body += d));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, "seen /h2c upgrade=none", "the app sees a plain request, Upgrade removed");
  });

  it("two Host headers are answered 400 and never forwarded (no upstream_error inflation)", async () => {
    const before = app.requests.length;
    const reply = await rawExchange(
      gh.proxy,
      "GET /dup HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    );
    assert.equal(reply.status, 400);
    assert.match(reply.text, /more than one Host header/);
    assert.equal(app.requests.length, before);
    assert.doesNotMatch(await gh.metrics(), /gatehouse_requests_total\{outcome="upstream_error"\}/);
  });

  it("Gatehouse-* trailers from the app never reach the client; other trailers do", async () => {
    const c = client(gh.proxyUrl);
    const res = await c.open("/trailers");
    const body = await res.body.text();
    await c.close();
    assert.equal(body, "body");
    const trailers = (res as unknown as { trailers: Record<string, string> }).trailers;
    assert.equal(trailers["gatehouse-event"], undefined);
    assert.equal(trailers["x-checksum"], "abc");
  });

  it("a request whose client left while it waited for a connection is never sent to the app", async () => {
    // With one upstream connection, /slow holds it; /queued waits behind it, and its client gives up.
    const c = client(gh.proxyUrl);
    const slow = c.send("/slow");
    await waitFor(() => app.requests.some((r) => r.url === "/slow"), "the slow request to reach the app");
    const giveUp = new AbortController();
    const queued = c.send("/queued", { signal: giveUp.signal }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 100));
    giveUp.abort();
    assert.equal(await queued, "aborted");
    await new Promise((r) => setTimeout(r, 100));
    slowGate.resolve();
    assert.equal((await slow).status, 200);
    assert.equal((await c.send("/next")).status, 200);
    await c.close();
    assert.equal(
      app.requests.some((r) => r.url === "/queued"),
      false,
      "the abandoned request was forwarded",
    );
  });
});

describe("an app that takes a WebSocket upgrade and never answers", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  const held: Duplex[] = [];

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    // Accept the upgrade request and then say nothing, holding the socket.
    app.server.on("upgrade", (_req, socket) => held.push(socket));
    gh = await startGatehouse({ upstream: app.upstream, args: ["--timeouts-upstream-response", "500ms"] });
  });

  after(async () => {
    await gh?.kill();
    for (const socket of held) socket.destroy();
    await app?.close();
  });

  it("gets timeouts.upstreamResponse to answer, then the client is told 502 and both sockets close", async () => {
    const reply = await rawExchange(
      gh.proxy,
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      8000,
    );
    assert.ok(reply.closed, "the client connection was closed instead of hanging");
    assert.equal(reply.status, 502);
  });
});
