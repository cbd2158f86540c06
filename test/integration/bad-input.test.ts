/**
 * Hostile or broken clients never crash Gatehouse and never get a malformed message to the app:
 * each gets a 4xx and its connection closed, is counted in gatehouse_client_errors_total, and
 * the next normal request is served as usual.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type Client, client, rawExchange } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { metric, metricSum } from "../helpers/prometheus.ts";

/** Requests Node's parser refuses; none of them may reach the app as a complete request. */
const MALFORMED: Record<string, string | Buffer> = {
  "a garbage request line": "THIS IS NOT HTTP\r\n\r\n",
  "an unknown HTTP version": "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
  "a header line without a colon": "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
  "a space before the colon": "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
  "a NUL byte in a header value": "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
  "a bare CR inside the request target": "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
  "Content-Length and Transfer-Encoding together (request smuggling)":
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "two different Content-Lengths (request smuggling)":
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
  "an invalid chunk size":
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  "random bytes": Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), randomBytes(512)]),
};

describe("bad input", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let http: Client;
  /** Requests whose body the app read to the end. */
  let completed = 0;

  before(async () => {
    app = await fakeApp((req, res) => {
      req.on("end", () => completed++);
      req.resume();
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`app saw ${req.method} ${req.url}`);
    });
    gatehouse = await startGatehouse({ upstream: app.upstream, args: ["--limits-header-bytes", "8KB"] });
    http = client(gatehouse.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  for (const [name, bytes] of Object.entries(MALFORMED)) {
    it(`${name} → 400, connection closed, never a complete request at the app`, async () => {
      const before = completed;
      const reply = await rawExchange(gatehouse.proxy, bytes);
      assert.equal(reply.status, 400, `answer was ${JSON.stringify(reply.text.slice(0, 80))}`);
      assert.ok(reply.closed, "the connection is closed after the 400");
      // A broken body is found after the head was forwarded; the app's request is then aborted.
      assert.equal(completed, before);
    });
  }

  it("headers over --limits-header-bytes 8KB → 431", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(9 * 1024)}\r\n\r\n`,
    );
    assert.equal(reply.status, 431);
    assert.ok(reply.closed);
  });

  it("headers just under the limit are accepted", async () => {
    const reply = await http.send("/under-limit", { headers: { "x-big": "a".repeat(6 * 1024) } });
    assert.equal(reply.status, 200);
  });

  it("a request target of * is refused with 400 problem+json, not forwarded", async () => {
    const before = app.requests.length;
    const reply = await rawExchange(
      gatehouse.proxy,
      "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(reply.status, 400);
    assert.match(reply.text, /content-type: application\/problem\+json/i);
    assert.equal(app.requests.length, before);
  });

  it("an HTTP/0.9 request line (no version) is refused, never forwarded as HTTP/1.1", async () => {
    const before = app.requests.length;
    const reply = await rawExchange(gatehouse.proxy, "GET /\r\n\r\n");
    assert.equal(app.requests.length, before);
    assert.ok(reply.closed, "the connection is closed");
    assert.equal(reply.status, 505);
    assert.match(reply.text, /"title":"HTTP Version Not Supported"/);
  });

  it("a request target of //x reaches the app as that path on the same host, never as host x", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      "GET //x HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n",
    );
    assert.equal(reply.status, 200);
    const seen = app.requests.at(-1)!;
    assert.equal(seen.url, "//x");
    assert.equal(seen.headers.host, "shop.example");
  });

  it("an absolute-form target is reduced to its path and cannot choose where Gatehouse connects", async () => {
    const reply = await rawExchange(
      gatehouse.proxy,
      "GET http://169.254.169.254/latest/meta-data?x=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n",
    );
    assert.equal(reply.status, 200);
    assert.ok(reply.text.includes("app saw GET /latest/meta-data?x=1"), reply.text);
    assert.equal(app.requests.at(-1)!.headers.host, "shop.example");
  });

  it("hundreds of bad requests in a row: still alive, still serving, all counted", async () => {
    const inputs = Object.values(MALFORMED);
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      await Promise.all(inputs.map((bytes) => rawExchange(gatehouse.proxy, bytes)));
    }
    assert.ok(gatehouse.alive(), "the process is still running");
    const reply = await http.send("/after-the-storm");
    assert.equal(reply.status, 200);
    assert.equal(reply.text, "app saw GET /after-the-storm");

    const text = await gatehouse.metrics();
    const malformedSent = (rounds + 1) * inputs.length;
    assert.ok(
      metricSum(text, "gatehouse_client_errors_total") >= malformedSent + 1,
      `gatehouse_client_errors_total counts every bad request (${malformedSent} malformed + 1 oversized)`,
    );
    assert.ok((metric(text, "gatehouse_client_errors_total", { reason: "header_overflow" }) ?? 0) >= 1);
    assert.ok((metric(text, "gatehouse_client_errors_total", { reason: "malformed" }) ?? 0) >= 1);
  });
});
