import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatProblem, loadConfig } from "../../../src/config/load.ts";
import { envName, flagName, SETTINGS } from "../../../src/config/settings.ts";

const FIXTURES = new URL("../../fixtures/config/", import.meta.url).pathname;
const fixture = (name: string) => join(FIXTURES, name);

function problems(result: ReturnType<typeof loadConfig>): string[] {
  assert.equal(result.ok, false, "expected the configuration to be refused");
  return result.ok ? [] : result.problems.map(formatProblem);
}

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempFile(content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-config-"));
  temps.push(dir);
  const file = join(dir, "config.yaml");
  writeFileSync(file, content);
  return file;
}

describe("defaults", () => {
  it("match DESIGN section 7", () => {
    const result = loadConfig({});
    assert.ok(result.ok);
    const c = result.config;
    assert.deepEqual(c.listen, { host: "0.0.0.0", port: 8080 });
    assert.equal(c.upstream.text, "http://127.0.0.1:3000");
    assert.deepEqual(c.adminListen, { host: "127.0.0.1", port: 9090 });
    assert.equal(c.adminToken, null);
    assert.equal(c.eventsSocket, "/var/run/gatehouse/events.sock");
    assert.equal(c.eventsListen, null);
    assert.deepEqual(c.policy, ["policies/default.yaml"]);
    assert.equal(c.redis, null);
    assert.equal(c.app, "default");
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.mode, null);
    assert.deepEqual(c.identity.sessionCookies, ["sid", "connect.sid", "session", "JSESSIONID", "PHPSESSID"]);
  });

  it("is frozen all the way down", () => {
    const result = loadConfig({});
    assert.ok(result.ok);
    assert.throws(() => {
      (result.config.timeouts as { idle: number }).idle = 1;
    }, TypeError);
    assert.throws(() => {
      (result.config.identity.sessionCookies as string[]).push("x");
    }, TypeError);
  });
});

describe("sources and precedence", () => {
  it("reads a complete file", () => {
    const result = loadConfig({ file: fixture("valid.yaml") });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    const c = result.config;
    assert.deepEqual(c.upstream, {
      kind: "unix",
      path: "/var/run/app/app.sock",
      text: "unix:/var/run/app/app.sock",
    });
    assert.equal(c.app, "shop");
    assert.deepEqual(
      c.trustedProxies.map((p) => p.text),
      ["10.0.0.0/8", "2001:db8::/32", "127.0.0.0/8", "::1/128"],
    );
    assert.equal(c.timeouts.upstreamConnect, 2000);
    assert.equal(c.timeouts.clientHeaders, 10_000, "unset keys keep their defaults");
    assert.equal(c.limits.headerBytes, 32 * 1024);
    assert.equal(c.identity.userHeader, "X-Authenticated-User");
  });

  it("flag > env > file > default", () => {
    const file = tempFile("listen: 0.0.0.0:1111\nadminListen: 127.0.0.1:2222\napp: from-file\n");
    const result = loadConfig({
      file,
      env: { GATEHOUSE_LISTEN: "0.0.0.0:3333", GATEHOUSE_APP: "from-env" },
      flags: new Map([["listen", ["0.0.0.0:4444"]]]),
    });
    assert.ok(result.ok);
    assert.equal(result.config.listen.port, 4444);
    assert.equal(result.config.app, "from-env");
    assert.equal(result.config.adminListen.port, 2222);
    assert.equal(result.origin["listen"], "flag --listen");
    assert.equal(result.origin["app"], "env GATEHOUSE_APP");
    assert.match(result.origin["adminListen"]!, /config\.yaml:2:14$/);
  });

  it("lists come as comma lists in the environment and repeated flags", () => {
    const result = loadConfig({
      env: { GATEHOUSE_POLICY: "a.yaml, b.yaml", GATEHOUSE_TRUSTED_PROXIES: "10.0.0.0/8,private" },
      flags: new Map([["identity.sessionCookies", ["sid", "token"]]]),
    });
    assert.ok(result.ok);
    assert.deepEqual(result.config.policy, ["a.yaml", "b.yaml"]);
    assert.equal(result.config.trustedProxies.length, 5);
    assert.deepEqual(result.config.identity.sessionCookies, ["sid", "token"]);
  });

  it("an empty environment variable counts as unset", () => {
    const result = loadConfig({ env: { GATEHOUSE_LISTEN: "" } });
    assert.ok(result.ok);
    assert.equal(result.config.listen.port, 8080);
  });

  it("every setting has a flag and an environment variable derived from its path", () => {
    assert.equal(flagName("adminListen"), "admin-listen");
    assert.equal(envName("adminListen"), "GATEHOUSE_ADMIN_LISTEN");
    assert.equal(envName("timeouts.upstreamConnect"), "GATEHOUSE_TIMEOUTS_UPSTREAM_CONNECT");
    assert.equal(new Set(SETTINGS.map((s) => flagName(s.path))).size, SETTINGS.length, "flags are unique");
  });
});

describe("validation reports every problem at once", () => {
  it("names file, line, column and YAML path for each", () => {
    const file = fixture("many-problems.yaml");
    assert.deepEqual(problems(loadConfig({ file })), [
      `${file}:1:1 listn: unknown setting (did you mean "listen"?)`,
      `${file}:2:11 upstream: "ftp://app:21" has scheme "ftp:"; use http://HOST:PORT or unix:/path/to/app.sock`,
      `${file}:3:14 adminListen: "localhost:99999" is not an address (use HOST:PORT, e.g. 0.0.0.0:8080)`,
      `${file}:5:3 trustedProxies: item 0: "10.0.0.0/33" has an invalid prefix length (0-32 for ipv4)`,
      `${file}:7:20 timeouts.upstreamConnect: "5 minutes" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`,
      `${file}:8:3 timeouts.upstreamRespons: unknown setting (did you mean "timeouts.upstreamResponse"?)`,
      `${file}:10:13 store.failMode: "maybe" is not one of open, closed`,
    ]);
  });

  it("names the environment variable and the flag", () => {
    const result = loadConfig({
      env: { GATEHOUSE_SHUTDOWN_TIMEOUT: "soon" },
      flags: new Map([["trustedProxies", ["10.0.0.0/8", "not-an-ip"]]]),
    });
    assert.deepEqual(problems(result), [
      `env GATEHOUSE_SHUTDOWN_TIMEOUT shutdownTimeout: "soon" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`,
      `flag --trusted-proxies trustedProxies: item 1: "not-an-ip" is not an IP address or CIDR`,
    ]);
  });

  it("never echoes a secret", () => {
    const result = loadConfig({
      env: { GATEHOUSE_ADMIN_TOKEN: "short", GATEHOUSE_REDIS: "http://user:hunter2@db" },
    });
    const text = problems(result).join("\n");
    assert.match(text, /adminToken: the value is not a token of 16 to 512/);
    assert.match(text, /redis: the value is not a Redis URL/);
    assert.ok(!text.includes("short") && !text.includes("hunter2"));
  });

  it("takes Sentinel and Cluster URLs, which list several hosts", () => {
    for (const url of [
      "redis+cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002",
      "redis+sentinel://:secret@10.0.0.1:26379,10.0.0.2:26380/mymaster",
      "rediss://user:pw@redis.internal:6380/2",
    ]) {
      const result = loadConfig({ env: { GATEHOUSE_REDIS: url } });
      assert.ok(result.ok, url);
      assert.equal(result.config.redis, url);
    }
    assert.match(
      problems(loadConfig({ env: { GATEHOUSE_REDIS: "redis://a:1,b:2" } }))[0]!,
      /redis: the value is not a Redis URL \(a redis:\/\/ URL names one server/,
    );
  });

  it("refuses a user header without trusted proxies: anyone could name themselves", () => {
    assert.deepEqual(problems(loadConfig({ env: { GATEHOUSE_IDENTITY_USER_HEADER: "X-User" } })), [
      "env GATEHOUSE_IDENTITY_USER_HEADER identity.userHeader: needs trustedProxies: without them any client could name itself a user",
    ]);
  });

  it("refuses an event listener off loopback: reports are not authenticated", () => {
    assert.match(
      problems(loadConfig({ env: { GATEHOUSE_EVENTS_LISTEN: "0.0.0.0:7070" } }))[0]!,
      /eventsListen: must be a loopback address/,
    );
    assert.ok(loadConfig({ env: { GATEHOUSE_EVENTS_LISTEN: "127.0.0.1:7070" } }).ok);
  });

  it("refuses the admin API on the proxy's address", () => {
    const text = problems(
      loadConfig({ env: { GATEHOUSE_LISTEN: "0.0.0.0:9090", GATEHOUSE_ADMIN_LISTEN: "127.0.0.1:9090" } }),
    );
    assert.match(text.join(), /adminListen: must differ from listen/);
  });

  it("reports YAML syntax errors with their position", () => {
    const file = tempFile("listen: [unclosed\nupstream: http://x:1\n");
    const [first] = problems(loadConfig({ file }));
    assert.match(first!, /config\.yaml:\d+:\d+ \(yaml\): /);
  });

  it("refuses duplicate keys", () => {
    const file = tempFile("listen: 0.0.0.0:1\nlisten: 0.0.0.0:2\n");
    assert.match(problems(loadConfig({ file }))[0]!, /config\.yaml:2:1 \(yaml\): Map keys must be unique/);
  });

  it("refuses a file that is not a mapping, a missing file and an oversized one", () => {
    assert.match(
      problems(loadConfig({ file: tempFile("- just\n- a list\n") }))[0]!,
      /config\.yaml:1:1 \(root\): must be a mapping/,
    );
    assert.match(
      problems(loadConfig({ file: "/nonexistent/gatehouse.yaml" }))[0]!,
      /\(file\): cannot be read: ENOENT/,
    );
    assert.match(
      problems(loadConfig({ file: tempFile(Buffer.alloc(2 * 1024 * 1024, 0x20)) }))[0]!,
      /the limit is 1 MiB/,
    );
  });

  it("survives hostile YAML: alias bombs, deep nesting, binary junk", () => {
    const bomb = [
      "a: &a [x,x,x,x,x,x,x,x,x]",
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ),
    ].join("\n");
    for (const content of [
      bomb,
      `${"[".repeat(5000)}${"]".repeat(5000)}`,
      Buffer.from([0, 255, 254, 1, 2, 3]),
    ]) {
      const result = loadConfig({ file: tempFile(content) });
      assert.equal(result.ok, false);
    }
  });

  it("a group that is not a mapping is an error, not a crash", () => {
    assert.match(
      problems(loadConfig({ file: tempFile("timeouts: 5s\n") }))[0]!,
      /config\.yaml:1:11 timeouts: must be a mapping/,
    );
  });
});
