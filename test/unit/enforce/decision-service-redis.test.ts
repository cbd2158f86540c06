/**
 * Decisions shared through Redis are held without their reasons (decision-index.ts, `columns`):
 * the service completes them from Redis for the admin API, and says when it cannot. Against a
 * redis-server this file starts, with two replicas as serve wires them (create-enforcement.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DecisionIndex, emptyMatches } from "../../../src/enforce/decision-index.ts";
import { createDecisionService, decisionCodec } from "../../../src/enforce/decision-service.ts";
import { systemClock } from "../../../src/store/clock.ts";
import type { Decision } from "../../../src/store/decision.ts";
import { RedisReplicatedMap } from "../../../src/store/redis-replicated-map.ts";
import { type RedisServer, startRedis } from "../../helpers/redis.ts";
import { waitFor } from "../../helpers/wait.ts";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.close();
});

function replica(app: string) {
  const index = new DecisionIndex({ clock: systemClock, keep: "columns" });
  const map = new RedisReplicatedMap<Decision>({
    url: redis.url,
    app,
    name: "decisions",
    codec: decisionCodec,
    clock: systemClock,
    retry: { maxMs: 200 },
    timeoutMs: 500,
    local: index.store,
  });
  const service = createDecisionService(map, systemClock, { newestFirst: () => index.newestFirst() });
  return { index, map, service };
}

const up = (map: RedisReplicatedMap<Decision>) => map.loaded() && map.status().status === "up";

describe("decisions held without reasons, completed from Redis", () => {
  it("another replica enforces a decision and lists it with its reason while Redis is up, without it when not", async () => {
    const a = replica("reasons");
    const b = replica("reasons");
    try {
      await waitFor(() => up(a.map) && up(b.map), "both replicas loaded and up");
      const policy: Decision = {
        id: "p-1",
        action: "block",
        scope: "ip",
        value: "203.0.113.9",
        routes: null,
        until: Date.now() + 60_000,
        createdAt: Date.now(),
        origin: "policy",
        reason: { detectionPoint: "AE2", attackId: "atk-1", mode: "enforce", response: "block-ip" },
        rate: null,
        status: null,
        delayMs: null,
      };
      a.service.apply(policy);
      const manual = a.service.add(
        {
          action: "flag",
          scope: "user",
          value: "mallory",
          routes: null,
          until: Date.now() + 60_000,
          rate: null,
          status: null,
          delayMs: null,
          reason: "seen probing the admin pages",
        },
        "manual",
      );
      await waitFor(() => b.map.size === 2, "both decisions on replica B");
      const m = b.index.match(
        { ip: "203.0.113.9", user: "mallory", session: null, method: "GET", path: "/" },
        emptyMatches(),
      );
      assert.equal(m.block?.id, "p-1");
      assert.equal(m.flag?.id, manual.id);

      const held = [...b.service.newestFirst()];
      assert.deepEqual(
        held.map((d) => d.reason),
        [{ mode: "enforce" }, { mode: "enforce" }],
        "held without reasons",
      );
      const read = await b.service.complete(held);
      assert.equal(read.complete, true);
      const byId = new Map(read.decisions.map((d) => [d.id, d]));
      assert.deepEqual(byId.get("p-1"), policy);
      assert.deepEqual(byId.get(manual.id)?.reason, {
        mode: "enforce",
        text: "seen probing the admin pages",
      });

      await redis.stop();
      await waitFor(() => b.map.status().status === "degraded", "replica B degraded");
      const offline = await b.service.complete([...b.service.newestFirst()]);
      assert.equal(offline.complete, false);
      assert.deepEqual(
        offline.decisions.map((d) => d.id).sort(),
        ["p-1", manual.id].sort(),
        "still listed, and still enforced",
      );
      assert.equal(
        b.index.match(
          { ip: "203.0.113.9", user: null, session: null, method: "GET", path: "/" },
          emptyMatches(),
        ).block?.id,
        "p-1",
      );
    } finally {
      await redis.start();
      await Promise.all([a.map.close(), b.map.close()]);
    }
  });
});
