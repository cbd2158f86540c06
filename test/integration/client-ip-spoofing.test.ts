/**
 * Who the client is (DESIGN section 2). A client cannot name its own address or request id: without
 * trusted proxies the socket peer is the client and forwarding headers are replaced. Behind a
 * trusted proxy the chain is walked right to left, so a forged left-most entry is never believed.
 * The client IP Gatehouse settled on is read from its per-request debug log line.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import { type FakeApp, fakeApp, type ReceivedRequest } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";

/** Request ids Gatehouse makes: a per-process random prefix and a counter (src/events/correlation.ts). */
const REQUEST_ID = /^[0-9a-f]{16}-[0-9a-z]+$/;

describe("client identity", () => {
  let app: FakeApp;
  let direct: GatehouseProcess;
  let behindProxy: GatehouseProcess;
  let toDirect: Client;
  let toBehindProxy: Client;

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
    direct = await startGatehouse({ upstream: app.upstream, logLevel: "debug" });
    behindProxy = await startGatehouse({
      upstream: app.upstream,
      logLevel: "debug",
      args: ["--trusted-proxies", "127.0.0.1/32"],
    });
    toDirect = client(direct.proxyUrl);
    toBehindProxy = client(behindProxy.proxyUrl);
  });

  after(async () => {
    await toDirect?.close();
    await toBehindProxy?.close();
    await direct?.kill();
    await behindProxy?.kill();
    await app?.close();
  });

  /** Send `headers` to `path`; what the app received and the client IP Gatehouse logged. */
  async function identify(
    gatehouse: GatehouseProcess,
    http: Client,
    path: string,
    headers: Record<string, string>,
  ): Promise<{ seen: ReceivedRequest; ip: unknown }> {
    const reply = await http.send(path, { headers });
    assert.equal(reply.status, 200);
    const seen = app.requests.findLast((r) => r.url === path);
    assert.ok(seen, `the app received ${path}`);
    const id = seen.headers["x-request-id"];
    const line = await gatehouse.waitForLog(
      (l) => l.msg === "request" && l.requestId === id,
      `the request log line of ${path}`,
    );
    return { seen, ip: line.ip };
  }

  it("forged X-Forwarded-For, Forwarded and X-Request-Id from an untrusted client are ignored", async () => {
    const { seen, ip } = await identify(direct, toDirect, "/untrusted", {
      "x-forwarded-for": "6.6.6.6",
      forwarded: "for=6.6.6.6;proto=https",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example",
      "x-request-id": "chosen-by-client",
    });
    assert.equal(ip, "127.0.0.1", "the client is its socket address");
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1", "the app sees only the socket address");
    assert.equal(seen.headers.forwarded, undefined);
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.equal(seen.headers["x-forwarded-host"], direct.proxy);
    assert.match(String(seen.headers["x-request-id"]), REQUEST_ID);
  });

  it("behind a trusted proxy the client is the right-most untrusted X-Forwarded-For entry", async () => {
    const { seen, ip } = await identify(behindProxy, toBehindProxy, "/trusted-chain", {
      "x-forwarded-for": "6.6.6.6, 198.51.100.9",
    });
    assert.equal(ip, "198.51.100.9", "the forged left-most 6.6.6.6 is not believed");
    assert.equal(seen.headers["x-forwarded-for"], "6.6.6.6, 198.51.100.9, 127.0.0.1", "the peer is appended");
  });

  it("trusted hops are skipped right to left", async () => {
    const { seen, ip } = await identify(behindProxy, toBehindProxy, "/trusted-hops", {
      "x-forwarded-for": "203.0.113.7, 127.0.0.1",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "shop.example",
    });
    assert.equal(ip, "203.0.113.7");
    assert.equal(seen.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1, 127.0.0.1");
    assert.equal(seen.headers["x-forwarded-proto"], "https", "a trusted proxy's scheme is kept");
    assert.equal(seen.headers["x-forwarded-host"], "shop.example");
  });

  it("a trusted proxy's Forwarded header (RFC 7239) names the client", async () => {
    const { seen, ip } = await identify(behindProxy, toBehindProxy, "/trusted-forwarded", {
      forwarded: "for=198.51.100.20;proto=https",
    });
    assert.equal(ip, "198.51.100.20");
    assert.equal(seen.headers.forwarded, "for=198.51.100.20;proto=https");
  });

  it("a trusted proxy's X-Request-Id is kept", async () => {
    const { seen } = await identify(behindProxy, toBehindProxy, "/trusted-request-id", {
      "x-request-id": "edge-7f3a",
    });
    assert.equal(seen.headers["x-request-id"], "edge-7f3a");
  });
});
