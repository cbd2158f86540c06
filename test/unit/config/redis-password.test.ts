/**
 * `redisPassword` keeps the Redis password out of the URL (a Kubernetes Secret in
 * GATEHOUSE_REDIS_PASSWORD, the URL in plain values): Gatehouse puts it into the URL itself,
 * encoded, and refuses it where it cannot mean one thing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatProblem, loadConfig, withPassword } from "../../../src/config/load.ts";
import { parseRedisUrl } from "../../../src/config/redis-url.ts";

describe("redisPassword", () => {
  it("is put into the URL from the environment, encoded, and read back by the URL parser", () => {
    const password = "p@ss:w/rd?#%&";
    const result = loadConfig({
      env: { GATEHOUSE_REDIS: "redis://redis.example.internal:6379/2", GATEHOUSE_REDIS_PASSWORD: password },
    });
    assert.ok(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
    const target = parseRedisUrl(result.config.redis!);
    assert.equal(target.password, password);
    assert.equal(target.mode === "single" ? target.node.host : "", "redis.example.internal");
    assert.equal(target.mode === "single" ? target.db : -1, 2);
  });

  it("keeps a user name, and works for Sentinel and Cluster URLs", () => {
    assert.equal(parseRedisUrl(withPassword("redis://app@r:6379", "pw")).username, "app");
    const sentinel = parseRedisUrl(
      withPassword("redis+sentinel://s1:26379,s2:26379/mymaster?sentinelPassword=x", "pw"),
    );
    assert.equal(sentinel.password, "pw");
    assert.equal(sentinel.mode === "sentinel" ? sentinel.name : "", "mymaster");
    const cluster = parseRedisUrl(withPassword("redis+cluster://a:7000,b:7001", "pw"));
    assert.equal(cluster.mode === "cluster" ? cluster.nodes.length : 0, 2);
    assert.equal(cluster.password, "pw");
  });

  it("is refused without a Redis URL, or when the URL has a password already", () => {
    const alone = loadConfig({ env: { GATEHOUSE_REDIS_PASSWORD: "pw" } });
    assert.ok(!alone.ok);
    assert.deepEqual(alone.problems.map(formatProblem), [
      "env GATEHOUSE_REDIS_PASSWORD redisPassword: needs redis: there is no Redis URL to use it with",
    ]);
    const twice = loadConfig({
      flags: new Map([
        ["redis", ["redis://:one@r:6379"]],
        ["redisPassword", ["two"]],
      ]),
    });
    assert.ok(!twice.ok);
    assert.deepEqual(twice.problems.map(formatProblem), [
      "flag --redis-password redisPassword: the redis URL has a password already: give it in one place",
    ]);
  });

  it("says nothing more when the URL itself was refused", () => {
    const result = loadConfig({ env: { GATEHOUSE_REDIS: "http://r:6379", GATEHOUSE_REDIS_PASSWORD: "pw" } });
    assert.ok(!result.ok);
    assert.deepEqual(
      result.problems.map((p) => p.path),
      ["redis"],
    );
  });

  it("never shows the password in a problem", () => {
    const result = loadConfig({ env: { GATEHOUSE_REDIS_PASSWORD: "line\nbreak-secret" } });
    assert.ok(!result.ok);
    assert.ok(!result.problems.map(formatProblem).join("\n").includes("break-secret"));
  });
});
