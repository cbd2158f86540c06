/**
 * A Redis that requires a password, given as GATEHOUSE_REDIS_PASSWORD beside a URL without one
 * (how the Helm chart passes a Secret): Gatehouse authenticates and shares state; with the wrong
 * password it still serves, reports the store down, and never logs the password.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { type RedisServer, rawCommand, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

const PASSWORD = "s3cr:t/p@ss#word";

describe("Redis with a password from GATEHOUSE_REDIS_PASSWORD", { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let app: FakeApp;
  const started: GatehouseProcess[] = [];

  before(async () => {
    redis = await startRedis();
    await rawCommand(redis.port, `CONFIG SET requirepass "${PASSWORD}"`, "+OK");
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
  });

  after(async () => {
    await Promise.all(started.map((g) => g.stop()));
    await app?.close();
    await redis?.close();
  });

  async function gatehouse(password: string): Promise<GatehouseProcess> {
    const g = await startGatehouse({
      upstream: app.upstream,
      env: { GATEHOUSE_REDIS: redis.url, GATEHOUSE_REDIS_PASSWORD: password },
    });
    started.push(g);
    return g;
  }

  it("authenticates with the password, which the URL does not carry", async () => {
    const g = await gatehouse(PASSWORD);
    await waitFor(async () => metric(await g.metrics(), "gatehouse_store_up") === 1, "store up");
    assert.equal((await fetch(`${g.proxyUrl}/`)).status, 200);
  });

  it("with a wrong password: serves, reports the store down, and never logs the password", async () => {
    const wrong = "not-the-right-one";
    const g = await gatehouse(wrong);
    assert.equal((await fetch(`${g.proxyUrl}/`)).status, 200);
    assert.equal(metric(await g.metrics(), "gatehouse_store_up"), 0);
    const logged = JSON.stringify(g.logs);
    assert.ok(!logged.includes(wrong) && !logged.includes(PASSWORD), "no password in the logs");
  });
});
