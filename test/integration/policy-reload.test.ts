/**
 * Policy hot reload on a running Gatehouse: a changed file goes live without a restart, SIGHUP
 * reloads too, and a broken policy is refused — logged with its problems, counted, shown on
 * /readyz — while the last good one keeps working. Also `--mode shadow`: everything is
 * evaluated and counted as "would have".
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { postEvents } from "../helpers/events.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { waitFor } from "../helpers/wait.ts";

const policy = (count: number) => `
detectionPoints:
  IE1: { threshold: { count: ${count}, within: 10m }, per: ip, responses: [block-ip] }
responses:
  block-ip: { action: block, scope: ip, duration: 15m }
`;

const event = (ip: string) => JSON.stringify({ detectionPoint: "IE1", ip });

describe("policy hot reload", { timeout: 60_000 }, () => {
  let file: string;
  let app: FakeApp;
  let gatehouse: GatehouseProcess;

  before(async () => {
    file = policyFile(policy(3));
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    gatehouse = await startGatehouse({ upstream: app.upstream, args: ["--policy", file] });
  });

  after(async () => {
    await gatehouse?.kill();
    await app?.close();
  });

  const attacksOn = (ip: string) =>
    gatehouse.logs.filter((l) => l.msg === "attack" && (l.actor as { value: string }).value === ip).length;

  async function readyPolicy() {
    const body = (await (await fetch(`${gatehouse.adminUrl}/readyz`)).json()) as {
      checks: { policy: { status: string; reloads: number; failedReloads: number; lastErrors?: string[] } };
    };
    return body.checks.policy;
  }

  it("a changed policy file goes live without a restart", async () => {
    writeFileSync(file, policy(1));
    await gatehouse.waitForLog((l) => l.msg === "policy reloaded", "the reload", 10_000);
    assert.equal((await postEvents(gatehouse.eventsSocket, event("192.0.2.1"))).status, 202);
    await waitFor(() => (attacksOn("192.0.2.1") === 1 ? true : undefined), "an attack at threshold 1");
    assert.equal((await readyPolicy()).reloads, 1);
  });

  it("a broken policy is refused, counted and shown; the last good one stays live", async () => {
    writeFileSync(file, `${policy(1)}\n  oops: [unclosed\n`);
    await gatehouse.waitForLog(
      (l) => l.msg === "policy reload failed; the last good policy stays live",
      "the refusal",
      10_000,
    );
    const refusal = gatehouse.logs.find(
      (l) => l.msg === "policy reload failed; the last good policy stays live",
    )!;
    assert.ok(Array.isArray(refusal.problems) && (refusal.problems as string[])[0]!.startsWith(`${file}:`));
    assert.equal(metric(await gatehouse.metrics(), "gatehouse_policy_reload_errors_total"), 1);
    const status = await readyPolicy();
    assert.equal(status.status, "stale");
    assert.equal(status.failedReloads, 1);
    assert.ok(status.lastErrors && status.lastErrors.length > 0);
    // Threshold 1 still applies.
    assert.equal((await postEvents(gatehouse.eventsSocket, event("192.0.2.2"))).status, 202);
    await waitFor(
      () => (attacksOn("192.0.2.2") === 1 ? true : undefined),
      "an attack under the last good policy",
    );
    assert.ok(gatehouse.alive());
  });

  it("SIGHUP reloads; a good policy clears the stale state", async () => {
    writeFileSync(file, policy(2));
    // Whichever comes first, the watch or the signal, the policy reloads; SIGHUP alone must work too.
    process.kill(gatehouse.pid, "SIGHUP");
    await waitFor(
      async () => ((await readyPolicy()).status === "up" ? true : undefined),
      "the policy to be up again",
    );
    const reloadsBefore = (await readyPolicy()).reloads;
    process.kill(gatehouse.pid, "SIGHUP");
    await waitFor(
      async () => ((await readyPolicy()).reloads > reloadsBefore ? true : undefined),
      "a SIGHUP reload",
    );
    await postEvents(gatehouse.eventsSocket, event("192.0.2.3"));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(attacksOn("192.0.2.3"), 0, "threshold 2: one event is no attack");
    await postEvents(gatehouse.eventsSocket, event("192.0.2.3"));
    await waitFor(() => (attacksOn("192.0.2.3") === 1 ? true : undefined), "an attack at threshold 2");
    assert.ok(gatehouse.alive(), "SIGHUP does not stop Gatehouse");
  });
});

describe("--mode shadow", { timeout: 60_000 }, () => {
  let shadowPolicy: string;
  let app: FakeApp;
  let gatehouse: GatehouseProcess;

  before(async () => {
    shadowPolicy = policyFile(policy(1));
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", shadowPolicy, "--mode", "shadow"],
    });
  });

  after(async () => {
    await gatehouse?.kill();
    await app?.close();
  });

  it("evaluates the policy and records every attack and decision as would-have", async () => {
    await postEvents(gatehouse.eventsSocket, event("198.51.100.9"));
    const line = await gatehouse.waitForLog(
      (l) => l.msg === "attack (shadow: would have responded)",
      "a shadow attack",
    );
    assert.equal(line.mode, "shadow");
    const decision = await gatehouse.waitForLog(
      (l) => l.msg === "decision (shadow: would have)",
      "a shadow decision",
    );
    assert.equal((decision.decision as { reason: { mode: string } }).reason.mode, "shadow");
    const text = await gatehouse.metrics();
    assert.equal(metric(text, "gatehouse_attacks_total", { detection_point: "IE1", mode: "shadow" }), 1);
    assert.equal(
      metric(text, "gatehouse_attacks_total", { detection_point: "IE1", mode: "enforce" }),
      undefined,
    );
    assert.equal(
      metric(text, "gatehouse_policy_decisions_total", { action: "block", scope: "ip", mode: "shadow" }),
      1,
    );
    // "Would have": the actor the shadow decision names is not blocked.
    await postEvents(gatehouse.eventsSocket, event("127.0.0.1"));
    await gatehouse.waitForLog(
      (l) => l.msg === "decision (shadow: would have)" && JSON.stringify(l).includes('"127.0.0.1"'),
      "a shadow block of 127.0.0.1",
    );
    assert.equal((await fetch(gatehouse.proxyUrl)).status, 200, "shadow mode never enforces");
  });
});
