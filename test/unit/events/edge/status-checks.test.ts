/**
 * Status-side edge detection: ACE3 per 403/404, AE2 per failed login on a declared login route,
 * AE3 past the login rate, and the two kinds of login evidence, on an injected clock.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CompiledEdge, compileEdge } from "../../../../src/events/edge/compile-edge.ts";
import { createStatusChecks, LOGIN_RATE } from "../../../../src/events/edge/status-checks.ts";
import type { EdgeDetection } from "../../../../src/events/intake.ts";
import type { RequestContext, RequestDetection } from "../../../../src/pipeline/context.ts";
import { formatPolicyProblem, loadPolicySources } from "../../../../src/policy/load.ts";
import { POLICY_DEFAULTS } from "../../../../src/policy/policy.ts";
import { ManualClock } from "../../../../src/store/clock.ts";

/** The guessing run a login route has when its policy does not say (10 failures within 10m). */
const LOGIN_GUESSING = {
  failures: POLICY_DEFAULTS.loginGuessing.failures,
  windowMs: POLICY_DEFAULTS.loginGuessing.withinMs,
};

function edgeOf(yaml: string): CompiledEdge {
  const result = loadPolicySources([{ name: "p.yaml", text: yaml }]);
  assert.ok(result.ok, result.ok ? "" : result.problems.map(formatPolicyProblem).join("\n"));
  return compileEdge(result.policy);
}

const edge = edgeOf(`edge:
  detect: [ACE3, AE2, AE3]
  routes:
    - { route: "POST /login", login: { failureStatus: [401, 403] } }
`);

/** Guessing alone: AE3's rate would also fire on a fast run, and is tested on its own. */
const loginOnly = edgeOf(`edge:
  detect: [AE2]
  routes:
    - { route: "POST /login", login: { failureStatus: [401, 403] } }
`);

function request(
  over: Partial<
    Pick<RequestContext, "method" | "target" | "clientIp" | "sessionId" | "user" | "appNamedUser">
  > & {
    detections?: RequestDetection[];
  } = {},
): RequestContext {
  return {
    method: "POST",
    target: "/login",
    clientIp: "203.0.113.9",
    sessionId: null,
    user: null,
    appNamedUser: false,
    revokedCookies: [],
    detections: null,
    ...over,
  } as unknown as RequestContext;
}

const COOKIE = { "set-cookie": "sid=abc; HttpOnly" };

function setup(compiled: CompiledEdge = edge) {
  const clock = new ManualClock(Date.parse("2026-11-22T03:00:00Z"));
  const check = createStatusChecks(() => clock.now());
  const run = (ctx: RequestContext, status: number, headers: Record<string, string> = {}) =>
    check(compiled, ctx, status, headers) ?? [];
  return { clock, run };
}

const ids = (events: EdgeDetection[]) => events.map((e) => `${e.detectionPoint}:${e.outcome}`);

describe("status checks", () => {
  it("ACE3: one event per 403 or 404 answer, nothing for other statuses", () => {
    const { run } = setup();
    assert.deepEqual(ids(run(request({ method: "GET", target: "/admin" }), 404)), ["ACE3:attempt"]);
    assert.deepEqual(ids(run(request({ method: "GET", target: "/admin" }), 403)), ["ACE3:attempt"]);
    for (const s of [200, 301, 400, 500])
      assert.deepEqual(run(request({ method: "GET", target: "/x" }), s), []);
  });

  it("AE2: a declared failure status on a login route; other routes and methods are not logins", () => {
    const { run } = setup();
    const failed = run(request(), 401);
    assert.deepEqual(ids(failed), ["AE2:attempt"]);
    assert.deepEqual(failed[0]!.metadata, { part: "status", matched: "401" });
    // 403 is both a failure status here and ACE3.
    assert.deepEqual(ids(run(request(), 403)).sort(), ["ACE3:attempt", "AE2:attempt"]);
    assert.deepEqual(run(request({ target: "/signup" }), 401), []);
    assert.deepEqual(run(request({ method: "GET" }), 401), []);
    assert.deepEqual(ids(run(request({ target: "/Login/?next=/home" }), 401)), ["AE2:attempt"]);
  });

  it("AE3: each login attempt past the rate", () => {
    const { run, clock } = setup();
    const seen: string[] = [];
    for (let i = 0; i < LOGIN_RATE.attempts + 3; i++) {
      clock.advance(1000);
      seen.push(...ids(run(request({ clientIp: "198.51.100.1" }), 200)).filter((id) => id.startsWith("AE3")));
    }
    assert.equal(seen.length, 3);
    // Another address has its own count.
    assert.deepEqual(run(request({ clientIp: "198.51.100.2" }), 200), []);
  });

  it("login-after-guessing: a success after enough failures by the same address", () => {
    const { run, clock } = setup(loginOnly);
    for (let i = 0; i < LOGIN_GUESSING.failures; i++) {
      clock.advance(5000);
      run(request(), 401);
    }
    const success = run(request(), 302, COOKIE);
    assert.deepEqual(ids(success), ["AE2:success"]);
    const evidence = (success[0]!.metadata as { evidence: { kind: string; detail: string } }).evidence;
    assert.equal(evidence.kind, "login-after-guessing");
    assert.match(evidence.detail, /after 10 failed logins by the same address within 10m/);
    // The run is over: the next success is an ordinary login.
    assert.deepEqual(run(request(), 302, COOKIE), []);
  });

  it("login-after-guessing: the same session from rotating addresses", () => {
    const { run } = setup();
    for (let i = 0; i < LOGIN_GUESSING.failures; i++)
      run(request({ clientIp: `192.0.2.${i + 1}`, sessionId: "s-hash" }), 401);
    assert.deepEqual(ids(run(request({ clientIp: "192.0.2.99", sessionId: "s-hash" }), 200, COOKIE)), [
      "AE2:success",
    ]);
  });

  it("is not a breach: fewer failures, failures outside the window, or a reply that logs nobody in", () => {
    const { run, clock } = setup(loginOnly);
    for (let i = 0; i < LOGIN_GUESSING.failures - 1; i++) run(request(), 401);
    assert.deepEqual(run(request(), 200, COOKIE), [], "a person who mistyped a few times");
    for (let i = 0; i < LOGIN_GUESSING.failures; i++) run(request(), 401);
    clock.advance(LOGIN_GUESSING.windowMs + 1000);
    assert.deepEqual(run(request(), 200, COOKIE), [], "failures long ago");
    for (let i = 0; i < LOGIN_GUESSING.failures; i++) run(request(), 401);
    assert.deepEqual(run(request(), 200), [], "a 200 that sets no cookie and names no user");
    assert.deepEqual(
      run(request({ user: "alice" }), 200),
      [],
      "a user known before the request, not named now",
    );
    for (let i = 0; i < LOGIN_GUESSING.failures; i++) run(request(), 401);
    assert.deepEqual(run(request(), 200, { "set-cookie": "flash=try+again; Path=/" }), [], "a flash cookie");
    assert.deepEqual(
      ids(run(request({ user: "alice", appNamedUser: true }), 200)),
      ["AE2:success"],
      "the app named the user in this response",
    );
  });

  it("a person who mistypes five times and then gets it right is not paged by the default run", () => {
    const { run } = setup();
    for (let i = 0; i < 5; i++) run(request(), 401);
    assert.deepEqual(run(request(), 200, COOKIE), []);
  });

  it("login-after-guessing: the run a login route's policy sets (login.guessing)", () => {
    const strict = edgeOf(`edge:
  detect: [AE2]
  routes:
    - { route: "POST /login", login: { failureStatus: [401], guessing: { failures: 3, within: 1m } } }
`);
    const { run, clock } = setup(strict);
    for (let i = 0; i < 3; i++) run(request(), 401);
    const success = run(request(), 200, COOKIE);
    assert.deepEqual(ids(success), ["AE2:success"]);
    const evidence = (success[0]!.metadata as { evidence: { detail: string } }).evidence;
    assert.match(evidence.detail, /after 3 failed logins by the same address within 1m/);
    for (let i = 0; i < 3; i++) run(request(), 401);
    clock.advance(61_000);
    assert.deepEqual(run(request(), 200, COOKIE), [], "the failures fell out of the 1m window");
  });

  it("login-after-injection: a successful login on a request that carried an injection", () => {
    const { run } = setup();
    const detections: RequestDetection[] = [
      { detectionPoint: "CIE1", channel: "edge", part: "body:user", matched: "admin'--" },
    ];
    const success = run(request({ detections }), 200, COOKIE);
    assert.deepEqual(ids(success), ["CIE1:success"]);
    assert.deepEqual(success[0]!.metadata, {
      evidence: {
        kind: "login-after-injection",
        detail: "POST /login answered 200 to a request with CIE1 in body:user",
      },
      part: "body:user",
      matched: "admin'--",
    });
    // A failed login carrying the same injection is an attempt.
    assert.deepEqual(ids(run(request({ detections }), 401)), ["AE2:attempt"]);
    // A detection that is not an injection does not make a login a breach.
    const other: RequestDetection[] = [
      { detectionPoint: "RE7", channel: "edge", part: "query:q", matched: "a" },
    ];
    assert.deepEqual(run(request({ detections: other }), 200, COOKIE), []);
  });

  it("does nothing for a policy without ACE3 or login routes", () => {
    const off = edgeOf("edge: { detect: [IE1] }\n");
    assert.equal(off.statusSide, false);
  });
});
