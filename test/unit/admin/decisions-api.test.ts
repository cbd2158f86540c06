/**
 * The decisions endpoints of the admin server, in-process on loopback port 0, over a real
 * DecisionService on a MemoryReplicatedMap driven by a manual clock.
 */
import assert from "node:assert/strict";
import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type AdminOptions,
  createAdminServer,
  type ReadinessSources,
} from "../../../src/admin/admin-server.ts";
import { createAuthorize, digest, tokenMatches } from "../../../src/admin/auth.ts";
import { createDecisionService, type DecisionService } from "../../../src/enforce/decision-service.ts";
import type { Metrics } from "../../../src/observability/metrics.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import type { Decision } from "../../../src/store/decision.ts";
import { MemoryReplicatedMap } from "../../../src/store/replicated-map.ts";

const START = Date.parse("2026-11-22T03:00:00Z");
const TOKEN = "s3cret-admin-token-0123456789";

const readiness: ReadinessSources = {
  proxyListening: () => true,
  checkUpstream: async () => ({ status: "up", target: "http://127.0.0.1:3000" }),
  store: () => ({ status: "up", kind: "memory" }),
  policy: () => ({ files: [], version: "x", loadedAt: START, reloads: 0, failedReloads: 0, lastErrors: [] }),
};

interface AdminUnderTest {
  url: string;
  clock: ManualClock;
  decisions: DecisionService;
  map: MemoryReplicatedMap<Decision>;
  logs: { obj: Record<string, unknown>; msg: string }[];
  close(): Promise<void>;
}

/** An admin server with a real decision service; `options` as createAdminServer takes them. */
async function startAdmin(
  options: Omit<AdminOptions, "decisions" | "clock" | "logger"> = {},
  host = "127.0.0.1",
): Promise<AdminUnderTest> {
  const clock = new ManualClock(START);
  const map = new MemoryReplicatedMap<Decision>({ clock, sweepMs: 0 });
  const decisions = createDecisionService(map, clock);
  const logs: AdminUnderTest["logs"] = [];
  const logger = {
    info: (obj: object, msg: string) => logs.push({ obj: obj as Record<string, unknown>, msg }),
  };
  const server: Server = createAdminServer({} as Metrics, readiness, {
    ...options,
    decisions,
    clock,
    logger,
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    clock,
    decisions,
    map,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await map.close();
    },
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string; type?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (text !== undefined) headers["content-type"] = options.type ?? "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(text === undefined ? {} : { body: text }),
  });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body: body === "" ? {} : JSON.parse(body) };
}

const BLOCK = {
  action: "block",
  scope: "ip",
  value: "::ffff:203.0.113.7",
  duration: "1h",
  reason: "stuffing",
};

describe("decisions API without a token, from loopback", () => {
  let admin: AdminUnderTest;
  before(async () => {
    admin = await startAdmin();
  });
  after(() => admin.close());

  it("POST stores a manual decision and answers 201 with it and its Location", async () => {
    const res = await call(admin.url, "POST", "/v1/decisions", { body: BLOCK });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("content-type"), "application/json");
    const id = String(res.body.id);
    assert.equal(res.headers.get("location"), `/v1/decisions/${id}`);
    assert.deepEqual(res.body, {
      id,
      action: "block",
      scope: "ip",
      value: "203.0.113.7",
      routes: null,
      until: "2026-11-22T04:00:00.000Z",
      createdAt: "2026-11-22T03:00:00.000Z",
      origin: "manual",
      reason: { mode: "enforce", text: "stuffing" },
    });
    assert.equal(admin.decisions.get(id)?.value, "203.0.113.7");
    const log = admin.logs.find((l) => l.msg === "decision added");
    assert.ok(log, "the add is logged");
    assert.equal(log.obj.peer, "127.0.0.1");
    assert.equal((log.obj.decision as { id: string }).id, id);
  });

  it("GET /v1/decisions/{id} answers the decision; an unknown id 404", async () => {
    const created = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "throttle", scope: "range", value: "198.51.100.9/24", rate: "10/m", duration: "15m" },
    });
    const got = await call(admin.url, "GET", `/v1/decisions/${created.body.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);
    assert.equal(got.body.value, "198.51.100.0/24");
    assert.equal(got.body.rate, "10/m");
    const missing = await call(admin.url, "GET", "/v1/decisions/no-such-id");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), "application/problem+json");
    assert.equal(missing.body.status, 404);
  });

  it("GET /v1/decisions lists newest first, with filters and a limit", async () => {
    admin.clock.advance(1000);
    const user = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "disable", scope: "user", value: "bob", routes: ["POST /export"], duration: "1d" },
    });
    admin.clock.advance(1000);
    const global = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "flag", scope: "global", until: "2026-11-23T00:00:00Z" },
    });
    admin.decisions.apply({
      id: "policy-1",
      action: "block",
      scope: "ip",
      value: "203.0.113.7",
      routes: null,
      until: START + 3_600_000,
      createdAt: START - 60_000,
      origin: "policy",
      reason: { mode: "enforce", detectionPoint: "AE2", response: "block-ip" },
      rate: null,
      status: null,
      delayMs: null,
    });

    const all = await call(admin.url, "GET", "/v1/decisions");
    assert.equal(all.status, 200);
    const list = all.body.decisions as Record<string, unknown>[];
    assert.equal(list.length, 5);
    assert.deepEqual(
      list.slice(0, 2).map((d) => d.id),
      [global.body.id, user.body.id],
    );
    assert.equal(list.at(-1)!.id, "policy-1");
    assert.equal(user.body.status, 503);

    const ids = async (query: string) => {
      const res = await call(admin.url, "GET", `/v1/decisions?${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.decisions as { id: string }[]).map((d) => d.id);
    };
    assert.deepEqual(await ids("action=disable"), [user.body.id]);
    assert.deepEqual(await ids("scope=global"), [global.body.id]);
    assert.deepEqual(await ids("origin=policy"), ["policy-1"]);
    assert.equal((await ids("origin=manual")).length, 4);
    assert.equal((await ids("value=203.0.113.7")).length, 2);
    // The value filter finds a decision however its address was written.
    assert.equal((await ids("value=::ffff:203.0.113.7&origin=manual")).length, 1);
    assert.equal((await ids("value=198.51.100.77/24")).length, 1);
    assert.deepEqual(await ids("scope=ip&value=203.0.113.7&origin=policy"), ["policy-1"]);
    assert.deepEqual(await ids("limit=2"), [global.body.id, user.body.id]);
  });

  it("refuses bad filters, naming each", async () => {
    const res = await call(admin.url, "GET", "/v1/decisions?action=ban&limit=10001&colour=red");
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.deepEqual(res.body.errors, [
      { field: "colour", message: "is not a filter (filters: action, scope, value, origin, limit)" },
      { field: "action", message: "must be one of block, throttle, disable, logout, tarpit, flag" },
      { field: "limit", message: "must be a whole number from 1 to 10000" },
    ]);
    for (const limit of ["0", "-1", "1.5", "ten"]) {
      assert.equal((await call(admin.url, "GET", `/v1/decisions?limit=${limit}`)).status, 400, limit);
    }
    assert.equal((await call(admin.url, "GET", "/v1/decisions?limit=10000")).status, 200);
  });

  it("an expired decision is gone from the list and from GET", async () => {
    const short = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "block", scope: "ip", value: "192.0.2.1", duration: "1m" },
    });
    admin.clock.advance(60_000);
    assert.equal((await call(admin.url, "GET", `/v1/decisions/${short.body.id}`)).status, 404);
    const list = (await call(admin.url, "GET", "/v1/decisions")).body.decisions as { id: string }[];
    assert.ok(!list.some((d) => d.id === short.body.id));
  });

  it("DELETE answers 204 and the decision is gone; again 404", async () => {
    const created = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "logout", scope: "session", value: "Qm9vX3Nlc3Npb24taGFzaA", duration: "1d" },
    });
    const path = `/v1/decisions/${created.body.id}`;
    const res = await fetch(`${admin.url}${path}`, { method: "DELETE" });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");
    assert.equal(admin.decisions.get(String(created.body.id)), undefined);
    assert.equal((await call(admin.url, "GET", path)).status, 404);
    const again = await call(admin.url, "DELETE", path);
    assert.equal(again.status, 404);
    assert.equal(again.headers.get("content-type"), "application/problem+json");
    const logged = admin.logs.find((l) => l.msg === "decision deleted");
    assert.ok(logged, "the delete is logged");
    assert.equal((logged.obj.decision as { id: string }).id, created.body.id);
    assert.equal(logged.obj.peer, "127.0.0.1");
    assert.ok(admin.logs.some((l) => l.msg === "decision to delete not found"));
  });

  it("a refused decision answers 400 with every problem by field, and is logged", async () => {
    const res = await call(admin.url, "POST", "/v1/decisions", {
      body: { action: "notify", scope: "ip", value: "not-an-ip", duration: "1h", extra: 1 },
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal(res.body.title, "Bad Request");
    assert.equal(res.body.detail, "the decision is not valid (3 problems)");
    assert.deepEqual(res.body.errors, [
      {
        field: "extra",
        message:
          "is not a field of a decision (fields: action, scope, value, routes, duration, until, rate, status, delay, reason)",
      },
      {
        field: "action",
        message:
          "must be one of block, throttle, disable, logout, tarpit, flag (notify and log are policy responses, not decisions)",
      },
      { field: "value", message: "must be an IPv4 or IPv6 address for scope ip" },
    ]);
    assert.ok(admin.logs.some((l) => l.msg === "decision refused" && l.obj.status === 400));
  });

  it("bodies: 400 for bad JSON or not an object, 415 for another type, 413 above 64 KiB", async () => {
    const bad = await call(admin.url, "POST", "/v1/decisions", { raw: "{action: block}" });
    assert.equal(bad.status, 400);
    assert.equal((bad.body.errors as { field: string }[])[0]!.field, "(body)");
    assert.match((bad.body.errors as { message: string }[])[0]!.message, /^is not valid JSON: /);
    const list = await call(admin.url, "POST", "/v1/decisions", { raw: JSON.stringify([BLOCK]) });
    assert.deepEqual(list.body.errors, [{ field: "(body)", message: "must be a JSON object" }]);
    const empty = await call(admin.url, "POST", "/v1/decisions", { raw: "" });
    assert.equal(empty.status, 400);
    const form = await call(admin.url, "POST", "/v1/decisions", { raw: "action=block", type: "text/plain" });
    assert.equal(form.status, 415);
    assert.equal(form.headers.get("content-type"), "application/problem+json");
    const withCharset = await call(admin.url, "POST", "/v1/decisions", {
      body: BLOCK,
      type: "application/json; charset=utf-8",
    });
    assert.equal(withCharset.status, 201);
    const big = await call(admin.url, "POST", "/v1/decisions", {
      body: { ...BLOCK, reason: "x".repeat(64 * 1024) },
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get("content-type"), "application/problem+json");
    const deep = await call(admin.url, "POST", "/v1/decisions", {
      raw: `{"action":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
    });
    assert.equal(deep.status, 400);
  });

  it("a body declared far above the limit is refused at once and the connection closed", async () => {
    const answer = await new Promise<{ status: number; connection: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(`${admin.url}/v1/decisions`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": String(32 * 1024 * 1024) },
        });
        req.on("response", (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
        });
        req.on("error", reject);
        req.write("{");
      },
    );
    assert.deepEqual(answer, { status: 413, connection: "close" });
  });

  it("other methods answer 405 with Allow; other paths are untouched", async () => {
    const put = await call(admin.url, "PUT", "/v1/decisions");
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, HEAD, POST");
    const patch = await call(admin.url, "PATCH", "/v1/decisions/abc");
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get("allow"), "GET, HEAD, DELETE");
    assert.equal((await call(admin.url, "GET", "/v1/decisions/a/b")).status, 404);
    assert.equal((await call(admin.url, "GET", "/v1/decisionsx")).status, 404);
    assert.deepEqual((await call(admin.url, "GET", "/healthz")).body, { status: "ok" });
    assert.equal((await call(admin.url, "POST", "/healthz")).status, 405);
  });
});

describe("decisions API with a token", () => {
  let admin: AdminUnderTest;
  before(async () => {
    admin = await startAdmin({ adminToken: TOKEN });
  });
  after(() => admin.close());

  it("POST without Authorization answers 401 with a Bearer challenge and stores nothing", async () => {
    const res = await call(admin.url, "POST", "/v1/decisions", { body: BLOCK });
    assert.equal(res.status, 401);
    assert.match(String(res.headers.get("www-authenticate")), /^Bearer /);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal(admin.decisions.list().length, 0);
  });

  it("a wrong token answers 401 with error=invalid_token, whatever its length", async () => {
    for (const token of ["wrong", TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), "x".repeat(4000)]) {
      const res = await call(admin.url, "POST", "/v1/decisions", { body: BLOCK, token });
      assert.equal(res.status, 401, token);
      assert.match(String(res.headers.get("www-authenticate")), /^Bearer .*error="invalid_token"/);
    }
    const basic = await fetch(`${admin.url}/v1/decisions`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString("base64")}` },
    });
    assert.equal(basic.status, 401);
    assert.equal(admin.decisions.list().length, 0);
  });

  it("the right token is accepted, for POST and DELETE; reads need none", async () => {
    const created = await call(admin.url, "POST", "/v1/decisions", { body: BLOCK, token: TOKEN });
    assert.equal(created.status, 201);
    const path = `/v1/decisions/${created.body.id}`;
    assert.equal((await call(admin.url, "GET", path)).status, 200);
    assert.equal((await call(admin.url, "GET", "/v1/decisions")).status, 200);
    assert.equal((await call(admin.url, "DELETE", path)).status, 401);
    assert.equal((await call(admin.url, "DELETE", path, { token: TOKEN })).status, 204);
    const lower = await fetch(`${admin.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `bearer ${TOKEN}` },
      body: JSON.stringify(BLOCK),
    });
    assert.equal(lower.status, 201, "the scheme is case-insensitive");
  });

  it("never logs the token, and logs refusals with the peer", async () => {
    await call(admin.url, "POST", "/v1/decisions", { body: BLOCK, token: "guess-guess-guess" });
    const refused = admin.logs.find((l) => l.msg === "admin call refused");
    assert.equal(refused?.obj.status, 401);
    assert.equal(refused?.obj.peer, "127.0.0.1");
    const all = JSON.stringify(admin.logs);
    assert.ok(!all.includes(TOKEN) && !all.includes("guess-guess-guess"), "no token in the logs");
  });
});

describe("decisions API without a token, from elsewhere", () => {
  it("answers 403 to a non-loopback peer (peer check injected) and stores nothing", async () => {
    const loopbackOnly = createAuthorize(null);
    const admin = await startAdmin({
      authorize: (authorization) => loopbackOnly(authorization, "203.0.113.50"),
    });
    try {
      const res = await call(admin.url, "POST", "/v1/decisions", { body: BLOCK });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.match(String(res.body.detail), /loopback only/);
      assert.equal((await call(admin.url, "DELETE", "/v1/decisions/x")).status, 403);
      assert.equal(admin.decisions.list().length, 0);
      assert.equal((await call(admin.url, "GET", "/v1/decisions")).status, 200);
    } finally {
      await admin.close();
    }
  });
});

describe("authorize", () => {
  it("without a token: loopback peers only, IPv4, IPv6 and IPv4-mapped", () => {
    const authorize = createAuthorize(null);
    for (const peer of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
      assert.deepEqual(authorize(undefined, peer), { ok: true }, peer);
    }
    for (const peer of [
      "10.0.0.1",
      "203.0.113.9",
      "::2",
      "fe80::1",
      "::ffff:10.0.0.1",
      "128.0.0.1",
      undefined,
    ]) {
      const verdict = authorize(undefined, peer);
      assert.equal(verdict.ok ? 0 : verdict.status, 403, String(peer));
    }
    // A token sent when none is configured opens nothing.
    assert.equal(authorize(`Bearer ${TOKEN}`, "203.0.113.9").ok, false);
  });

  it("without a token: a loopback caller naming another Host is refused (DNS rebinding from a browser)", () => {
    const authorize = createAuthorize(null);
    for (const host of [
      "127.0.0.1:9090",
      "localhost:9090",
      "localhost",
      "[::1]:9090",
      "127.1.2.3",
      undefined,
    ]) {
      assert.deepEqual(authorize(undefined, "127.0.0.1", host), { ok: true }, String(host));
    }
    for (const host of ["evil.example:9090", "attacker.test", "10.0.0.1:9090", "[2001:db8::1]:9090"]) {
      const verdict = authorize(undefined, "127.0.0.1", host);
      assert.equal(verdict.ok ? 0 : verdict.status, 403, host);
    }
  });

  it("with a token: the token from any peer; nothing else from loopback", () => {
    const authorize = createAuthorize(TOKEN);
    assert.deepEqual(authorize(`Bearer ${TOKEN}`, "203.0.113.9"), { ok: true });
    assert.deepEqual(authorize(`BEARER   ${TOKEN}`, "::1"), { ok: true });
    for (const header of [undefined, "", "Bearer", `Bearer ${TOKEN} extra`, `Token ${TOKEN}`, TOKEN]) {
      const verdict = authorize(header, "127.0.0.1");
      assert.equal(verdict.ok ? 0 : verdict.status, 401, String(header));
      assert.ok(!verdict.ok && verdict.challenge?.startsWith("Bearer "));
    }
  });

  it("compares digests of equal length, so any length of guess is safe to compare", () => {
    const expected = digest(TOKEN);
    assert.equal(expected.length, 32);
    assert.equal(tokenMatches(expected, TOKEN), true);
    for (const guess of ["", "s", TOKEN.slice(0, -1), `${TOKEN}\u0000`, "€".repeat(10_000)]) {
      assert.equal(tokenMatches(expected, guess), false, JSON.stringify(guess.slice(0, 10)));
    }
  });
});
