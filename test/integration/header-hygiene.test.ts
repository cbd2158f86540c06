/**
 * What crosses Gatehouse in each direction: hop-by-hop headers and the names `Connection` lists
 * stop at Gatehouse (RFC 9110 section 7.6.1), `Gatehouse-*` headers never cross (DESIGN 3.1), and
 * the app is told who is asking through X-Forwarded-* and X-Request-Id. Raw sockets are used
 * because HTTP clients refuse to send most of these headers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawExchange, rawHeaders } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";

/** Request ids Gatehouse makes: a per-process random prefix and a counter (src/events/correlation.ts). */
const REQUEST_ID = /^[0-9a-f]{16}-[0-9a-z]+$/;

function rawRequest(path: string, lines: string[]): string {
  return `GET ${path} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;
}

describe("header hygiene", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;

  before(async () => {
    app = await fakeApp((req, res) => {
      if (req.url === "/hop-by-hop-response") {
        res.writeHead(200, [
          ["Content-Type", "text/plain"],
          ["Connection", "X-App-Hop"],
          ["X-App-Hop", "connection-scoped"],
          ["Keep-Alive", "timeout=999"],
          ["Proxy-Authenticate", 'Basic realm="app"'],
          ["Proxy-Connection", "keep-alive"],
          ["Upgrade", "h2c"],
          ["Trailer", "X-Checksum"],
          ["Gatehouse-Event", 'IE1;outcome=blocked;detail="script tag"'],
          ["Gatehouse-User", "alice"],
          ["GATEHOUSE-ANYTHING", "private"],
          ["X-Kept", "end-to-end"],
          // A legal header name that is also a JS prototype accessor: passed on as any other.
          ["__proto__", "odd-but-end-to-end"],
          ["Set-Cookie", "a=1"],
          ["Set-Cookie", "b=2"],
        ]);
        res.end("body");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
    gatehouse = await startGatehouse({ upstream: app.upstream });
  });

  after(async () => {
    await gatehouse?.kill();
    await app?.close();
  });

  it("hop-by-hop request headers and the names Connection lists do not reach the app", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      rawRequest("/hop-by-hop-request", [
        "Host: shop.example",
        "Connection: close, X-Client-Hop",
        "X-Client-Hop: connection-scoped",
        "Keep-Alive: timeout=5",
        "Proxy-Authorization: Basic Zm9vOmJhcg==",
        "Proxy-Connection: keep-alive",
        "TE: trailers",
        "Upgrade: h2c",
        "X-Kept: end-to-end",
      ]),
    );
    assert.equal(reply.status, 200);
    const seen = app.requests.at(-1)!;
    assert.equal(seen.url, "/hop-by-hop-request");
    for (const name of [
      "x-client-hop",
      "keep-alive",
      "proxy-authorization",
      "proxy-connection",
      "te",
      "upgrade",
    ]) {
      assert.equal(seen.headers[name], undefined, `${name} reached the app`);
    }
    assert.doesNotMatch(String(seen.headers.connection ?? ""), /x-client-hop|close/i);
    assert.equal(seen.headers["x-kept"], "end-to-end");
  });

  it("hop-by-hop response headers and the names Connection lists do not reach the client", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      rawRequest("/hop-by-hop-response", ["Host: shop.example", "Connection: close"]),
    );
    assert.equal(reply.status, 200);
    const headers = rawHeaders(reply.text);
    for (const name of ["x-app-hop", "proxy-authenticate", "proxy-connection", "upgrade", "trailer"]) {
      assert.equal(headers.get(name), undefined, `${name} reached the client`);
    }
    assert.notDeepEqual(
      headers.get("keep-alive"),
      ["timeout=999"],
      "the app's Keep-Alive reached the client",
    );
    assert.deepEqual(headers.get("connection"), ["close"], "Connection is Gatehouse's own");
    assert.deepEqual(headers.get("x-kept"), ["end-to-end"]);
    assert.deepEqual(headers.get("__proto__"), ["odd-but-end-to-end"]);
    assert.deepEqual(headers.get("set-cookie"), ["a=1", "b=2"], "repeated end-to-end headers are kept");
    assert.ok(reply.text.endsWith("\r\n\r\n4\r\nbody\r\n0\r\n\r\n"), "the body arrives whole");
  });

  it("Gatehouse-* response headers from the app never reach the client", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      rawRequest("/hop-by-hop-response", ["Host: shop.example", "Connection: close"]),
    );
    assert.equal(reply.status, 200);
    assert.doesNotMatch(reply.text, /^gatehouse-/im);
  });

  it("Gatehouse-* request headers from the client never reach the app (no user or event spoofing)", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      rawRequest("/spoof-gatehouse-headers", [
        "Host: shop.example",
        "Connection: close",
        "Gatehouse-User: admin",
        "Gatehouse-Event: IE1",
        "gatehouse-anything: x",
      ]),
    );
    assert.equal(reply.status, 200);
    const seen = app.requests.at(-1)!;
    assert.equal(seen.url, "/spoof-gatehouse-headers");
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.deepEqual(
      names.filter((n) => n.startsWith("gatehouse-")),
      [],
    );
  });

  it("the app gets Host unchanged, X-Forwarded-For/Proto/Host and a fresh X-Request-Id", async () => {
    for (const path of ["/forwarding-1", "/forwarding-2"]) {
      const reply = await rawExchange(
        gatehouse.proxy,
        rawRequest(path, ["Host: shop.example:8443", "Connection: close"]),
      );
      assert.equal(reply.status, 200);
    }
    const [first, second] = app.requests.slice(-2);
    for (const seen of [first!, second!]) {
      assert.equal(seen.headers.host, "shop.example:8443");
      assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
      assert.equal(seen.headers["x-forwarded-proto"], "http");
      assert.equal(seen.headers["x-forwarded-host"], "shop.example:8443");
      assert.match(String(seen.headers["x-request-id"]), REQUEST_ID);
    }
    assert.notEqual(first!.headers["x-request-id"], second!.headers["x-request-id"], "one id per request");
  });
});
