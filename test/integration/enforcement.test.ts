/**
 * Enforcement at the edge, shared by every replica: three Gatehouse processes share a Redis the
 * test owns, in front of one app. Clients are told apart by their real source address (sockets
 * bound to 127.0.0.x), and IPv6 clients through a trusted proxy's X-Forwarded-For.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import { postEvents } from "../helpers/events.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = `
detectionPoints:
  IE1: { threshold: { count: 2, within: 10m }, per: ip, responses: [block-ip] }
  AE2: { threshold: { count: 1, within: 10m }, per: ip, responses: [block-range] }
  IE3: { threshold: { count: 1, within: 10m }, per: user, responses: [block-user] }
  SE1: { threshold: { count: 1, within: 10m }, per: session, responses: [logout] }
  ACE3: { threshold: { count: 1, within: 10m }, per: ip, responses: [disable-upload] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
  block-range: { action: block, scope: range, prefix: { ipv4: 24, ipv6: 64 }, duration: 1h }
  block-user: { action: block, scope: user, duration: 1h }
  logout: { action: logout }
  disable-upload: { action: disable, scope: ip, routes: ["POST /upload"], status: 503, duration: 10m }
`;

const NDJSON = "application/x-ndjson";
const event = (fields: Record<string, string>) => JSON.stringify(fields);

describe("enforcement across replicas", { timeout: 120_000 }, () => {
  let policy: string;
  let redis: RedisServer;
  let app: FakeApp;
  let replicas: GatehouseProcess[] = [];
  const clients: Client[] = [];

  /** A client of replica `r` from source address `ip` (127.0.0.x). */
  function from(ip: string, r: GatehouseProcess): Client {
    const c = client(r.proxyUrl, { localAddress: ip });
    clients.push(c);
    return c;
  }

  before(async () => {
    policy = policyFile(POLICY);
    redis = await startRedis();
    app = await fakeApp(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://app");
      if (url.pathname === "/login") {
        // A successful login: the app names the user and issues a session.
        res.writeHead(200, {
          "gatehouse-user": url.searchParams.get("user") ?? "",
          "set-cookie": "sid=fresh; Path=/",
        });
        res.end("welcome");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          path: url.pathname,
          cookie: req.headers.cookie ?? null,
          posture: req.headers["gatehouse-posture"] ?? null,
          user: req.headers["gatehouse-user"] ?? null,
        }),
      );
    });
    replicas = await Promise.all(
      [0, 1, 2].map(() =>
        startGatehouse({
          upstream: app.upstream,
          args: [
            "--policy",
            policy,
            "--redis",
            redis.url,
            "--app",
            "enforce-test",
            "--identity-hash-key",
            "shared-key-for-all-replicas",
          ],
        }),
      ),
    );
    for (const g of replicas) await storeUp(g);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(replicas.map((g) => g.kill()));
    await app?.close();
    await redis?.close();
  });

  async function storeUp(g: GatehouseProcess): Promise<void> {
    await waitFor(
      async () => {
        const body = (await (await fetch(`${g.adminUrl}/readyz`)).json()) as { status: string };
        return body.status === "ready" ? true : undefined;
      },
      `replica ${g.admin} ready with its store up`,
      15_000,
    );
  }

  async function eventually(c: Client, path: string, status: number, what: string, init = {}): Promise<void> {
    await waitFor(async () => ((await c.send(path, init)).status === status ? true : undefined), what, 5_000);
  }

  async function addDecision(g: GatehouseProcess, body: Record<string, unknown>): Promise<{ id: string }> {
    const res = await fetch(`${g.adminUrl}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as { id: string };
  }

  it("an attack crossing its threshold on replica A blocks the actor on B and C", async () => {
    const [a, b, c] = replicas as [GatehouseProcess, GatehouseProcess, GatehouseProcess];
    const ip = "127.0.0.11";
    assert.equal((await from(ip, b).send("/")).status, 200);
    const lines = [event({ detectionPoint: "IE1", ip }), event({ detectionPoint: "IE1", ip })].join("\n");
    assert.equal((await postEvents(a.eventsSocket, lines, NDJSON)).status, 202);
    for (const g of [a, b, c]) await eventually(from(ip, g), "/", 403, `the block on ${g.admin}`);
    const blocked = await from(ip, c).send("/");
    assert.equal(blocked.headers["content-type"], "application/problem+json");
    const body = JSON.parse(blocked.text) as { status: number; requestId: string };
    assert.equal(body.status, 403);
    assert.ok(body.requestId);
    assert.equal((await from("127.0.0.12", c).send("/")).status, 200, "another address is not blocked");
  });

  it("a manual decision on A is enforced on B and C; deleting it lifts it everywhere", async () => {
    const [a, b, c] = replicas as [GatehouseProcess, GatehouseProcess, GatehouseProcess];
    const ip = "127.0.0.21";
    const { id } = await addDecision(a, {
      action: "block",
      scope: "ip",
      value: ip,
      duration: "10m",
      reason: "test",
    });
    for (const g of [b, c]) await eventually(from(ip, g), "/", 403, `the manual block on ${g.admin}`);
    const del = await fetch(`${a.adminUrl}/v1/decisions/${id}`, { method: "DELETE" });
    assert.equal(del.status, 204);
    for (const g of [b, c]) await eventually(from(ip, g), "/", 200, `the block lifted on ${g.admin}`);
  });

  it("blocks an IPv4 range: every address of the /24, none outside", async () => {
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    await postEvents(a.eventsSocket, event({ detectionPoint: "AE2", ip: "127.0.5.9" }), NDJSON);
    await eventually(from("127.0.5.200", b), "/", 403, "the /24 block on another address of it");
    assert.equal((await from("127.0.6.1", b).send("/")).status, 200);
  });

  it("a blocked user cannot log in again from a fresh address and session: the app's answer is replaced", async () => {
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    await postEvents(
      a.eventsSocket,
      event({ detectionPoint: "IE3", user: "mallory", ip: "127.0.0.31" }),
      NDJSON,
    );
    const fresh = from("127.0.0.32", b);
    await eventually(fresh, "/login?user=mallory", 403, "mallory's login refused on B", { method: "POST" });
    const reply = await fresh.send("/login?user=mallory", { method: "POST" });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers["set-cookie"], undefined, "the app's new session never reaches mallory");
    assert.equal(reply.headers["gatehouse-user"], undefined);
    const other = await fresh.send("/login?user=alice", { method: "POST" });
    assert.equal(other.status, 200, "another user logs in from the same address");
  });

  it("logout strips the session cookie from the forwarded request and expires it on the response", async () => {
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    await postEvents(
      a.eventsSocket,
      event({ detectionPoint: "SE1", session: "stolen-session", ip: "127.0.0.41" }),
      NDJSON,
    );
    const c = from("127.0.0.42", b);
    const headers = { cookie: "theme=dark; sid=stolen-session" };
    await waitFor(
      async () => {
        const r = await c.send("/whoami", { headers });
        return (JSON.parse(r.text) as { cookie: string | null }).cookie === "theme=dark" ? r : undefined;
      },
      "the revoked session cookie stripped on B",
      5_000,
    );
    const reply = await c.send("/whoami", { headers });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.headers["set-cookie"], "sid=; Max-Age=0; Path=/");
    const untouched = await c.send("/whoami", { headers: { cookie: "sid=another-session" } });
    assert.equal((JSON.parse(untouched.text) as { cookie: string }).cookie, "sid=another-session");
  });

  it("a disabled route answers its status only for its scope", async () => {
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    await postEvents(a.eventsSocket, event({ detectionPoint: "ACE3", ip: "127.0.0.51" }), NDJSON);
    const actor = from("127.0.0.51", b);
    await eventually(actor, "/upload", 503, "the upload disabled for 127.0.0.51", { method: "POST" });
    assert.equal((await actor.send("/upload", { method: "GET" })).status, 200, "other methods pass");
    assert.equal((await actor.send("/")).status, 200, "other routes pass");
    assert.equal(
      (await from("127.0.0.52", b).send("/upload", { method: "POST" })).status,
      200,
      "other actors pass",
    );
  });

  it("a flag decision tells the app Gatehouse-Posture: elevated; tarpit delays", async () => {
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    await addDecision(a, { action: "flag", scope: "ip", value: "127.0.0.61", duration: "10m" });
    await addDecision(a, {
      action: "tarpit",
      scope: "ip",
      value: "127.0.0.61",
      duration: "10m",
      delay: "300ms",
    });
    const c = from("127.0.0.61", b);
    await waitFor(
      async () =>
        (JSON.parse((await c.send("/x")).text) as { posture: string | null }).posture ? true : undefined,
      "the flag on B",
      5_000,
    );
    const started = performance.now();
    const reply = await c.send("/x");
    assert.ok(performance.now() - started >= 290, "tarpitted for the decision's delay");
    assert.equal((JSON.parse(reply.text) as { posture: string }).posture, "elevated");
    const plain = JSON.parse(
      (await from("127.0.0.62", b).send("/x", { headers: { "gatehouse-posture": "elevated" } })).text,
    ) as {
      posture: string | null;
    };
    assert.equal(plain.posture, null, "a client cannot flag itself");
  });

  it("a throttle holds for an actor spread over 3 replicas together (rate ±20%)", async () => {
    const [a] = replicas as [GatehouseProcess];
    const ip = "127.0.0.71";
    const rate = 40; // per second
    await addDecision(a, { action: "throttle", scope: "ip", value: ip, duration: "10m", rate: `${rate}/s` });
    const cs = replicas.map((g) => from(ip, g));
    await waitFor(
      async () => {
        const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => cs[i % 3]!.send("/")));
        return rs.some((r) => r.status === 429) ? true : undefined;
      },
      "the throttle on all replicas",
      5_000,
    );
    // Start on a second boundary, then 3 seconds of requests spread round-robin, 10 at a time.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    const end = Date.now() + 3000;
    let admitted = 0;
    let refused = 0;
    let retryAfter: unknown;
    let n = 0;
    while (Date.now() < end) {
      const rs = await Promise.all(Array.from({ length: 10 }, () => cs[n++ % 3]!.send("/")));
      for (const r of rs) {
        if (r.status === 200) admitted++;
        else if (r.status === 429) {
          refused++;
          retryAfter = r.headers["retry-after"];
        } else assert.fail(`unexpected status ${r.status}`);
      }
    }
    const perSecond = admitted / 3;
    assert.ok(refused > 0, "the actor sent more than the rate");
    assert.ok(Number(retryAfter) >= 1, `Retry-After ${String(retryAfter)}`);
    assert.ok(
      perSecond >= rate * 0.8 && perSecond <= rate * 1.2,
      `admitted ${perSecond.toFixed(1)}/s across 3 replicas for a rate of ${rate}/s (${admitted} admitted, ${refused} refused)`,
    );
  });

  it("Redis stopped and restarted with traffic flowing: no request fails, nothing is forgotten, outage decisions spread after", async () => {
    const [a, b, c] = replicas as [GatehouseProcess, GatehouseProcess, GatehouseProcess];
    const blocked = "127.0.0.81";
    await addDecision(a, { action: "block", scope: "ip", value: blocked, duration: "10m" });
    for (const g of [b, c]) await eventually(from(blocked, g), "/", 403, `the block on ${g.admin}`);
    // Ordinary traffic all along, on every replica.
    const ordinary = replicas.map((g) => from("127.0.0.82", g));
    let traffic = true;
    const failures: string[] = [];
    let served = 0;
    const load = (async () => {
      while (traffic) {
        const rs = await Promise.all(
          ordinary.map((o) => o.send("/").catch((e: Error) => ({ status: -1, text: e.message }))),
        );
        for (const r of rs) {
          if (r.status === 200) served++;
          else failures.push(`${r.status} ${r.text.slice(0, 100)}`);
        }
      }
    })();

    await redis.stop();
    await waitFor(
      async () =>
        ((await (await fetch(`${b.adminUrl}/readyz`)).json()) as { status: string }).status === "degraded" ||
        undefined,
      "B degraded",
      10_000,
    );
    assert.equal(
      (await from(blocked, b).send("/")).status,
      403,
      "the block is still enforced during the outage",
    );
    const during = "127.0.0.83";
    await addDecision(a, { action: "block", scope: "ip", value: during, duration: "10m" });
    assert.equal(
      (await from(during, a).send("/")).status,
      403,
      "a decision made during the outage applies on A at once",
    );

    await redis.start();
    for (const g of [b, c])
      await eventually(from(during, g), "/", 403, `the outage decision reaching ${g.admin}`);
    assert.equal((await from(blocked, c).send("/")).status, 403, "the earlier block is not forgotten");
    traffic = false;
    await load;
    assert.deepEqual(failures, [], "no ordinary request failed because of the outage");
    assert.ok(served > 0);
  });
});

describe("spoofing", { timeout: 60_000 }, () => {
  let policy: string;
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  const clients: Client[] = [];

  before(async () => {
    policy = policyFile(POLICY);
    app = await fakeApp((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          user: req.headers["gatehouse-user"] ?? null,
          posture: req.headers["gatehouse-posture"] ?? null,
        }),
      );
    });
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policy],
    });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gatehouse?.kill();
    await app?.close();
  });

  const from = (ip: string) => {
    const c = client(gatehouse.proxyUrl, { localAddress: ip });
    clients.push(c);
    return c;
  };

  it("without trusted proxies, X-Forwarded-For neither dodges an IP block nor gets another address blocked", async () => {
    const res = await fetch(`${gatehouse.adminUrl}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "block", scope: "ip", value: "127.0.0.91", duration: "10m" }),
    });
    assert.equal(res.status, 201);
    const attacker = from("127.0.0.91");
    assert.equal((await attacker.send("/", { headers: { "x-forwarded-for": "198.51.100.1" } })).status, 403);
    assert.equal((await attacker.send("/", { headers: { forwarded: "for=198.51.100.1" } })).status, 403);
    // An innocent client claiming to be the blocked address is not blocked.
    assert.equal(
      (await from("127.0.0.92").send("/", { headers: { "x-forwarded-for": "127.0.0.91" } })).status,
      200,
    );
  });

  it("a client cannot send Gatehouse-User or Gatehouse-Posture to the app", async () => {
    const reply = await from("127.0.0.93").send("/", {
      headers: { "gatehouse-user": "admin", "gatehouse-posture": "normal" },
    });
    assert.deepEqual(JSON.parse(reply.text), { user: null, posture: null });
  });
});

describe("behind a trusted proxy: IPv6 clients and ranges", { timeout: 60_000 }, () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let proxy: Client;

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--trusted-proxies", "127.0.0.1/32"],
    });
    proxy = client(gatehouse.proxyUrl, { localAddress: "127.0.0.1" });
  });

  after(async () => {
    await proxy?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  const as = (ip: string) => proxy.send("/", { headers: { "x-forwarded-for": ip } });

  it("blocks every address of an IPv6 /64 and an IPv4 /16, and nothing outside them", async () => {
    for (const value of ["2001:db8:1:2::/64", "198.51.0.0/16"]) {
      const res = await fetch(`${gatehouse.adminUrl}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: "block", scope: "range", value, duration: "10m" }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    await waitFor(
      async () => ((await as("2001:db8:1:2::99")).status === 403 ? true : undefined),
      "the /64 block",
      5_000,
    );
    assert.equal((await as("2001:db8:1:2:ffff:ffff:ffff:ffff")).status, 403);
    assert.equal((await as("2001:db8:1:3::1")).status, 200);
    assert.equal((await as("198.51.200.7")).status, 403);
    assert.equal((await as("::ffff:198.51.3.4")).status, 403, "IPv4-mapped IPv6 is the IPv4 address");
    assert.equal((await as("198.52.0.1")).status, 200);
  });
});

describe("store.failMode and the logout callback", { timeout: 60_000 }, () => {
  let policy: string;
  let redis: RedisServer;
  let app: FakeApp;
  let callbacks: FakeApp;
  const received: string[] = [];
  let gatehouse: GatehouseProcess | undefined;

  before(async () => {
    policy = policyFile(POLICY);
    redis = await startRedis();
    await redis.stop();
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    let failFirst = true;
    callbacks = await fakeApp(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      // The first call fails: the callback is retried.
      if (failFirst) {
        failFirst = false;
        res.writeHead(503);
        res.end();
        return;
      }
      received.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(204);
      res.end();
    });
  });

  after(async () => {
    await gatehouse?.kill();
    await app?.close();
    await callbacks?.close();
    await redis?.close();
  });

  it("closed: a replica that never loaded the shared decisions answers 503, then serves once they load", async () => {
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: [
        "--policy",
        policy,
        "--redis",
        redis.url,
        "--store-fail-mode",
        "closed",
        "--logout-callback",
        `${callbacks.upstream}/gatehouse/logout`,
      ],
    });
    const c = client(gatehouse.proxyUrl);
    try {
      const refused = await c.send("/");
      assert.equal(refused.status, 503);
      assert.match(refused.text, /fail closed/);
      await redis.start();
      await waitFor(
        async () => ((await c.send("/")).status === 200 ? true : undefined),
        "served once loaded",
        15_000,
      );
    } finally {
      await c.close();
    }
  });

  it("a logout calls the app back, retrying a failed call, with the session hash and the user", async () => {
    assert.ok(gatehouse);
    await postEvents(
      gatehouse.eventsSocket,
      event({ detectionPoint: "SE1", session: "hijacked", user: "carol", ip: "127.0.0.99" }),
      NDJSON,
    );
    await waitFor(() => (received.length > 0 ? true : undefined), "the logout callback", 10_000);
    const body = JSON.parse(received[0]!) as { session: string; user: string; decision: { action: string } };
    assert.equal(body.user, "carol");
    assert.equal(body.decision.action, "logout");
    assert.ok(
      body.session.length > 0 && body.session !== "hijacked",
      "the session is named by its hash only",
    );
  });
});
