/**
 * Replicas count as one: several Gatehouse processes share a Redis the test owns, and an attacker
 * spread over all of them is counted once. Also what happens when that Redis goes away mid-run:
 * no crash, counting goes on locally, and what was counted locally joins the shared count when
 * Redis is back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { postEvents } from "../helpers/events.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, type LogLine, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = `
detectionPoints:
  IE1:
    threshold: { count: 3, within: 10m }
    per: user
    responses: [log]
responses:
  log: { action: log }
`;

const NDJSON = "application/x-ndjson";

const attacks = (g: GatehouseProcess): LogLine[] => g.logs.filter((l) => l.msg === "attack");

function events(n: number, user: string, from = 0): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ detectionPoint: "IE1", user, detail: `event ${from + i}` }));
  }
  return lines.join("\n");
}

describe("replicas sharing one Redis", { timeout: 120_000 }, () => {
  let policy: string;
  let redis: RedisServer;
  let app: FakeApp;
  let replicas: GatehouseProcess[] = [];

  before(async () => {
    policy = policyFile(POLICY);
    redis = await startRedis();
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    replicas = await Promise.all(
      [0, 1, 2].map(() =>
        startGatehouse({
          upstream: app.upstream,
          args: ["--policy", policy, "--redis", redis.url, "--app", "shared-test"],
        }),
      ),
    );
    for (const g of replicas) await waitForStore(g, "up");
  });

  after(async () => {
    await Promise.all(replicas.map((g) => g.kill()));
    await app?.close();
    await redis?.close();
  });

  async function waitForStore(g: GatehouseProcess, status: "up" | "degraded"): Promise<void> {
    await waitFor(
      async () => {
        const ready = (await (await fetch(`${g.adminUrl}/readyz`)).json()) as {
          checks: { store: { status: string } };
        };
        return ready.checks.store.status === status ? true : undefined;
      },
      `store ${status} on ${g.admin}`,
      15_000,
    );
  }

  async function totalAttacks(): Promise<number> {
    let sum = 0;
    for (const g of replicas) {
      sum +=
        metric(await g.metrics(), "gatehouse_attacks_total", { detection_point: "IE1", mode: "enforce" }) ??
        0;
    }
    return sum;
  }

  it("300 events of one actor over 3 replicas at once, threshold 3: exactly 100 attacks, none twice", async () => {
    const user = "spread-attacker";
    // 100 events to each replica, in 10 concurrent batches of 10 per replica, all at the same time.
    const posts: Promise<{ status: number }>[] = [];
    for (const g of replicas) {
      for (let b = 0; b < 10; b++) posts.push(postEvents(g.eventsSocket, events(10, user, b * 10), NDJSON));
    }
    const replies = await Promise.all(posts);
    assert.ok(replies.every((r) => r.status === 202));
    await waitFor(async () => ((await totalAttacks()) >= 100 ? true : undefined), "100 attacks", 15_000);
    // Give any duplicate a moment to show up before counting for the last time.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await totalAttacks(), 100);
    const lines = replicas.flatMap(attacks).filter((l) => (l.actor as { value: string }).value === user);
    assert.equal(lines.length, 100);
    const counts = lines.map((l) => Number(l.count)).sort((a, b) => a - b);
    assert.deepEqual(
      counts,
      Array.from({ length: 100 }, (_, i) => i + 1),
      "each rung of the escalation history is reached exactly once",
    );
    // Every replica took part: the attacker really was spread.
    for (const g of replicas) assert.ok(attacks(g).length > 0, `replica ${g.admin} saw no attack`);
  });

  it("Redis stopped mid-run: no crash, counting goes on locally, then rejoins the shared count", async () => {
    const user = "outage-attacker";
    const [a, b] = replicas as [GatehouseProcess, GatehouseProcess];
    assert.equal((await postEvents(a.eventsSocket, events(1, user), NDJSON)).status, 202);
    await waitFor(
      async () => ((await a.metrics()).includes('channel="socket",detection_point="IE1"') ? true : undefined),
      "the first event counted",
    );
    await new Promise((r) => setTimeout(r, 200));
    await redis.stop();
    await waitForStore(a, "degraded");
    assert.equal(metric(await a.metrics(), "gatehouse_store_up"), 0);
    // During the outage replica A counts alone: 3 more of this user's events give A one local attack.
    const before = attacks(a).length;
    assert.equal((await postEvents(a.eventsSocket, events(3, user, 1), NDJSON)).status, 202);
    await waitFor(() => (attacks(a).length > before ? true : undefined), "a local attack during the outage");
    assert.equal(attacks(a).length, before + 1);
    // One more event during the outage stays in A's local window.
    assert.equal((await postEvents(a.eventsSocket, events(1, user, 4), NDJSON)).status, 202);
    await new Promise((r) => setTimeout(r, 200));

    await redis.start();
    await waitForStore(a, "up");
    await waitForStore(b, "up");
    assert.equal(metric(await a.metrics(), "gatehouse_store_up"), 1);
    // The local attack restarted only A's local window. Redis still holds the event from before
    // the outage, and A merged in its one leftover: 2 in the shared window. One more event, on
    // replica B, completes the threshold, and the escalation history includes the attack A
    // decided locally.
    const bBefore = attacks(b).length;
    assert.equal((await postEvents(b.eventsSocket, events(1, user, 5), NDJSON)).status, 202);
    await waitFor(
      () => (attacks(b).length > bBefore ? true : undefined),
      "the attack on replica B after the outage",
    );
    const last = attacks(b).at(-1)!;
    assert.equal((last.actor as { value: string }).value, user);
    assert.equal(last.count, 2, "the attack decided during the outage is remembered for escalation");
    for (const g of replicas) assert.ok(g.alive(), "no replica crashed");
  });
});

describe("Redis unreachable when Gatehouse starts", { timeout: 60_000 }, () => {
  let policy: string;
  let redis: RedisServer;
  let app: FakeApp;
  let gatehouse: GatehouseProcess;

  before(async () => {
    policy = policyFile(POLICY);
    redis = await startRedis();
    await redis.stop();
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
  });

  after(async () => {
    await gatehouse?.kill();
    await app?.close();
    await redis?.close();
  });

  it("starts and serves, degraded, counts locally, and joins Redis once it appears", async () => {
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policy, "--redis", redis.url],
    });
    const ready = async () =>
      (await (await fetch(`${gatehouse.adminUrl}/readyz`)).json()) as {
        status: string;
        checks: { store: { status: string } };
      };
    assert.equal((await ready()).status, "degraded");
    assert.equal(metric(await gatehouse.metrics(), "gatehouse_store_up"), 0);
    assert.equal((await fetch(gatehouse.proxyUrl)).status, 200, "traffic flows without Redis");
    assert.equal((await postEvents(gatehouse.eventsSocket, events(3, "early"), NDJSON)).status, 202);
    await waitFor(() => (attacks(gatehouse).length === 1 ? true : undefined), "a local attack");
    await redis.start();
    await waitFor(
      async () => ((await ready()).status === "ready" ? true : undefined),
      "ready once Redis is up",
      15_000,
    );
    assert.equal(metric(await gatehouse.metrics(), "gatehouse_store_up"), 1);
  });
});
