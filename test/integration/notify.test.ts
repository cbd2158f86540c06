/**
 * Notification end to end: a real Gatehouse, the app reporting through its response header, and
 * a real local HTTP receiver as the webhook. A breach pages exactly once per incident (retried
 * when the receiver fails, once across two replicas sharing one Redis), a receiver that stays
 * down costs a bounded queue and is counted without slowing requests, and attempts arrive as a
 * digest after its interval, never as pages.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { client } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { metric, metricSum } from "../helpers/prometheus.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

interface Receiver {
  url: string;
  bodies: Record<string, unknown>[];
  /** Answer 500 to this many more requests. */
  failNext: number;
  /** Never answer (a receiver that hangs). */
  hang: boolean;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: "", bodies: [], failNext: 0, hang: false, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (r.hang) return;
      if (r.failNext > 0) {
        r.failNext--;
        res.writeHead(500).end();
        return;
      }
      r.bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`;
  r.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return r;
}

/** The app: `/honey` reports a honeytoken login (outcome success), `/probe` an ACE3 attempt. */
async function app(): Promise<FakeApp> {
  return fakeApp((req, res) => {
    if (req.url?.startsWith("/honey"))
      res.setHeader("gatehouse-event", 'HT1;outcome=success;detail="decoy account used"');
    if (req.url?.startsWith("/probe")) res.setHeader("gatehouse-event", "ACE3");
    res.end("ok");
  });
}

function policy(webhook: string, channel: string): string {
  return policyFile(`
detectionPoints:
  ACE3: { threshold: { count: 1, within: 1m }, per: ip, responses: [log] }
responses:
  log: { action: log }
  page-ops: { action: notify, channel: ops }
breach:
  responses: [page-ops]
notify:
  ops: { webhook: "${webhook}", format: json, ${channel} }
`);
}

const breaches = (r: Receiver) => r.bodies.filter((b) => b.kind === "breach");
const digests = (r: Receiver) => r.bodies.filter((b) => b.kind === "digest");

describe("notification", { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** The app and a Gatehouse in front of it with these flags; both are closed after the test, with the receiver. */
  async function gatehouseFor(hook: Receiver, args: string[]) {
    const upstream = await app();
    const g = await startGatehouse({ upstream: upstream.upstream, args });
    cleanups.push(
      () => hook.close(),
      () => upstream.close(),
      () => g.kill(),
    );
    const c = client(g.proxyUrl);
    cleanups.push(() => c.close());
    return { g, c };
  }

  it("pages once per breach incident, after retrying a failing receiver, with the incident's evidence", async () => {
    const hook = await receiver();
    hook.failNext = 2;
    const { g, c } = await gatehouseFor(hook, [
      "--policy",
      policy(hook.url, "digest: off, retries: 3, timeout: 2s"),
    ]);
    // Two success events from one actor: one incident, one page.
    assert.equal((await c.send("/honey")).status, 200);
    assert.equal((await c.send("/honey?again")).status, 200);
    const [page] = await waitFor(() => breaches(hook).length > 0 && breaches(hook), "the page", 15_000);
    const incident = page!.incident as Record<string, unknown>;
    assert.equal(incident.outcome, "success");
    assert.deepEqual(incident.detectionPoints, ["HT1"]);
    assert.deepEqual((incident.evidence as { kind: string; detail: string }[])[0]?.kind, "app");
    assert.equal((incident.evidence as { detail: string }[])[0]?.detail, "decoy account used");
    assert.deepEqual(incident.actor, { ip: "127.0.0.1", range: "127.0.0.0/24" });
    await sleep(1500);
    assert.equal(breaches(hook).length, 1, "exactly one page for the incident");
    const text = await g.metrics();
    assert.equal(
      metric(text, "gatehouse_notify_failures_total", { channel: "ops", reason: "http_status" }),
      2,
    );
    assert.equal(metric(text, "gatehouse_notifications_total", { channel: "ops", kind: "breach" }), 1);
    assert.equal(metric(text, "gatehouse_breaches_total"), 1, "the metric agrees with the pages");
    const listed = (await (await fetch(`${g.adminUrl}/v1/incidents?outcome=success`)).json()) as {
      incidents: { id: string }[];
    };
    assert.deepEqual(
      listed.incidents.map((i) => i.id),
      [incident.id],
      "and with the incidents API",
    );
    const logged = JSON.stringify(g.logs);
    assert.ok(
      !logged.includes("s3cret") && !logged.includes("/hook"),
      "the webhook's secrets are never logged",
    );
  });

  it("a receiver that stays down costs a bounded queue, counted, and never slows requests", async () => {
    const hook = await receiver();
    hook.hang = true;
    const { g, c } = await gatehouseFor(hook, [
      "--trusted-proxies",
      "127.0.0.1/32",
      "--policy",
      policy(hook.url, "digest: off, retries: 0, timeout: 1s, rateLimit: 1000/s"),
    ]);
    // 130 breach incidents (one address each): more than the queue holds.
    const replies = await Promise.all(
      Array.from({ length: 130 }, (_, i) =>
        c.send("/honey", { headers: { "x-forwarded-for": `198.51.${100 + (i >> 8)}.${i & 255}` } }),
      ),
    );
    assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
    const dropped = await waitFor(
      async () =>
        metric(await g.metrics(), "gatehouse_notify_failures_total", {
          channel: "ops",
          reason: "queue_full",
        }),
      "dropped pages to be counted",
      15_000,
    );
    assert.ok(dropped >= 20, `dropped ${dropped}`);
    const text = await g.metrics();
    assert.equal(metric(text, "gatehouse_breaches_total"), 130, "every breach incident is still counted");
    const started = performance.now();
    assert.equal((await c.send("/plain")).status, 200);
    assert.ok(performance.now() - started < 1000, "requests do not wait on the webhook");
    assert.ok(g.alive());
  });

  it("attempts arrive as one digest after its interval, and nothing is sent when there is nothing to report", async () => {
    const hook = await receiver();
    const { c } = await gatehouseFor(hook, ["--policy", policy(hook.url, "digest: 1s")]);
    for (let i = 0; i < 5; i++) assert.equal((await c.send(`/probe/${i}`)).status, 200);
    const [digest] = await waitFor(() => digests(hook).length > 0 && digests(hook), "the digest", 10_000);
    assert.equal(digest!.incidents, 1, "five attacks of one actor are one incident");
    assert.deepEqual(digest!.outcomes, { attempt: 1, blocked: 0 });
    assert.deepEqual(digest!.detectionPoints, [{ detectionPoint: "ACE3", attempt: 1, blocked: 0 }]);
    assert.equal((digest!.incidentIds as string[]).length, 1);
    assert.deepEqual(breaches(hook), [], "attempts never page");
    // Two more intervals with nothing new: no empty digest.
    const seen = hook.bodies.length;
    await sleep(3000);
    assert.ok(
      hook.bodies.length <= seen + 1,
      "at most the interval the attempts straddled is summarised again",
    );
    const last = hook.bodies.length;
    await sleep(2500);
    assert.equal(hook.bodies.length, last, "nothing to report: nothing sent");
  });
});

describe("two replicas sharing one Redis", { timeout: 120_000 }, () => {
  let redis: RedisServer;
  after(async () => {
    await redis?.close();
  });

  it("page a breach once between them, and agree with the metric and the API", async () => {
    redis = await startRedis();
    const hook = await receiver();
    const upstream = await app();
    const file = policy(hook.url, "digest: off");
    const replicas: GatehouseProcess[] = await Promise.all(
      [0, 1].map(() =>
        startGatehouse({
          upstream: upstream.upstream,
          args: ["--policy", file, "--redis", redis.url, "--app", "notify-test"],
        }),
      ),
    );
    try {
      for (const g of replicas)
        await waitFor(
          async () =>
            ((await (await fetch(`${g.adminUrl}/readyz`)).json()) as { status: string }).status === "ready",
          "the replica to be ready with Redis",
          10_000,
        );
      const clients = replicas.map((g) => client(g.proxyUrl));
      // Success events of one actor on both replicas at once.
      const replies = await Promise.all([0, 1, 0, 1].map((i, n) => clients[i]!.send(`/honey?n=${n}`)));
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
      await waitFor(() => breaches(hook).length > 0, "the page", 10_000);
      await sleep(1500);
      assert.equal(breaches(hook).length, 1, "one page for the incident, not one per replica");
      const texts = await Promise.all(replicas.map((g) => g.metrics()));
      assert.equal(
        texts.reduce((sum, t) => sum + metricSum(t, "gatehouse_breaches_total"), 0),
        1,
        "one breach counted between them",
      );
      for (const g of replicas) {
        const listed = (await (await fetch(`${g.adminUrl}/v1/incidents`)).json()) as {
          incidents: { id: string; outcome: string; events: number }[];
        };
        assert.equal(listed.incidents.length, 1);
        assert.equal(listed.incidents[0]?.id, (breaches(hook)[0]!.incident as { id: string }).id);
        assert.equal(listed.incidents[0]?.events, 4);
      }
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await Promise.all(replicas.map((g) => g.kill()));
      await hook.close();
      await upstream.close();
    }
  });
});
