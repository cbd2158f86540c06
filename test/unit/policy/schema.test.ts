/**
 * policies/schema.json is generated from the format table the validator uses; these tests keep the
 * committed file equal to the generator's output, and check with an independent validator (Ajv)
 * that the schema accepts what the loader accepts and refuses what it refuses.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { detectionPointInfo } from "../../../src/events/catalogue.ts";
import { POLICY_FORMAT } from "../../../src/policy/format.ts";
import { EDGE_DETECTABLE } from "../../../src/policy/format-edge.ts";
import { response } from "../../../src/policy/format-responses.ts";
import { ACTIONS, POLICY_DEFAULTS } from "../../../src/policy/policy.ts";
import { duration } from "../../../src/policy/scalars.ts";
import { policySchema } from "../../../src/policy/schema.ts";
import type { ObjectShape } from "../../../src/policy/shape.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const SCHEMA_FILE = here("../../../policies/schema.json");
const VALID = here("../../policies/");
const INVALID = here("../../policies/invalid/");
/** Problems only the loader can see: names across files, response references. */
const LOADER_ONLY = new Set([
  "duplicate-across-files",
  "duplicate-rule-name",
  "incidents-twice",
  "unknown-response",
]);

// strictRequired off: `oneOf: [{required: [a]}, …]` names keys defined by the parent, as intended.
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(SCHEMA_FILE, "utf8")),
);
const accepts = (text: string) => validate(parse(text)) === true;

describe("policies/schema.json", () => {
  it("is what `npm run schema` generates from the format", () => {
    assert.deepEqual(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")), policySchema());
  });

  it("accepts the DESIGN example and every policy of test/policies/", () => {
    assert.ok(accepts(readFileSync(here("../../fixtures/policy/design-example.yaml"), "utf8")));
    const cases = readdirSync(VALID).filter((d) => existsSync(join(VALID, d, "policy.yaml")));
    assert.ok(cases.length > 0);
    for (const name of cases) {
      assert.ok(
        accepts(readFileSync(join(VALID, name, "policy.yaml"), "utf8")),
        `${name}: ${JSON.stringify(validate.errors)}`,
      );
    }
  });

  it("refuses every invalid policy of test/policies/invalid/ that YAML can parse, but those only the loader can judge", () => {
    for (const name of readdirSync(INVALID)) {
      let doc: unknown;
      try {
        doc = parse(readFileSync(join(INVALID, name, "policy.yaml"), "utf8"));
      } catch {
        continue; // syntax errors and duplicate keys: refused by the parser before any schema
      }
      assert.equal(validate(doc), LOADER_ONLY.has(name), name);
    }
  });

  it("refuses mistakes one at a time", () => {
    const base = "responses:\n  l: { action: log }\n";
    assert.ok(accepts(base));
    const refused = [
      "detectionPoints: { IE1: { threshold: { count: 3, within: 10m }, responses: [l], treshold: 1 } }",
      "detectionPoints: { IE1: { threshold: { count: 3, within: 5 minutes }, responses: [l] } }",
      "detectionPoints: { IE1: { threshold: { count: 3 }, responses: [l] } }",
      "detectionPoints: { IE9: { threshold: { count: 3, within: 1m }, responses: [l] } }",
      "rules: [{ name: r, within: 1m, any: [A], all: [B], responses: [l] }]",
      "rules: [{ name: r, within: 1m, sequence: [A], count: 2, responses: [l] }]",
      "breach: { responses: [l] }\nresponses: { b: { action: block, scope: ip, duration: 1h, rate: 1/s } }",
      "responses: { b: { action: block, scope: ip, prefix: { ipv4: 16 }, duration: 1h } }",
      "responses: { b: { action: logout, scope: user } }",
      "edge: { detect: [SE1] }",
    ];
    for (const text of refused) assert.equal(accepts(text), false, text);
    assert.ok(
      accepts("responses: { b: { action: block, scope: range, prefix: { ipv4: 16 }, duration: 1h } }"),
    );
  });
});

describe("the format table", () => {
  it("has one response variant per action", () => {
    assert.deepEqual(Object.keys(response.variants).sort(), [...ACTIONS].sort());
  });

  it("states the defaults of policy.ts", () => {
    const field = (shape: ObjectShape, key: string) => shape.fields[key]!;
    const escalation = field(POLICY_FORMAT, "escalation").shape as ObjectShape;
    const memory = duration.parse(field(escalation, "memory").default);
    assert.deepEqual(memory, { ok: true, value: POLICY_DEFAULTS.escalationMemoryMs });
    const block = response.variants.block!;
    const prefix = field(block, "prefix").shape as ObjectShape;
    assert.equal(field(prefix, "ipv4").default, POLICY_DEFAULTS.prefix.ipv4);
    assert.equal(field(prefix, "ipv6").default, POLICY_DEFAULTS.prefix.ipv6);
    assert.equal(field(response.variants.disable!, "status").default, POLICY_DEFAULTS.disableStatus);
  });

  it("lists only catalogue detection points as detectable at the edge", () => {
    assert.deepEqual(
      EDGE_DETECTABLE.filter((id) => !detectionPointInfo(id)),
      [],
    );
  });
});
