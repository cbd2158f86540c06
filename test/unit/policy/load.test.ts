import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  formatPolicyProblem,
  loadPolicyFiles,
  loadPolicySources,
  type PolicyResult,
} from "../../../src/policy/load.ts";
import type { Policy } from "../../../src/policy/policy.ts";

const DESIGN = fileURLToPath(new URL("../../fixtures/policy/design-example.yaml", import.meta.url));

function loaded(result: PolicyResult): Policy {
  assert.ok(result.ok, result.ok ? "" : result.problems.map(formatPolicyProblem).join("\n"));
  return result.policy;
}

function problems(result: PolicyResult): string[] {
  assert.equal(result.ok, false, "expected the policy to be refused");
  return result.ok ? [] : result.problems.map(formatPolicyProblem);
}

const one = (text: string, options?: Parameters<typeof loadPolicySources>[1]) =>
  loadPolicySources([{ name: "p.yaml", text }], options);

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-policy-"));
  temps.push(dir);
  return dir;
}

describe("the DESIGN section 4 example", () => {
  const result = loadPolicyFiles([DESIGN]);
  const policy = loaded(result);
  const names = (defs: readonly { name: string }[]) => defs.map((d) => d.name);

  it("compiles detection points: thresholds in ms, per, ladders resolved, modes, sources", () => {
    assert.deepEqual([...policy.detectionPoints.keys()], ["IE1", "AE2"]);
    const ie1 = policy.detectionPoints.get("IE1")!;
    assert.deepEqual(ie1.threshold, { count: 3, withinMs: 600_000 });
    assert.equal(ie1.per, "user");
    assert.deepEqual(names(ie1.responses), ["log", "logout", "block-user"]);
    assert.equal(ie1.mode, "enforce");
    assert.equal(ie1.source, `${DESIGN}:3:3`);
    const ae2 = policy.detectionPoints.get("AE2")!;
    assert.deepEqual(ae2.threshold, { count: 5, withinMs: 300_000 });
    assert.deepEqual(names(ae2.responses), ["throttle-ip", "block-ip", "block-range"]);
    assert.equal(ae2.responses[0], policy.responses.get("throttle-ip"), "ladders share the definitions");
  });

  it("compiles the rule and indexes it by label", () => {
    assert.equal(policy.rules.length, 1);
    const rule = policy.rules[0]!;
    assert.deepEqual(
      { ...rule, responses: names(rule.responses) },
      {
        name: "probe-then-inject",
        per: "ip",
        prefix: { ipv4: 24, ipv6: 64 },
        withinMs: 900_000,
        match: { kind: "sequence", labels: ["ACE3", "IE1"] },
        responses: ["block-range"],
        mode: "enforce",
        source: `${DESIGN}:12:5`,
      },
    );
    assert.deepEqual([...policy.rulesByLabel.keys()], ["ACE3", "IE1"]);
    assert.equal(policy.rulesByLabel.get("IE1")![0], rule);
  });

  it("compiles every response with its defaults", () => {
    const none = {
      scope: null,
      durationMs: null,
      rate: null,
      routes: null,
      status: null,
      delayMs: null,
      channel: null,
    };
    const prefix = { ipv4: 24, ipv6: 64 };
    const r = (name: string) => policy.responses.get(name);
    assert.deepEqual(r("log"), { ...none, name: "log", action: "log", prefix });
    assert.deepEqual(r("logout"), {
      ...none,
      name: "logout",
      action: "logout",
      scope: "session",
      durationMs: 86_400_000,
      prefix,
    });
    assert.deepEqual(r("block-user"), {
      ...none,
      name: "block-user",
      action: "block",
      scope: "user",
      durationMs: 3_600_000,
      prefix,
    });
    assert.deepEqual(r("block-range"), {
      ...none,
      name: "block-range",
      action: "block",
      scope: "range",
      durationMs: 3_600_000,
      prefix,
    });
    assert.deepEqual(r("throttle-ip"), {
      ...none,
      name: "throttle-ip",
      action: "throttle",
      scope: "ip",
      durationMs: 900_000,
      rate: { count: 10, perMs: 60_000 },
      prefix,
    });
    assert.deepEqual(r("disable-upload"), {
      ...none,
      name: "disable-upload",
      action: "disable",
      scope: "global",
      durationMs: 1_800_000,
      routes: ["POST /upload/*"],
      status: 503,
      prefix,
    });
    assert.deepEqual(r("page-ops"), { ...none, name: "page-ops", action: "notify", channel: "ops", prefix });
    assert.equal(policy.responses.size, 8);
  });

  it("compiles breach, notify, allowlist, identity, escalation and edge", () => {
    assert.equal(policy.mode, "enforce");
    assert.deepEqual(names(policy.breach.responses), ["logout", "block-user", "page-ops"]);
    assert.equal(policy.breach.mode, "enforce");
    assert.deepEqual(policy.notify.get("ops"), {
      name: "ops",
      webhook: "https://alerts.example.internal/hook",
      format: "slack",
      // Delivery defaults: hourly digest, 30 messages a minute, 5 s per attempt, 5 retries.
      digestMs: 3_600_000,
      rateLimit: { count: 30, perMs: 60_000 },
      timeoutMs: 5000,
      retries: 5,
    });
    assert.deepEqual(policy.incidents, { windowMs: 3_600_000, retentionMs: 7 * 86_400_000 });
    assert.equal(policy.allowlist.ips("10.1.2.3"), true);
    assert.equal(policy.allowlist.ips("11.0.0.1"), false);
    assert.deepEqual(
      policy.allowlist.cidrs.map((c) => c.text),
      ["10.0.0.0/8"],
    );
    assert.equal(policy.allowlist.users.has("healthcheck-bot"), true);
    assert.deepEqual(policy.identity, { sessionCookies: ["sid"] });
    assert.deepEqual(policy.escalation, { memoryMs: 86_400_000 });
    assert.deepEqual(policy.edge, {
      detect: ["RE2", "EE1", "CIE3", "CIE4", "IE1", "CIE1", "ACE3"],
      routes: [
        {
          route: "POST /login",
          login: { failureStatus: [401, 403], guessing: { failures: 10, withinMs: 600_000 } },
        },
        { route: "GET /api/items/*", login: null },
      ],
      honeyTraps: {
        routes: ["GET /.env", "GET /backup.zip"],
        tokens: ["7f3a9c-canary-ssn-000-00-0000", "backup_admin"],
      },
      limits: { paramLength: 2048, bodyBytes: 10 * 1024 * 1024, requestRate: { count: 50, perMs: 1000 } },
    });
    assert.deepEqual(policy.files, [DESIGN]);
  });

  it("warns about the response nothing uses", () => {
    assert.ok(result.ok);
    assert.deepEqual(result.warnings.map(formatPolicyProblem), [
      `${DESIGN}:24:3 responses.disable-upload: is defined but no detection point, rule or breach uses it`,
    ]);
  });

  it("is frozen all the way down, maps and sets included", () => {
    assert.throws(() => {
      (policy as { mode: string }).mode = "shadow";
    }, TypeError);
    assert.throws(() => (policy.rules as unknown[]).push({}), TypeError);
    assert.throws(() => {
      (policy.responses.get("block-ip") as { durationMs: number }).durationMs = 1;
    }, TypeError);
    assert.throws(() => {
      (policy.detectionPoints.get("IE1")!.threshold as { count: number }).count = 1;
    }, TypeError);
    assert.equal((policy.detectionPoints as unknown as Map<string, unknown>).set, undefined);
    assert.equal((policy.allowlist.users as unknown as Set<string>).add, undefined);
    assert.throws(
      () => (Map.prototype.set as (k: string, v: unknown) => void).call(policy.responses, "x", 1),
      TypeError,
    );
  });
});

describe("defaults and modes", () => {
  it("an empty file is a valid empty policy", () => {
    const policy = loaded(one(""));
    assert.equal(policy.detectionPoints.size, 0);
    assert.deepEqual(policy.rules, []);
    assert.equal(policy.mode, "enforce");
    assert.deepEqual(policy.breach, { responses: [], mode: "enforce" });
    assert.deepEqual(policy.identity, { sessionCookies: null });
    assert.deepEqual(policy.escalation, { memoryMs: 24 * 3_600_000 });
    assert.equal(policy.allowlist.ips("10.0.0.1"), false);
    assert.deepEqual(policy.edge, {
      detect: [],
      routes: [],
      honeyTraps: { routes: [], tokens: [] },
      limits: { paramLength: null, bodyBytes: null, requestRate: null },
    });
  });

  const text = [
    "mode: shadow",
    "detectionPoints:",
    "  IE1: { threshold: { count: 1, within: 1m }, responses: [b] }",
    "  AE2: { threshold: { count: 1, within: 1m }, responses: [b], mode: enforce, per: range }",
    "rules:",
    "  - { name: r, within: 1m, any: [IE1, AE2], count: 3, responses: [b] }",
    "breach: { responses: [b] }",
    "responses:",
    "  b: { action: block, scope: range, prefix: { ipv4: 16 }, duration: 1h }",
  ].join("\n");

  it("absent per is null (user, then session, then ip); the file's mode is each entry's default", () => {
    const policy = loaded(one(text));
    assert.equal(policy.mode, "shadow");
    assert.equal(policy.detectionPoints.get("IE1")!.per, null);
    assert.equal(policy.detectionPoints.get("IE1")!.mode, "shadow");
    assert.equal(policy.detectionPoints.get("AE2")!.per, "range");
    assert.equal(policy.detectionPoints.get("AE2")!.mode, "enforce");
    assert.equal(policy.rules[0]!.mode, "shadow");
    assert.deepEqual(policy.rules[0]!.match, { kind: "any", labels: ["IE1", "AE2"], count: 3 });
    assert.equal(policy.breach.mode, "shadow");
    assert.deepEqual(policy.responses.get("b")!.prefix, { ipv4: 16, ipv6: 64 });
  });

  it("options.mode (the process-wide --mode) overrides every entry and the breach", () => {
    const enforced = loaded(one(text, { mode: "enforce" }));
    assert.equal(enforced.mode, "enforce");
    assert.equal(enforced.detectionPoints.get("IE1")!.mode, "enforce");
    assert.equal(enforced.rules[0]!.mode, "enforce");
    assert.equal(enforced.breach.mode, "enforce");
    const shadowed = loaded(one(text, { mode: "shadow" }));
    assert.equal(shadowed.detectionPoints.get("AE2")!.mode, "shadow");
    assert.equal(loaded(one("", { mode: "shadow" })).breach.mode, "shadow");
    assert.equal(loaded(one(text, { mode: null })).detectionPoints.get("AE2")!.mode, "enforce");
  });

  it("an any rule counts 1 event unless told; a breach may be empty; a ladder of log alone is fine", () => {
    const result = one(
      [
        "detectionPoints: { IE1: { threshold: { count: 1, within: 1m }, responses: [l] } }",
        "rules: [{ name: a, within: 1m, any: [IE1], responses: [l] }]",
        "breach: { responses: [], mode: shadow }",
        "responses: { l: { action: log } }",
      ].join("\n"),
    );
    const policy = loaded(result);
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(policy.rules[0]!.match, { kind: "any", labels: ["IE1"], count: 1 });
    assert.deepEqual(policy.breach, { responses: [], mode: "shadow" });
  });

  it("a sequence rule has no count; within is in milliseconds", () => {
    const policy = loaded(
      one(
        "rules: [{ name: s, within: 500ms, all: [A, B, A], responses: [l] }]\nresponses: { l: { action: log } }",
      ),
    );
    assert.deepEqual(policy.rules[0]!.match, { kind: "all", labels: ["A", "B", "A"] });
    assert.equal(policy.rules[0]!.withinMs, 500);
    assert.deepEqual(policy.rulesByLabel.get("A"), [policy.rules[0]]);
  });
});

describe("several files", () => {
  const first = {
    name: "a.yaml",
    text: [
      "detectionPoints:",
      "  IE1: { threshold: { count: 1, within: 1m }, responses: [block-ip] }",
      "rules: [{ name: r1, within: 1m, any: [IE1], responses: [page] }]",
      "allowlist: { ips: [10.0.0.0/8], users: [bot] }",
      "edge: { detect: [RE2], limits: { bodyBytes: 1MB } }",
    ].join("\n"),
  };
  const second = {
    name: "b.yaml",
    text: [
      "mode: shadow",
      "detectionPoints:",
      "  AE2: { threshold: { count: 1, within: 1m }, responses: [block-ip] }",
      "rules: [{ name: r2, within: 1m, any: [AE2], responses: [block-ip] }]",
      "responses:",
      "  block-ip: { action: block, scope: ip, duration: 1m }",
      "  page: { action: notify, channel: ops }",
      "notify: { ops: { webhook: 'https://hooks.example/x' } }",
      "allowlist: { ips: ['2001:db8::/32', 10.0.0.0/8], users: [ops-bot] }",
      "edge: { detect: [RE2, EE1], limits: { requestRate: 5/s } }",
    ].join("\n"),
  };

  it("make one policy: names merged, rules concatenated, allowlists unioned, modes per file", () => {
    const policy = loaded(loadPolicySources([first, second]));
    assert.deepEqual(policy.files, ["a.yaml", "b.yaml"]);
    assert.equal(policy.mode, "enforce", "the first file's mode");
    assert.deepEqual([...policy.detectionPoints.keys()], ["IE1", "AE2"]);
    assert.equal(
      policy.detectionPoints.get("IE1")!.responses[0]!.name,
      "block-ip",
      "defined in another file",
    );
    assert.equal(policy.detectionPoints.get("IE1")!.mode, "enforce");
    assert.equal(policy.detectionPoints.get("AE2")!.mode, "shadow");
    assert.deepEqual(
      policy.rules.map((r) => [r.name, r.mode]),
      [
        ["r1", "enforce"],
        ["r2", "shadow"],
      ],
    );
    assert.deepEqual(
      policy.allowlist.cidrs.map((c) => c.text),
      ["10.0.0.0/8", "2001:db8::/32"],
    );
    assert.equal(policy.allowlist.ips("2001:db8::1"), true);
    assert.deepEqual([...policy.allowlist.users], ["bot", "ops-bot"]);
    assert.deepEqual(policy.edge.detect, ["RE2", "EE1"]);
    assert.deepEqual(policy.edge.limits, {
      paramLength: null,
      bodyBytes: 1024 * 1024,
      requestRate: { count: 5, perMs: 1000 },
    });
  });

  it("report problems by file in the order given, then by line and column", () => {
    const result = loadPolicySources([
      { name: "a.yaml", text: "mode: x\nrules: [{ name: r, within: 1m, any: [IE1], responses: [nope] }]\n" },
      { name: "b.yaml", text: "escalation: { memory: 1y }\nmode: y\n" },
    ]);
    assert.deepEqual(problems(result), [
      'a.yaml:1:7 mode: "x" is not one of enforce, shadow',
      'a.yaml:2:56 rules.0.responses.0: unknown response "nope" (define it under responses:)',
      'b.yaml:1:23 escalation.memory: "1y" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)',
      'b.yaml:2:7 mode: "y" is not one of enforce, shadow',
    ]);
  });

  it("refuses the same file given twice", () => {
    const file = { name: "a.yaml", text: "responses: { l: { action: log } }\n" };
    assert.deepEqual(problems(loadPolicySources([file, file])), ["a.yaml (file): is given more than once"]);
  });
});

describe("files", () => {
  it("a missing file, a directory, a file over 1 MiB, a device and a binary file are problems", () => {
    const dir = tempDir();
    const big = join(dir, "big.yaml");
    writeFileSync(big, `# ${"x".repeat(1024 * 1024)}\n`);
    const binary = join(dir, "binary.yaml");
    writeFileSync(binary, Buffer.from([0x6d, 0x6f, 0x64, 0x65, 0x3a, 0x00, 0xff, 0xfe]));
    const lines = problems(loadPolicyFiles([join(dir, "missing.yaml"), dir, big, "/dev/zero", binary]));
    assert.deepEqual(lines, [
      `${join(dir, "missing.yaml")} (file): does not exist`,
      `${dir} (file): is a directory, not a policy file`,
      `${big} (file): is ${1024 * 1024 + 3} bytes; the limit is 1 MiB`,
      "/dev/zero (file): is not a regular file",
      `${binary} (file): is not a text file (it contains NUL bytes)`,
    ]);
  });

  it("reads a valid file from disk", () => {
    const file = join(tempDir(), "p.yaml");
    writeFileSync(file, "responses:\n  l: { action: log }\n");
    const result = loadPolicyFiles([file]);
    assert.ok(result.ok);
    assert.deepEqual(result.warnings.map(formatPolicyProblem), [
      `${file}:2:3 responses.l: is defined but no detection point, rule or breach uses it`,
    ]);
  });
});

describe("hostile input gives problems, never a throw or a hang", () => {
  const quick = (text: string) => {
    const started = performance.now();
    const lines = problems(one(text));
    assert.ok(performance.now() - started < 5_000, "took too long");
    return lines;
  };

  it("deep nesting", () => {
    assert.deepEqual(quick(`rules: ${"[".repeat(100_000)}${"]".repeat(100_000)}`), [
      "p.yaml:1:779 (yaml): is nested too deeply to parse",
    ]);
  });

  it("an alias bomb", () => {
    let text = "a: &a [x, x, x, x, x, x, x, x, x]\n";
    for (let i = 0; i < 9; i++)
      text += `b${i}: &b${i} [${Array(9)
        .fill(i === 0 ? "*a" : `*b${i - 1}`)
        .join(", ")}]\n`;
    assert.deepEqual(quick(text), [
      "p.yaml (yaml): Excessive alias count indicates a resource exhaustion attack",
    ]);
  });

  it("an alias that refers to its own list", () => {
    assert.deepEqual(quick("rules: &r [*r]\n"), ["p.yaml:1:11 rules.0: must be a mapping"]);
  });

  it("binary garbage", () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => ((i * 7919) % 255) + 1)).toString(
      "latin1",
    );
    const lines = quick(garbage);
    assert.ok(lines.length >= 1 && lines.length <= 101, lines.join("\n"));
  });

  it("a 10 000-entry list or mapping is one problem", () => {
    const users = Array.from({ length: 10_000 }, (_, i) => `u${i}`).join(", ");
    assert.deepEqual(quick(`allowlist:\n  users: [${users}]\n`), [
      "p.yaml:2:10 allowlist.users: has 10000 items; at most 4096 are allowed",
    ]);
    const points = Array.from({ length: 10_000 }, (_, i) => `  X${i}: 1`).join("\n");
    assert.deepEqual(quick(`detectionPoints:\n${points}\n`), [
      "p.yaml:2:3 detectionPoints: has 10000 entries; at most 1000 are allowed",
    ]);
  });

  it("at most 100 problems a file, then a count of the rest", () => {
    const points = Array.from({ length: 300 }, (_, i) => `  X${i}: 1`).join("\n");
    const lines = quick(`detectionPoints:\n${points}\n`);
    assert.equal(lines.length, 101);
    assert.equal(lines[99], "p.yaml:101:8 detectionPoints.X99: must be a mapping");
    assert.equal(lines[100], "p.yaml (file): 200 more problems not shown");
  });

  it("keys that name Object.prototype's properties", () => {
    assert.deepEqual(quick("__proto__: 1\nconstructor: {}\nresponses:\n  x: { action: toString }\n"), [
      "p.yaml:1:1 __proto__: unknown key",
      "p.yaml:2:1 constructor: unknown key",
      'p.yaml:4:16 responses.x.action: "toString" is not one of block, throttle, disable, logout, tarpit, flag, notify, log',
    ]);
  });

  it("a document that is a scalar, a list, several documents or a complex key", () => {
    assert.deepEqual(quick("just text"), ["p.yaml:1:1 (root): must be a mapping"]);
    assert.deepEqual(quick("- a\n"), ["p.yaml:1:1 (root): must be a mapping"]);
    assert.deepEqual(quick("mode: enforce\n---\nmode: shadow\n"), [
      "p.yaml:2:1 (yaml): Source contains multiple documents; please use YAML.parseAllDocuments()",
    ]);
    assert.deepEqual(quick("? [a, b]\n: 1\n"), [
      "p.yaml:1:3 (root): keys must be plain names, not lists, mappings or empty",
    ]);
  });
});
