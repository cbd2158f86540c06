/**
 * Security regressions: ways around a decision that a review found, each pinned by the real
 * process. A revoked session must stay revoked whichever credential the app reads; a disabled
 * route must stay disabled however its path is spelled; a WebSocket upgrade gets what a request
 * gets; an app timestamp cannot expire a block at birth.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { type Client, client, rawExchange } from "../helpers/client.ts";
import { postEvents } from "../helpers/events.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { deferred, waitFor, within } from "../helpers/wait.ts";

const POLICY = `
detectionPoints:
  SE1: { threshold: { count: 1, within: 10m }, per: session, responses: [logout] }
  IE1: { threshold: { count: 2, within: 10m }, per: ip, responses: [block-ip] }
  UT1: { threshold: { count: 1, within: 10m }, per: ip, responses: [flag-ip] }
responses:
  logout: { action: logout }
  block-ip: { action: block, scope: ip, duration: 15m }
  flag-ip: { action: flag, scope: ip, duration: 15m }
`;

describe("ways around a decision", { timeout: 60_000 }, () => {
  let policy: string;
  let app: FakeApp;
  let wss: WebSocketServer;
  let gatehouse: GatehouseProcess;
  const upgrades: Record<string, string | string[] | undefined>[] = [];
  const clients: Client[] = [];

  before(async () => {
    policy = policyFile(POLICY);
    app = await fakeApp((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          cookie: req.headers.cookie ?? null,
          authorization: req.headers.authorization ?? null,
        }),
      );
    });
    wss = new WebSocketServer({ server: app.server });
    wss.on("connection", (socket, req) => {
      upgrades.push(req.headers);
      socket.close();
    });
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policy],
    });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const socket of wss?.clients ?? []) socket.terminate();
    wss?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  const from = (ip: string) => {
    const c = client(gatehouse.proxyUrl, { localAddress: ip });
    clients.push(c);
    return c;
  };

  async function revoke(session: string): Promise<void> {
    const before = gatehouse.logs.filter((l) => l.msg === "decision").length;
    await postEvents(gatehouse.eventsSocket, JSON.stringify({ detectionPoint: "SE1", session }));
    await waitFor(
      () => (gatehouse.logs.filter((l) => l.msg === "decision").length > before ? true : undefined),
      "the logout",
    );
  }

  it("a revoked session cookie is stripped even behind another session cookie name the app does not read", async () => {
    await revoke("REVOKED-1");
    const reply = await from("127.0.1.1").send("/", {
      headers: { cookie: "sid=junk; connect.sid=REVOKED-1; theme=dark" },
    });
    assert.equal((JSON.parse(reply.text) as { cookie: string }).cookie, "sid=junk; theme=dark");
    assert.deepEqual(reply.headers["set-cookie"], "connect.sid=; Max-Age=0; Path=/");
  });

  it("a revoked session is stripped when it is the second of two cookies of the same name", async () => {
    await revoke("REVOKED-2");
    const reply = await from("127.0.1.2").send("/", { headers: { cookie: "sid=junk; sid=REVOKED-2" } });
    assert.equal((JSON.parse(reply.text) as { cookie: string | null }).cookie, null);
  });

  it("a revoked bearer token is not forwarded even when the request also carries a session cookie", async () => {
    await revoke("TOKEN-3");
    const reply = await from("127.0.1.3").send("/", {
      headers: { cookie: "sid=junk", authorization: "Bearer TOKEN-3" },
    });
    assert.equal((JSON.parse(reply.text) as { authorization: string | null }).authorization, null);
  });

  it("a disabled route stays disabled however its path is spelled, and HEAD counts as GET", async () => {
    const res = await fetch(`${gatehouse.adminUrl}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        action: "disable",
        scope: "global",
        routes: ["POST /vault/*", "GET /secret"],
        duration: "10m",
      }),
    });
    assert.equal(res.status, 201, await res.text());
    const c = from("127.0.1.4");
    await waitFor(
      async () => ((await c.send("/vault/a", { method: "POST" })).status === 503 ? true : undefined),
      "the disable",
    );
    for (const path of ["/VAULT/a", "/vault/a/", "/vault//a", "/vault;jsessionid=1/a", "/%76ault/a"]) {
      assert.equal((await c.send(path, { method: "POST" })).status, 503, `POST ${path}`);
    }
    assert.equal((await c.send("/secret/", { method: "HEAD" })).status, 503, "HEAD /secret/");
    // Spellings an HTTP client library would clean up before sending: sent as raw bytes.
    for (const target of ["//vault/a", "/x/../vault/a", "/vault/./a"]) {
      const raw = await rawExchange(
        gatehouse.proxy,
        `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(raw.status, 503, `raw POST ${target}`);
    }
    assert.equal(
      (await c.send("/vault/a/b", { method: "POST" })).status,
      200,
      "one segment only, as written",
    );
    assert.equal((await c.send("/vaults/a", { method: "POST" })).status, 200);
  });

  it("a WebSocket upgrade of a revoked session goes without it; a flagged client's upgrade says so", async () => {
    await revoke("REVOKED-5");
    await postEvents(gatehouse.eventsSocket, JSON.stringify({ detectionPoint: "UT1", ip: "127.0.0.1" }));
    await waitFor(
      () =>
        gatehouse.logs.some((l) => l.msg === "decision" && JSON.stringify(l).includes('"flag"'))
          ? true
          : undefined,
      "the flag",
    );
    const ws = new WebSocket(`ws://${gatehouse.proxy}/ws`, {
      headers: { cookie: "sid=REVOKED-5; lang=en" },
    } as never);
    const closed = deferred();
    ws.addEventListener("close", () => closed.resolve());
    ws.addEventListener("error", () => closed.resolve());
    await within(closed.promise, 5_000, "the WebSocket to open and close");
    const seen = upgrades.at(-1)!;
    assert.equal(seen.cookie, "lang=en");
    assert.equal(seen["gatehouse-posture"], "elevated");
  });

  it("events with an old timestamp still make a block that lasts its duration from now", async () => {
    const ip = "127.0.1.6";
    const old = Date.now() - 2 * 3_600_000;
    const lines = [0, 1]
      .map((i) =>
        JSON.stringify({ detectionPoint: "IE1", ip, timestamp: new Date(old + i * 1000).toISOString() }),
      )
      .join("\n");
    assert.equal((await postEvents(gatehouse.eventsSocket, lines, "application/x-ndjson")).status, 202);
    await waitFor(
      async () => ((await from(ip).send("/")).status === 403 ? true : undefined),
      "the block",
      5_000,
    );
  });
});
