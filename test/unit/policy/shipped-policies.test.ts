/**
 * The policies Gatehouse ships (policies/default.yaml, the one `serve` and `demo` load by default,
 * and policies/examples/): each loads with no problem and no warning, agrees with
 * policies/schema.json, and does what its comments say on a small replay.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { CATALOGUE } from "../../../src/events/catalogue.ts";
import type { DetectionEvent, EventActor } from "../../../src/events/event.ts";
import { formatPolicyProblem, loadPolicyFiles } from "../../../src/policy/load.ts";
import type { Policy } from "../../../src/policy/policy.ts";
import { type SimulationRecord, simulate } from "../../../src/policy/simulate.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DEFAULT = join(ROOT, "policies", "default.yaml");
const EXAMPLES = join(ROOT, "policies", "examples");
const EXAMPLE_FILES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const SHIPPED = [DEFAULT, ...EXAMPLE_FILES.map((f) => join(EXAMPLES, f))];

const validateSchema = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(join(ROOT, "policies", "schema.json"), "utf8")),
);

function load(file: string): Policy {
  const result = loadPolicyFiles([file]);
  assert.ok(result.ok, result.ok ? "" : result.problems.map(formatPolicyProblem).join("\n"));
  assert.deepEqual(result.warnings.map(formatPolicyProblem), [], `${file} has warnings`);
  return result.policy;
}

const example = (name: string) => load(join(EXAMPLES, name));

const T0 = Date.parse("2026-11-22T03:00:00Z");

function event(
  detectionPoint: string,
  actor: Partial<EventActor>,
  secondsAfterT0: number,
  outcome: DetectionEvent["outcome"] = "attempt",
): DetectionEvent {
  return {
    detectionPoint,
    channel: "socket",
    outcome,
    time: T0 + secondsAfterT0 * 1000,
    actor: { ip: null, session: null, user: null, ...actor },
    request: null,
    detail: null,
    metadata: null,
  };
}

async function replay(policy: Policy, events: DetectionEvent[]): Promise<SimulationRecord[]> {
  const out: SimulationRecord[] = [];
  await simulate(policy, events, (r) => out.push(r));
  return out;
}

const ofType = (records: SimulationRecord[], type: string) => records.filter((r) => r.type === type);

describe("shipped policies", () => {
  it("ship the examples the docs name", () => {
    assert.deepEqual(EXAMPLE_FILES, [
      "honey-traps.yaml",
      "injection.yaml",
      "login-abuse.yaml",
      "scanners.yaml",
      "shadow-rollout.yaml",
    ]);
  });

  for (const file of SHIPPED) {
    const name = file.slice(ROOT.length);
    it(`${name} loads with no problem and no warning, and policies/schema.json accepts it`, () => {
      load(file);
      const valid = validateSchema(parse(readFileSync(file, "utf8")));
      assert.ok(valid, JSON.stringify(validateSchema.errors));
    });
  }
});

describe("policies/default.yaml", () => {
  const policy = load(DEFAULT);
  const configured = [...policy.detectionPoints.keys()];

  it("enforces at the top level", () => {
    assert.equal(policy.mode, "enforce");
  });

  it("configures at least one detection point of every category of the catalogue", () => {
    const categories = [...new Set(CATALOGUE.map((d) => d.category))];
    assert.equal(categories.length, 12);
    const covered = new Set(CATALOGUE.filter((d) => configured.includes(d.id)).map((d) => d.category));
    assert.deepEqual(
      categories.filter((c) => !covered.has(c)),
      [],
    );
  });

  it("switches on only the edge points ordinary traffic does not trip, and pages only for breaches", () => {
    assert.deepEqual(policy.edge.detect, ["RE2", "EE1", "CIE3", "IE1", "CIE1", "IE3"]);
    assert.deepEqual(policy.edge.routes, []);
    assert.deepEqual(policy.edge.honeyTraps, { routes: [], tokens: [] });
    const ladders = [...policy.detectionPoints.values(), ...policy.rules].flatMap((e) => e.responses);
    assert.deepEqual(
      ladders.filter((r) => r.action === "notify").map((r) => r.name),
      [],
    );
    assert.deepEqual(
      policy.breach.responses.map((r) => r.action),
      ["logout", "block", "notify"],
    );
    assert.match(policy.notify.get("ops")!.webhook, /\.invalid\//, "the webhook is a placeholder");
  });

  it("blocks a range for one address only after it came back, and answers site-wide counts site-wide", () => {
    for (const entry of [...policy.detectionPoints.values(), ...policy.rules]) {
      const name = "id" in entry ? entry.id : entry.name;
      // Counted per range, the range is the actor; counted per address, its neighbours are not.
      if (entry.per !== "range")
        assert.notEqual(entry.responses[0]!.scope, "range", `${name} starts with a range block`);
      if (entry.per === "global") {
        // An ip block on a global count would punish whoever sent the event that completed it.
        for (const r of entry.responses)
          assert.ok(r.scope === null || r.scope === "global", `${name}: ${r.name} on a global count`);
      }
    }
  });
});

describe("policies/examples/", () => {
  it("login-abuse: 10 failed logins from one address within a minute are throttled", async () => {
    const events = Array.from({ length: 10 }, (_, i) => event("AE2", { ip: "203.0.113.7" }, i * 6));
    const out = await replay(example("login-abuse.yaml"), events);
    assert.deepEqual(
      ofType(out, "attack").map((a) => [a.detectionPoint, a.actor, a.count, a.response]),
      [["AE2", { scope: "ip", value: "203.0.113.7" }, 1, "throttle-ip"]],
    );
    assert.deepEqual(
      ofType(out, "decision").map((d) => [d.action, d.scope, d.value, d.rate]),
      [["throttle", "ip", "203.0.113.7", "10/m"]],
    );
  });

  it("scanners: a /24 rotating its addresses gets a range block", async () => {
    // 30 addresses, one probe each: no address comes near its own threshold.
    const events = Array.from({ length: 30 }, (_, i) => event("ACE3", { ip: `198.51.100.${i + 1}` }, i * 5));
    const out = await replay(example("scanners.yaml"), events);
    assert.deepEqual(
      ofType(out, "attack").map((a) => [a.rule, a.actor, a.response]),
      [["sweep-from-one-range", { scope: "range", value: "198.51.100.0/24" }, "block-range"]],
    );
    assert.deepEqual(
      ofType(out, "decision").map((d) => [d.action, d.scope, d.value]),
      [["block", "range", "198.51.100.0/24"]],
    );
  });

  it("injection: force browsing then XSS from one address blocks its range", async () => {
    const ip = "192.0.2.44";
    const out = await replay(example("injection.yaml"), [event("ACE3", { ip }, 0), event("IE1", { ip }, 60)]);
    assert.deepEqual(
      ofType(out, "attack").map((a) => [a.rule, a.actor, a.response]),
      [["probe-then-inject", { scope: "ip", value: ip }, "block-ip"]],
    );
    // A signed-in attacker is counted as the account, whatever the address.
    const signedIn = await replay(
      example("injection.yaml"),
      [1, 2, 3].map((n) => event("IE1", { user: "mallory", ip: `192.0.2.${n}` }, n)),
    );
    assert.deepEqual(
      ofType(signedIn, "attack").map((a) => [a.detectionPoint, a.actor, a.response]),
      [["IE1", { scope: "user", value: "mallory" }, "log"]],
    );
  });

  it("honey-traps: a decoy used successfully is a breach, answered at once and paged", async () => {
    const actor = { ip: "203.0.113.66", session: "s-1", user: "backup_admin" };
    const out = await replay(example("honey-traps.yaml"), [event("HT3", actor, 0, "success")]);
    assert.deepEqual(
      out.map((r) => r.type),
      ["breach", "decision", "decision", "decision", "notify"],
    );
    assert.deepEqual(ofType(out, "breach")[0]!.actor, actor);
    assert.deepEqual(
      ofType(out, "decision").map((d) => [d.action, d.scope, d.value, d.origin]),
      [
        ["logout", "session", "s-1", "breach"],
        ["block", "user", "backup_admin", "breach"],
        ["block", "ip", "203.0.113.66", "breach"],
      ],
    );
    const notify = ofType(out, "notify")[0]!;
    assert.equal(notify.channel, "security");
    assert.equal((notify.incident as { outcome: string }).outcome, "success");
  });

  it("shadow-rollout: every attack, decision and breach is shadow", async () => {
    const ip = "198.51.100.9";
    const out = await replay(example("shadow-rollout.yaml"), [
      ...Array.from({ length: 10 }, (_, i) => event("AE2", { ip }, i)),
      event("ACE3", { ip }, 20),
      event("CIE1", { ip, user: "eve", session: "s-eve" }, 30),
      event("CIE1", { ip, user: "eve", session: "s-eve" }, 31),
      event("HT3", { ip, user: "eve", session: "s-eve" }, 40, "success"),
    ]);
    const attacks = ofType(out, "attack");
    const decisions = ofType(out, "decision");
    const breaches = ofType(out, "breach");
    assert.deepEqual(
      attacks.map((a) => a.detectionPoint ?? a.rule),
      ["AE2", "probe-then-inject", "CIE1"],
    );
    assert.ok(decisions.length >= 2 && breaches.length === 1);
    assert.deepEqual(
      [
        ...attacks.map((a) => a.mode),
        ...decisions.map((d) => (d.reason as { mode: string }).mode),
        ...breaches.map((b) => b.mode),
      ].filter((m) => m !== "shadow"),
      [],
    );
  });
});
