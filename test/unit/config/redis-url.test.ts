/** The `redis` setting's URL forms: one server, Sentinel and Cluster, and clear refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRedisUrl } from "../../../src/config/redis-url.ts";

describe("the redis setting", () => {
  it("one server, with password and database", () => {
    assert.deepEqual(parseRedisUrl("redis://:s%40cret@cache.internal:6380/2"), {
      mode: "single",
      node: { host: "cache.internal", port: 6380 },
      tls: false,
      password: "s@cret",
      db: 2,
    });
    assert.deepEqual(parseRedisUrl("rediss://gatehouse:pw@[::1]"), {
      mode: "single",
      node: { host: "::1", port: 6379 },
      tls: true,
      username: "gatehouse",
      password: "pw",
      db: 0,
    });
  });

  it("Sentinel: several sentinels and the master's name", () => {
    assert.deepEqual(
      parseRedisUrl("redis+sentinel://:pw@s1:26379,s2,s3:26380/mymaster?sentinelPassword=spw"),
      {
        mode: "sentinel",
        sentinels: [
          { host: "s1", port: 26379 },
          { host: "s2", port: 26379 },
          { host: "s3", port: 26380 },
        ],
        name: "mymaster",
        tls: false,
        password: "pw",
        sentinelPassword: "spw",
        db: 0,
      },
    );
  });

  it("Cluster: several seed nodes", () => {
    assert.deepEqual(parseRedisUrl("rediss+cluster://10.0.0.1:7000,10.0.0.2:7001"), {
      mode: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
      tls: true,
    });
  });

  it("says what is wrong, never echoing the password", () => {
    const cases: [string, RegExp][] = [
      ["http://localhost:6379", /not a Redis URL/],
      ["redis://a:1,b:2", /names one server/],
      ["redis+sentinel://:hunter2@s1:26379", /master name/],
      ["redis+cluster://:hunter2@n1:7000/3", /only database 0/],
      ["redis://:hunter2@host:99999", /is not host:port/],
      ["redis://host/x", /not a database number/],
      ["redis://host?tls=1", /unknown Redis URL parameter "tls"/],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => parseRedisUrl(url),
        (err: Error) => message.test(err.message) && !err.message.includes("hunter2"),
        url,
      );
    }
  });
});
