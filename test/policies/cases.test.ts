/**
 * Policy behaviour, as data (STYLE pattern 9): each folder here holds `policy.yaml`,
 * `events.ndjson` and `expected.ndjson`, replayed by event time through the same loader and
 * engine as `gatehouse simulate`. A new case is a new folder. `test/policies/invalid/` holds the
 * loader's refusals and has its own runner.
 *
 * GATEHOUSE_UPDATE_EXPECTED=1 rewrites expected.ndjson from the current output; read the diff
 * before committing it: the expected files are the specification.
 */
import assert from "node:assert/strict";
import { createReadStream, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readEvents } from "../../src/cli/simulate.ts";
import { formatPolicyProblem, loadPolicyFiles } from "../../src/policy/load.ts";
import { type SimulationRecord, simulate } from "../../src/policy/simulate.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const CASES = readdirSync(HERE, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(HERE, d.name, "policy.yaml")))
  .map((d) => d.name)
  .sort();

describe("policy cases (test/policies/<case>)", () => {
  it("has cases to run", () => {
    assert.ok(CASES.length >= 10, `found only ${CASES.length} cases`);
  });

  for (const name of CASES) {
    it(name, async () => {
      const dir = join(HERE, name);
      const loaded = loadPolicyFiles([join(dir, "policy.yaml")]);
      assert.ok(loaded.ok, loaded.ok ? "" : loaded.problems.map(formatPolicyProblem).join("\n"));
      const errors: string[] = [];
      const { events, refused } = await readEvents(
        createReadStream(join(dir, "events.ndjson")),
        "events.ndjson",
        (l) => errors.push(l),
      );
      assert.equal(refused, 0, errors.join("\n"));
      const output: SimulationRecord[] = [];
      await simulate(loaded.policy, events, (r) => output.push(r));
      const expectedFile = join(dir, "expected.ndjson");
      if (process.env.GATEHOUSE_UPDATE_EXPECTED === "1") {
        writeFileSync(expectedFile, output.map((r) => `${JSON.stringify(r)}\n`).join(""));
      }
      const expected = readFileSync(expectedFile, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as SimulationRecord);
      assert.deepEqual(output, expected);
    });
  }
});
