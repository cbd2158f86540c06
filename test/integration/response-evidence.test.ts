/**
 * Breach evidence from responses (DESIGN section 6) through a real Gatehouse process in front of
 * a real, careless app: edge detection flags the request, and what the app answers decides
 * whether it was an attempt or a success (gatehouse_events_total{channel="edge",outcome="success"}).
 * A streamed response to a flagged request still reaches the client chunk by chunk.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { type Client, client } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { deferred, waitFor, within } from "../helpers/wait.ts";

const TOKEN = "7f3a9c-canary-ssn-000-00-0000";
const POLICY = `
mode: enforce
responses:
  log: { action: log }
detectionPoints:
  IE1: { threshold: { count: 1000, within: 1m }, per: ip, responses: [log] }
  CIE1: { threshold: { count: 1000, within: 1m }, per: ip, responses: [log] }
edge:
  detect: [IE1, CIE1, IE3, HT3]
  honeyTraps:
    tokens: ["${TOKEN}"]
`;

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

describe("response evidence", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  let http: Client;
  // The streaming route: the app writes its first chunk, then waits until the client has read it.
  const order: string[] = [];
  let clientHasFirstChunk = deferred();

  const edge = async (detectionPoint: string, outcome: string) =>
    metric(await gh.metrics(), "gatehouse_events_total", {
      channel: "edge",
      detection_point: detectionPoint,
      outcome,
    }) ?? 0;

  before(async () => {
    app = await fakeApp(async (req, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://app");
      const q = url.searchParams.get("q") ?? "";
      const html = { "content-type": "text/html; charset=utf-8" };
      switch (url.pathname) {
        case "/search": // reflected XSS: the query goes into the page as is
          res.writeHead(200, html).end(`<html><body><p>Results for ${q}</p></body></html>`);
          return;
        case "/search-safe":
          res.writeHead(200, html).end(`<html><body><p>Results for ${escapeHtml(q)}</p></body></html>`);
          return;
        case "/items": // SQL built by concatenation; the error page shows the driver's message
          if (url.searchParams.get("id")?.includes("'")) {
            res.writeHead(500, html).end('<pre>SqliteError: near "\'": syntax error</pre>');
          } else {
            res.writeHead(200, html).end("<p>item 1</p>");
          }
          return;
        case "/items-gz": // the same leak, gzip-compressed
          res
            .writeHead(500, { ...html, "content-encoding": "gzip" })
            .end(gzipSync('<pre>SqliteError: near "\'": syntax error</pre>'));
          return;
        case "/people": // canary data in an ordinary answer: no detection on the request
          res.writeHead(200, { "content-type": "application/json" }).end(`[{"ssn":"${TOKEN}"}]`);
          return;
        case "/stream": {
          res.writeHead(200, html);
          res.write(`<p>first chunk for ${q}</p>`);
          order.push("app wrote the first chunk");
          await within(clientHasFirstChunk.promise, 10_000, "the client to read the first chunk");
          order.push("app writes the rest");
          res.end("<p>the rest</p>");
          return;
        }
        default:
          res.writeHead(200, html).end("<p>home</p>");
      }
    });
    gh = await startGatehouse({ upstream: app.upstream, args: ["--policy", policyFile(POLICY)] });
    http = client(gh.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gh?.kill();
    await app?.close();
  });

  it("a reflected XSS payload is a success; the same payload encoded is an attempt", async () => {
    const payload = encodeURIComponent('<img src=x onerror="alert(1)">');
    assert.equal((await http.send(`/search-safe?q=${payload}`)).status, 200);
    await waitFor(async () => (await edge("IE1", "attempt")) >= 1, "the IE1 attempt");
    assert.equal(await edge("IE1", "success"), 0, "an encoded reflection is not a breach");

    const reply = await http.send(`/search?q=${payload}`);
    assert.equal(reply.status, 200);
    assert.match(reply.text, /<img src=x onerror="alert\(1\)">/, "the client gets the app's page unchanged");
    await waitFor(async () => (await edge("IE1", "success")) === 1, "the IE1 success");
    const logged = await gh.waitForLog(
      (l) => l.msg === "detection event" && l.outcome === "success" && l.detectionPoint === "IE1",
      "the success event's log line",
    );
    assert.match(String(logged.detail), /reflected unencoded in the HTML response/);
  });

  it("a database error after a SQL injection is a success; an ordinary answer is not inspected", async () => {
    assert.equal((await http.send("/items?id=1")).status, 200);
    const reply = await http.send(`/items?id=${encodeURIComponent("1' or 1=1--")}`);
    assert.equal(reply.status, 500);
    await waitFor(async () => (await edge("CIE1", "success")) === 1, "the CIE1 success");
    assert.ok((await edge("CIE1", "attempt")) >= 1, "the injection itself was counted as an attempt");
  });

  it("skips a compressed body with decompression off (the default)", async () => {
    const before = await edge("CIE1", "success");
    const reply = await http.send(`/items-gz?id=${encodeURIComponent("1' or 1=1--")}`);
    assert.equal(reply.status, 500);
    await waitFor(async () => (await edge("CIE1", "attempt")) >= 2, "the second CIE1 attempt");
    assert.equal(await edge("CIE1", "success"), before);
  });

  it("canary data leaving in a response is an HT3 success, without any detection on the request", async () => {
    assert.equal((await http.send("/people")).status, 200);
    await waitFor(async () => (await edge("HT3", "success")) === 1, "the HT3 success");
  });

  it("never holds back the first chunk of a streamed response to a flagged request", async () => {
    const res = await http.open(`/stream?q=${encodeURIComponent("<script>alert(1)</script>")}`);
    assert.equal(res.statusCode, 200);
    const chunks = res.body[Symbol.asyncIterator]();
    const first = await within(chunks.next(), 10_000, "the first chunk through Gatehouse");
    assert.match(Buffer.from(first.value as Buffer).toString(), /first chunk/);
    order.push("client read the first chunk");
    clientHasFirstChunk.resolve();
    let rest = "";
    for (let c = await chunks.next(); !c.done; c = await chunks.next())
      rest += Buffer.from(c.value as Buffer).toString();
    assert.match(rest, /the rest/);
    assert.deepEqual(order, [
      "app wrote the first chunk",
      "client read the first chunk",
      "app writes the rest",
    ]);
    clientHasFirstChunk = deferred();
  });
});

describe("response evidence with --inspection-decompress on", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  let http: Client;

  before(async () => {
    app = await fakeApp((_req, res) => {
      res
        .writeHead(500, { "content-type": "text/html", "content-encoding": "gzip" })
        .end(gzipSync(`<p>${"padding ".repeat(2000)}</p><pre>SqliteError: near "'": syntax error</pre>`));
    });
    gh = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policyFile(POLICY), "--inspection-decompress", "on"],
    });
    http = client(gh.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gh?.kill();
    await app?.close();
  });

  it("finds the database error inside a gzip body, and the client still gets the gzip bytes", async () => {
    const reply = await http.send(`/items?id=${encodeURIComponent("1' or 1=1--")}`);
    assert.equal(reply.status, 500);
    assert.equal(reply.headers["content-encoding"], "gzip");
    await waitFor(
      async () =>
        metric(await gh.metrics(), "gatehouse_events_total", {
          channel: "edge",
          detection_point: "CIE1",
          outcome: "success",
        }) === 1,
      "the CIE1 success from the decompressed body",
    );
  });
});
