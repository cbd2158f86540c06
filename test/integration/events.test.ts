/**
 * Detection events end to end: a real app reporting through response headers and the Unix
 * socket, a real Gatehouse process correlating them to requests, counted in /metrics.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "../../src/client/index.ts";
import { client } from "../helpers/client.ts";
import { eventsSocketPath, postEvents, socketRequest } from "../helpers/events.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import {
  type GatehouseProcess,
  runGatehouse,
  SERVE_ON_FREE_PORTS,
  startGatehouse,
} from "../helpers/gatehouse.ts";
import { metric, metricSum } from "../helpers/prometheus.ts";
import { waitFor } from "../helpers/wait.ts";

type Detection = Record<string, unknown> & { actor: { ip: string; session: string; user: string | null } };

function detections(gh: GatehouseProcess): Detection[] {
  return gh.logs.filter((l) => l.msg === "detection event") as unknown as Detection[];
}

describe("detection events", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  let socket: string;
  // What the app should add to its next response, per path.
  const plan = new Map<string, Record<string, string>>();

  before(async () => {
    app = await fakeApp((req, res) => {
      for (const [k, v] of Object.entries(plan.get(req.url ?? "") ?? {})) res.setHeader(k, v);
      res.setHeader("content-type", "text/plain");
      res.end(`request ${req.headers["x-request-id"]}`);
    });
    socket = eventsSocketPath();
    gh = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
  });

  after(async () => {
    await gh?.kill();
    await app?.close();
  });

  describe("response header channel", () => {
    it("turns Gatehouse-Event into events for the request, and the client never sees the headers", async () => {
      plan.set("/comment", {
        "Gatehouse-Event": 'IE1;outcome=blocked;detail="script tag in comment field", AE2',
        "Gatehouse-User": "alice",
      });
      const c = client(gh.proxyUrl);
      const res = await c.send("/comment", { headers: { "x-forwarded-for": "6.6.6.6" } });
      await c.close();
      assert.equal(res.status, 200);
      assert.equal(res.headers["gatehouse-event"], undefined);
      assert.equal(res.headers["gatehouse-user"], undefined);
      const requestId = res.text.replace("request ", "");
      const got = await waitFor(() => {
        const mine = detections(gh).filter((d) => d.requestId === requestId);
        return mine.length === 2 && mine;
      }, "two detection events");
      assert.deepEqual(
        got.map((d) => [d.detectionPoint, d.channel, d.outcome, d.actor.ip, d.actor.user, d.detail]),
        [
          ["IE1", "header", "blocked", "127.0.0.1", "alice", "script tag in comment field"],
          ["AE2", "header", "attempt", "127.0.0.1", "alice", null],
        ],
      );
      const metrics = await gh.metrics();
      assert.equal(
        metric(metrics, "gatehouse_events_total", {
          channel: "header",
          detection_point: "IE1",
          outcome: "blocked",
        }),
        1,
      );
    });

    it("a malformed header never breaks or alters the response, and is counted", async () => {
      plan.set("/broken", { "Gatehouse-Event": 'IE1;detail="unterminated', "X-Kept": "yes" });
      const c = client(gh.proxyUrl);
      const res = await c.send("/broken");
      await c.close();
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-kept"], "yes");
      assert.equal(res.headers["gatehouse-event"], undefined);
      assert.match(res.text, /^request /);
      await waitFor(
        async () =>
          metric(await gh.metrics(), "gatehouse_event_errors_total", {
            channel: "header",
            reason: "malformed",
          }) === 1,
        "the malformed header to be counted",
      );
    });

    it("Gatehouse-User binds the session, so a later request's events carry the user", async () => {
      plan.set("/login", { "Gatehouse-User": "bob" });
      plan.set("/later", { "Gatehouse-Event": "ACE3" });
      const c = client(gh.proxyUrl);
      await c.send("/login", { headers: { cookie: "sid=session-of-bob" } });
      const res = await c.send("/later", { headers: { cookie: "theme=dark; sid=session-of-bob" } });
      await c.close();
      const requestId = res.text.replace("request ", "");
      const [event] = await waitFor(() => {
        const mine = detections(gh).filter((d) => d.requestId === requestId);
        return mine.length === 1 && mine;
      }, "the ACE3 event");
      assert.equal(event!.actor.user, "bob");
      assert.equal(event!.actor.session, "[redacted]", "session ids are redacted in logs");
      assert.ok(!JSON.stringify(gh.logs).includes("session-of-bob"), "the raw session id is never logged");
    });
  });

  describe("socket channel", () => {
    it("listens on a Unix socket with mode 0660 in a directory it created", () => {
      const st = statSync(socket);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o660);
    });

    it("links an event that names only requestId to that request's actor, method and path", async () => {
      const c = client(gh.proxyUrl);
      const res = await c.send("/checkout?step=2", {
        method: "POST",
        body: "x",
        headers: { cookie: "sid=carol-s" },
      });
      await c.close();
      const requestId = res.text.replace("request ", "");
      const reply = await postEvents(
        socket,
        JSON.stringify({ detectionPoint: "ACE2", requestId, user: "carol" }),
      );
      assert.equal(reply.status, 202);
      assert.deepEqual(reply.json, { accepted: 1, rejected: [] });
      const event = await waitFor(
        () => detections(gh).find((d) => d.channel === "socket" && d.requestId === requestId),
        "the correlated socket event",
      );
      assert.deepEqual(
        {
          ip: event.actor.ip,
          user: event.actor.user,
          dp: event.detectionPoint,
          path: event.path,
          method: event.method,
        },
        { ip: "127.0.0.1", user: "carol", dp: "ACE2", path: "/checkout?step=2", method: "POST" },
      );
    });

    it("accepts an array and NDJSON, answering 202 with per-item rejections", async () => {
      const array = await postEvents(
        socket,
        JSON.stringify([
          { detectionPoint: "IE1", ip: "192.0.2.1" },
          { detectionPoint: "IE1", outcome: "maybe" },
          { user: "x" },
        ]),
      );
      assert.equal(array.status, 202);
      assert.deepEqual(array.json, {
        accepted: 1,
        rejected: [
          { index: 1, error: "outcome: must be one of attempt, blocked, success" },
          { index: 2, error: "detectionPoint: required" },
        ],
      });
      const ndjson = await postEvents(
        socket,
        '{"detectionPoint":"AE2","user":"dave"}\n\n{not json}\n{"detectionPoint":"AE2","user":"dave"}\n',
        "application/x-ndjson",
      );
      assert.equal(ndjson.status, 202);
      const body = ndjson.json as { accepted: number; rejected: { index: number; error: string }[] };
      assert.equal(body.accepted, 2);
      assert.equal(body.rejected.length, 1);
      assert.equal(body.rejected[0]!.index, 2);
      assert.match(body.rejected[0]!.error, /^line is not valid JSON/);
    });

    it("an unknown requestId is accepted on the event's own fields and counted as uncorrelated", async () => {
      const reply = await postEvents(
        socket,
        JSON.stringify({ detectionPoint: "AE3", requestId: "long-gone", ip: "198.51.100.9" }),
      );
      assert.equal(reply.status, 202);
      const event = await waitFor(
        () => detections(gh).find((d) => d.requestId === undefined && d.actor.ip === "198.51.100.9"),
        "the event",
      );
      assert.equal(event.detectionPoint, "AE3");
      assert.equal(
        metric(await gh.metrics(), "gatehouse_event_errors_total", {
          channel: "socket",
          reason: "uncorrelated",
        }),
        1,
      );
    });

    it("answers 400, 413 and 415 with reasons that name the problem", async () => {
      const notJson = await postEvents(socket, "{truncated");
      assert.equal(notJson.status, 400);
      assert.match(JSON.stringify(notJson.json), /body is not valid JSON/);
      const nothingValid = await postEvents(
        socket,
        JSON.stringify([{ detectionPoint: "no spaces allowed" }]),
      );
      assert.equal(nothingValid.status, 400);
      assert.match(JSON.stringify(nothingValid.json), /"index":0,"error":"detectionPoint: must be/);
      const manyBad = await postEvents(
        socket,
        JSON.stringify(Array.from({ length: 5000 }, () => ({ detectionPoint: "x y" }))),
      );
      assert.equal(manyBad.status, 400);
      const listed = manyBad.json as { rejected: unknown[]; rejectedTotal: number };
      assert.equal(listed.rejected.length, 100, "the answer lists a bounded number of rejections");
      assert.equal(listed.rejectedTotal, 5000);
      const empty = await postEvents(socket, "[]");
      assert.equal(empty.status, 400);
      const tooBig = await postEvents(
        socket,
        `{"detectionPoint":"IE1","detail":"${"x".repeat(10 * 1024 * 1024)}"}`,
      );
      assert.equal(tooBig.status, 413);
      const wrongType = await postEvents(socket, "IE1", "text/plain");
      assert.equal(wrongType.status, 415);
      const wrongMethod = await socketRequest(socket, "GET", "/v1/events");
      assert.equal(wrongMethod.status, 405);
    });

    it("survives hostile bodies: random bytes, deep nesting, huge arrays, NUL and CR/LF", async () => {
      const bodies: [string | Buffer, string][] = [
        [Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), "application/json"],
        [`${"[".repeat(200_000)}${"]".repeat(200_000)}`, "application/json"],
        [
          `{"detectionPoint":"IE1","metadata":${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}}`,
          "application/json",
        ],
        [
          JSON.stringify(Array.from({ length: 10_000 }, () => ({ detectionPoint: "x y" }))),
          "application/json",
        ],
        [`{"detectionPoint":"IE1","user":"a\\u0000b\\r\\nInjected: 1"}`, "application/json"],
        ["\u0000\r\n\r\n\u0000", "application/x-ndjson"],
      ];
      for (const [body, type] of bodies) {
        const reply = await postEvents(socket, body, type);
        assert.ok([400, 413].includes(reply.status), `status ${reply.status} for a hostile body`);
      }
      assert.ok(gh.alive(), "gatehouse is still running");
      const ok = await postEvents(socket, JSON.stringify({ detectionPoint: "IE1" }));
      assert.equal(ok.status, 202);
    });

    it("accepts the OWASP AppSensor REST shape on /api/v1.0/events", async () => {
      const reply = await socketRequest(
        socket,
        "POST",
        "/api/v1.0/events",
        JSON.stringify({
          user: { username: "erin", ipAddress: { address: "203.0.113.50" } },
          detectionPoint: { category: "Input Validation", label: "IE1" },
          timestamp: "2026-11-22T03:00:00Z",
          detectionSystem: { detectionSystemId: "legacy-app" },
        }),
      );
      assert.equal(reply.status, 202);
      const event = await waitFor(
        () => detections(gh).find((d) => d.actor.user === "erin"),
        "the AppSensor event",
      );
      assert.equal(event.actor.ip, "203.0.113.50");
    });

    it("lists the AppSensor catalogue", async () => {
      const reply = await socketRequest(socket, "GET", "/v1/catalogue");
      const { detectionPoints } = reply.json as {
        detectionPoints: { id: string; title: string; category: string }[];
      };
      assert.equal(detectionPoints.length, 60);
      assert.deepEqual(
        detectionPoints.find((d) => d.id === "ACE3"),
        {
          id: "ACE3",
          title: "Force Browsing Attempt",
          category: "AccessControlException",
          description: "Request for a non-existent or unauthorised resource.",
        },
      );
    });
  });
});

describe("event socket lifecycle", () => {
  it("replaces a stale socket file left by a dead process", async () => {
    const socket = eventsSocketPath();
    mkdirSync(dirname(socket), { recursive: true });
    // A process that binds the socket and is killed leaves the file behind.
    const holder = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(socket)}, () => console.log("up"))`],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await new Promise((resolve) => holder.stdout!.once("data", resolve));
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    assert.ok(statSync(socket).isSocket(), "the stale file is there");
    const app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    const gh = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
    try {
      assert.equal((await postEvents(socket, '{"detectionPoint":"IE1"}')).status, 202);
    } finally {
      await gh.kill();
      await app.close();
    }
  });

  it("refuses to start on a socket another live process holds, saying so", async () => {
    const socket = eventsSocketPath();
    const app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    const first = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
    try {
      const second = await runGatehouse([
        ...SERVE_ON_FREE_PORTS,
        "--upstream",
        app.upstream,
        "--events-socket",
        socket,
      ]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /eventsSocket: .*events\.sock is in use by a running process/);
      assert.equal(
        (await postEvents(socket, '{"detectionPoint":"IE1"}')).status,
        202,
        "the first keeps its socket",
      );
    } finally {
      await first.kill();
      await app.close();
    }
  });

  it("refuses a path that is not a socket instead of deleting it", async () => {
    const socket = eventsSocketPath();
    mkdirSync(dirname(socket), { recursive: true });
    writeFileSync(socket, "precious data");
    const run = await runGatehouse([...SERVE_ON_FREE_PORTS, "--events-socket", socket]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /exists and is not a socket; refusing to replace it/);
  });

  it("the Node client delivers events, keeps them while Gatehouse restarts, then delivers the rest", async () => {
    const socket = eventsSocketPath();
    const app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    let gh = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
    const errors: Error[] = [];
    const reporter = createClient({
      socketPath: socket,
      flushInterval: 10,
      maxBackoff: 200,
      onError: (e) => errors.push(e),
    });
    try {
      for (let i = 0; i < 50; i++) reporter.report({ detectionPoint: "AE2", user: `user-${i}` });
      await reporter.flush();
      assert.equal(reporter.stats().sent, 50);
      assert.equal(metricSum(await gh.metrics(), "gatehouse_events_total"), 50);

      assert.equal(await gh.stop(), 0);
      for (let i = 0; i < 20; i++) reporter.report({ detectionPoint: "IE1", outcome: "blocked" });
      reporter.report({ detectionPoint: "not a label" } as never);
      await waitFor(() => errors.length > 0, "the client to notice Gatehouse is gone");
      assert.equal(reporter.stats().queued, 21, "events wait while Gatehouse is away");

      gh = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
      await waitFor(() => reporter.stats().queued === 0, "the queue to drain after the restart", 10_000);
      assert.equal(reporter.stats().sent, 70);
      assert.equal(reporter.stats().rejected, 1);
      assert.equal(metricSum(await gh.metrics(), "gatehouse_events_total"), 20);
    } finally {
      await reporter.close();
      await gh.kill();
      await app.close();
    }
  });

  it("the Node client splits large batches so each request stays under the 1 MiB limit", async () => {
    const socket = eventsSocketPath();
    const app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    let gh: GatehouseProcess | undefined;
    const reporter = createClient({ socketPath: socket, batchSize: 1000 });
    try {
      gh = await startGatehouse({ upstream: app.upstream, args: ["--events-socket", socket] });
      const metadata = { blob: "m".repeat(4000) };
      for (let i = 0; i < 600; i++)
        reporter.report({ detectionPoint: "FIO1", detail: "d".repeat(1000), metadata });
      await reporter.flush();
      assert.deepEqual(reporter.stats(), { sent: 600, dropped: 0, rejected: 0, queued: 0 });
      assert.equal(metricSum(await gh.metrics(), "gatehouse_events_total"), 600);
    } finally {
      await reporter.close();
      await gh?.kill();
      await app.close();
    }
  });

  it("drops, counts and never throws when its bounded queue is full", async () => {
    const reporter = createClient({
      socketPath: eventsSocketPath(),
      maxQueue: 5,
      flushInterval: 10,
      maxBackoff: 100,
    });
    for (let i = 0; i < 8; i++) reporter.report({ detectionPoint: "IE1" });
    assert.deepEqual(reporter.stats(), { sent: 0, dropped: 3, rejected: 0, queued: 5 });
    await reporter.flush();
  });

  it("also listens on loopback TCP when --events-listen is set", async () => {
    const app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    let gh: GatehouseProcess | undefined;
    try {
      gh = await startGatehouse({
        upstream: app.upstream,
        args: ["--events-socket", "off", "--events-listen", "127.0.0.1:0"],
      });
      const listening = gh.logs.find((l) => l.msg === "gatehouse listening")!;
      const [address] = listening.events as string[];
      assert.match(address!, /^127\.0\.0\.1:\d+$/);
      const reporter = createClient({ address: address!, flushInterval: 5 });
      reporter.report({ detectionPoint: "UT2", ip: "192.0.2.44" });
      await reporter.close();
      assert.equal(reporter.stats().sent, 1);
    } finally {
      await gh?.kill();
      await app.close();
    }
  });
});
