/**
 * The loader's refusals, as data (STYLE pattern 9): each folder of test/policies/invalid/ holds a
 * `policy.yaml` (and optionally `policy-*.yaml`, loaded after it in name order, for problems
 * across files) and `expected.txt`, the exact problem lines `gatehouse check` prints, with paths
 * relative to the folder. A new validation rule is a new folder.
 *
 * GATEHOUSE_UPDATE_EXPECTED=1 rewrites expected.txt from the current output; read the diff before
 * committing it: the expected files are the specification.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { formatPolicyProblem, loadPolicyFiles } from "../../../src/policy/load.ts";

const ROOT = fileURLToPath(new URL("../../policies/invalid/", import.meta.url));
const CASES = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

function policyFiles(dir: string): string[] {
  const extra = readdirSync(dir)
    .filter((f) => /^policy-.+\.yaml$/.test(f))
    .sort();
  return ["policy.yaml", ...extra].map((f) => join(dir, f));
}

describe("invalid policies (test/policies/invalid/<rule>)", () => {
  it("has a case for each validation rule", () => {
    assert.ok(CASES.length >= 30, `found only ${CASES.length} cases`);
  });

  for (const name of CASES) {
    it(name, () => {
      const dir = join(ROOT, name);
      const result = loadPolicyFiles(policyFiles(dir));
      assert.equal(result.ok, false, `${name}/policy.yaml was accepted`);
      const lines = result.ok
        ? []
        : result.problems.map((p) => formatPolicyProblem(p).replaceAll(`${dir}/`, ""));
      const expectedFile = join(dir, "expected.txt");
      if (process.env.GATEHOUSE_UPDATE_EXPECTED === "1") writeFileSync(expectedFile, `${lines.join("\n")}\n`);
      const expected = readFileSync(expectedFile, "utf8").trimEnd().split("\n");
      assert.deepEqual(lines, expected);
    });
  }
});
