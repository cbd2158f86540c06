/**
 * GET /v1/incidents and `gatehouse incidents` against a real Gatehouse process: incidents made
 * by the app's own reports, filtered and listed newest first, and hostile query strings refused
 * with the parameter named (the process never minds them).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, runGatehouse, startGatehouse } from "../helpers/gatehouse.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = `
detectionPoints:
  ACE3: { threshold: { count: 2, within: 1m }, per: ip, responses: [log] }
responses:
  log: { action: log }
breach:
  responses: [log]
`;

type Listed = { incidents: Record<string, unknown>[] };

describe("incidents API and CLI", { timeout: 60_000 }, () => {
  let app: FakeApp;
  let g: GatehouseProcess;
  const get = async (query: string) => {
    const res = await fetch(`${g.adminUrl}/v1/incidents${query}`);
    return { status: res.status, body: (await res.json()) as Listed & Record<string, unknown> };
  };

  before(async () => {
    app = await fakeApp((req, res) => {
      if (req.url?.startsWith("/probe")) res.setHeader("gatehouse-event", "ACE3");
      if (req.url?.startsWith("/canary")) {
        res.setHeader("gatehouse-event", 'HT1;outcome=success;detail="canary record read"');
        res.setHeader("gatehouse-user", "mallory");
      }
      res.end("ok");
    });
    g = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policyFile(POLICY), "--trusted-proxies", "127.0.0.1/32"],
    });
    const c = client(g.proxyUrl);
    const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
    // 203.0.113.1: two probes, an attempt incident. 203.0.113.2: a breach, as mallory.
    // 203.0.113.3: one probe, below the threshold: no incident.
    await c.send("/probe/1", from("203.0.113.1"));
    await c.send("/probe/2", from("203.0.113.1"));
    await c.send("/probe/3", from("203.0.113.3"));
    await c.send("/canary", from("203.0.113.2"));
    await c.close();
    await waitFor(async () => (await get("")).body.incidents.length === 2, "two incidents", 10_000);
  });

  after(async () => {
    await g?.kill();
    await app?.close();
  });

  it("lists incidents newest first in DESIGN's shape, filtered by outcome, ip, user and since", async () => {
    const all = (await get("")).body.incidents;
    assert.deepEqual(
      all.map((i) => (i.actor as { ip: string }).ip),
      ["203.0.113.2", "203.0.113.1"],
    );
    const breach = all[0]!;
    assert.deepEqual(Object.keys(breach), [
      "id",
      "outcome",
      "actor",
      "firstSeen",
      "lastSeen",
      "detectionPoints",
      "events",
      "attacks",
      "evidence",
      "responses",
    ]);
    assert.equal(breach.outcome, "success");
    assert.deepEqual(breach.actor, { ip: "203.0.113.2", range: "203.0.113.0/24", user: "mallory" });
    assert.deepEqual(
      (breach.evidence as Record<string, unknown>[]).map((e) => [e.kind, e.detail]),
      [["app", "canary record read"]],
    );
    assert.match(String((breach.evidence as Record<string, unknown>[])[0]!.requestId), /./);
    const attempt = all[1]!;
    assert.equal(attempt.outcome, "attempt");
    assert.equal(attempt.events, 2);
    assert.equal(attempt.attacks, 1);
    const ids = async (q: string) => (await get(q)).body.incidents.map((i) => i.id);
    assert.deepEqual(await ids("?outcome=success"), [breach.id]);
    assert.deepEqual(await ids("?outcome=attempt"), [attempt.id]);
    assert.deepEqual(await ids("?outcome=blocked"), []);
    assert.deepEqual(await ids("?ip=203.0.113.1"), [attempt.id]);
    assert.deepEqual(await ids("?ip=::ffff:203.0.113.1"), [attempt.id], "IPv4-mapped is the same address");
    assert.deepEqual(await ids("?user=mallory"), [breach.id]);
    assert.deepEqual(await ids("?since=1h&limit=1"), [breach.id]);
    assert.deepEqual(await ids("?since=2099-01-01T00:00:00Z"), []);
  });

  it("refuses hostile filters with 400 naming the parameter", async () => {
    const big = "x".repeat(10 * 1024);
    const cases: [string, string][] = [
      ["?limit=-1", "limit"],
      ["?limit=0", "limit"],
      ["?limit=10001", "limit"],
      ["?limit=1e3", "limit"],
      ["?since=garbage", "since"],
      ["?since=2026-13-45T99:99:99Z", "since"],
      [`?since=${big}`, "since"],
      [`?ip=${big}`, "ip"],
      ["?ip=999.1.1.1", "ip"],
      [`?user=${big}`, "user"],
      ["?user=", "user"],
      [`?outcome=${big}`, "outcome"],
      ["?outcome=breach", "outcome"],
      [`?${big}=1`, big.slice(0, 64)],
      ["?limit=5&sort=asc", "sort"],
    ];
    for (const [query, field] of cases) {
      const { status, body } = await get(query);
      assert.equal(status, 400, query.slice(0, 40));
      assert.ok(
        (body.errors as { field: string }[]).some((e) => e.field === field),
        `${query.slice(0, 40)} names ${field.slice(0, 20)}: ${JSON.stringify(body).slice(0, 200)}`,
      );
    }
    const post = await fetch(`${g.adminUrl}/v1/incidents`, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.ok(g.alive());
    assert.equal((await get("")).status, 200);
  });

  it("gatehouse incidents prints a table, JSON with -o json, and names a refused flag", async () => {
    const table = await runGatehouse(["incidents", "--admin-listen", g.admin]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(
      lines[0]!,
      /^ID\s+OUTCOME\s+ACTOR\s+LAST SEEN\s+EVENTS\s+ATTACKS\s+DETECTION POINTS\s+EVIDENCE$/,
    );
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /success\s+mallory @ 203\.0\.113\.2 .* HT1\s+app$/);
    const json = await runGatehouse([
      "incidents",
      "--admin-listen",
      g.admin,
      "--outcome",
      "attempt",
      "-o",
      "json",
    ]);
    assert.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as Listed;
    assert.deepEqual(
      listed.incidents.map((i) => i.outcome),
      ["attempt"],
    );
    const bad = await runGatehouse(["incidents", "--admin-listen", g.admin, "--since", "yesterday"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since: must be an RFC 3339 time/);
    const none = await runGatehouse(["incidents", "--admin-listen", g.admin, "--user", "nobody"]);
    assert.equal(none.stdout.trim(), "no incidents");
    const usage = await runGatehouse(["incidents", "--admin-listen", g.admin, "-o", "yaml"]);
    assert.equal(usage.code, 2);
  });
});
