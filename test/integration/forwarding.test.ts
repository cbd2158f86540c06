/**
 * The basic promise of a reverse proxy: requests and responses, bodies included, pass through
 * unchanged and stream instead of being buffered.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import { type FakeApp, fakeApp, readBody, tempSocketPath } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { deferred, within } from "../helpers/wait.ts";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

describe("forwarding requests and responses", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let http: Client;
  let firstChunkSeen = deferred();

  before(async () => {
    app = await fakeApp(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://app");
      switch (url.pathname) {
        case "/echo": {
          const body = await readBody(req);
          res.writeHead(201, { "content-type": "application/json", "x-app": "echo" });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              length: body.length,
              sha256: sha256(body),
              transferEncoding: req.headers["transfer-encoding"] ?? null,
              contentLength: req.headers["content-length"] ?? null,
            }),
          );
          return;
        }
        case "/chunks":
          res.writeHead(200, { "content-type": "text/plain" });
          for (const part of ["alpha,", "beta,", "gamma"]) res.write(part);
          res.end();
          return;
        case "/progressive":
          res.writeHead(200, { "content-type": "text/plain" });
          res.write("first;");
          // The app ends only once the client has the first chunk: a proxy that buffered the
          // response would never deliver it, and the test would fail on its safety timeout.
          await within(firstChunkSeen.promise, 5000, "the client to see the first chunk");
          res.end("last");
          return;
        case "/no-content":
          res.writeHead(204, { "x-app": "empty" });
          res.end();
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
    gatehouse = await startGatehouse({ upstream: app.upstream });
    http = client(gatehouse.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  it("GET reaches the app with its path and query; status, headers and body come back", async () => {
    const reply = await http.send("/echo?q=1&r=%2F", { method: "GET" });
    assert.equal(reply.status, 201);
    assert.equal(reply.headers["x-app"], "echo");
    assert.equal(reply.headers["content-type"], "application/json");
    const seen = JSON.parse(reply.text);
    assert.equal(seen.method, "GET");
    assert.equal(seen.url, "/echo?q=1&r=%2F");
    assert.equal(seen.length, 0);
  });

  for (const method of ["POST", "PUT"] as const) {
    it(`${method} with a Content-Length body reaches the app byte for byte`, async () => {
      const body = Buffer.alloc(300_000, `${method} body `);
      const reply = await http.send("/echo", {
        method,
        body,
        headers: { "content-type": "application/octet-stream" },
      });
      assert.equal(reply.status, 201);
      const seen = JSON.parse(reply.text);
      assert.equal(seen.method, method);
      assert.equal(seen.length, body.length);
      assert.equal(seen.sha256, sha256(body));
      assert.equal(seen.contentLength, String(body.length));
    });
  }

  it("a chunked request body streams to the app unchanged", async () => {
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`part ${i} `.repeat(100)));
    async function* chunks() {
      for (const part of parts) yield part;
    }
    const reply = await http.send("/echo", { method: "POST", body: Readable.from(chunks()) });
    assert.equal(reply.status, 201);
    const seen = JSON.parse(reply.text);
    assert.equal(seen.transferEncoding, "chunked", "no length is known, so the app gets it chunked");
    assert.equal(seen.length, Buffer.concat(parts).length);
    assert.equal(seen.sha256, sha256(Buffer.concat(parts)));
  });

  it("a chunked response from the app reaches the client whole", async () => {
    const reply = await http.send("/chunks");
    assert.equal(reply.status, 200);
    assert.equal(reply.headers["transfer-encoding"], "chunked");
    assert.equal(reply.text, "alpha,beta,gamma");
  });

  it("a streamed response arrives progressively: the first chunk before the app ends it", async () => {
    firstChunkSeen = deferred();
    const res = await http.open("/progressive");
    assert.equal(res.statusCode, 200);
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await within(iterator.next(), 5000, "the first chunk");
    assert.equal(Buffer.from(first.value).toString(), "first;");
    firstChunkSeen.resolve();
    let rest = "";
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      rest += Buffer.from(next.value).toString();
    }
    assert.equal(rest, "last");
  });

  it("responses without a body (204, HEAD) pass through", async () => {
    const empty = await http.send("/no-content", { method: "DELETE" });
    assert.equal(empty.status, 204);
    assert.equal(empty.headers["x-app"], "empty");
    assert.equal(empty.body.length, 0);
    const head = await http.send("/echo", { method: "HEAD" });
    assert.equal(head.status, 201);
    assert.equal(head.body.length, 0);
  });
});

describe("an app on a Unix socket", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let http: Client;

  before(async () => {
    app = await fakeApp(
      async (req, res) => {
        const body = await readBody(req);
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`${req.method} ${req.url} ${body.toString()}`);
      },
      { socketPath: tempSocketPath("app") },
    );
    gatehouse = await startGatehouse({ upstream: app.upstream });
    http = client(gatehouse.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  it("receives requests forwarded over the socket (--upstream unix:/path.sock)", async () => {
    const reply = await http.send("/over/unix?x=1", { method: "POST", body: "hello" });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, "POST /over/unix?x=1 hello");
    assert.equal(app.requests[0]?.headers["x-forwarded-for"], "127.0.0.1");
  });
});
