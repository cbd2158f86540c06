/**
 * The admin API an orchestrator and a Prometheus server rely on (DESIGN section 7): liveness,
 * readiness that follows the app, and request metrics that count what actually happened.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import { closedPort, type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";

describe("admin API with the app up", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let proxy: Client;
  let admin: Client;

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
    gatehouse = await startGatehouse({ upstream: app.upstream });
    proxy = client(gatehouse.proxyUrl);
    admin = client(gatehouse.adminUrl);
  });

  after(async () => {
    await proxy?.close();
    await admin?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  it("/healthz answers 200", async () => {
    const reply = await admin.send("/healthz");
    assert.equal(reply.status, 200);
  });

  it("/readyz answers 200 with a JSON check for the proxy, the app and the store", async () => {
    const reply = await admin.send("/readyz");
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers["content-type"]), /^application\/json/);
    const body = JSON.parse(reply.text);
    assert.equal(body.status, "ready");
    assert.equal(body.checks.proxy.status, "up");
    assert.equal(body.checks.upstream.status, "up");
    assert.equal(body.checks.upstream.target, app.upstream);
    assert.ok(body.checks.store, "the store is reported");
  });

  it("/metrics counts forwarded requests and their upstream durations", async () => {
    const REQUESTS = 7;
    const before = await admin.send("/metrics");
    const forwardedBefore = metric(before.text, "gatehouse_requests_total", { outcome: "forwarded" }) ?? 0;
    const observedBefore = metric(before.text, "gatehouse_upstream_duration_seconds_count") ?? 0;
    for (let i = 0; i < REQUESTS; i++) assert.equal((await proxy.send(`/counted/${i}`)).status, 200);

    const after = await admin.send("/metrics");
    assert.equal(after.status, 200);
    assert.match(String(after.headers["content-type"]), /^text\/plain/);
    assert.equal(
      metric(after.text, "gatehouse_requests_total", { outcome: "forwarded" }),
      forwardedBefore + REQUESTS,
    );
    assert.equal(metric(after.text, "gatehouse_upstream_duration_seconds_count"), observedBefore + REQUESTS);
    assert.equal(
      metric(after.text, "gatehouse_upstream_duration_seconds_bucket", { le: "+Inf" }),
      observedBefore + REQUESTS,
    );
    assert.ok((metric(after.text, "gatehouse_upstream_duration_seconds_sum") ?? 0) > 0);
    assert.match(after.text, /^# TYPE gatehouse_upstream_duration_seconds histogram$/m);
  });
});

describe("admin API with the app down", () => {
  let gatehouse: GatehouseProcess;
  let admin: Client;

  before(async () => {
    gatehouse = await startGatehouse({ upstream: `http://127.0.0.1:${await closedPort()}` });
    admin = client(gatehouse.adminUrl);
  });

  after(async () => {
    await admin?.close();
    await gatehouse?.kill();
  });

  it("/healthz still answers 200: Gatehouse itself is alive", async () => {
    assert.equal((await admin.send("/healthz")).status, 200);
  });

  it("/readyz answers 503 and says the app is down", async () => {
    const reply = await admin.send("/readyz");
    assert.equal(reply.status, 503);
    const body = JSON.parse(reply.text);
    assert.equal(body.status, "not_ready");
    assert.equal(body.checks.upstream.status, "down");
    assert.equal(body.checks.proxy.status, "up");
  });
});
